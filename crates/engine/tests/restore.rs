//! Live restore from what is on disk: exits recorded while the daemon was
//! down, shims that died without a record, interrupted creates and removes.

use std::path::{Path, PathBuf};

use berth_engine::{ContainerRecord, Engine, EngineConfig, Status};

fn config(root: &Path) -> EngineConfig {
    EngineConfig {
        data_root: root.join("data"),
        exec_root: root.join("exec"),
        shim_exe: PathBuf::from("/nonexistent/berth"),
        daemon_log: None,
    }
}

fn write_record(root: &Path, id: &str, name: &str, status: Status) -> PathBuf {
    let dir = root.join("data/containers").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rec = ContainerRecord {
        id: id.to_string(),
        name: name.to_string(),
        path: "true".into(),
        image_id: "sha256:".to_string() + &"0".repeat(64),
        ..Default::default()
    };
    rec.state.status = status;
    rec.state.pid = 999_999;
    rec.state.started_at = Some(chrono::Utc::now());
    rec.save(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_while_down_are_recorded_and_leftovers_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let exited = "a".repeat(64);
    let died = "b".repeat(64);
    let created = "c".repeat(64);
    // Exited with 7 while the daemon was down.
    let dir = write_record(root, &exited, "exited7", Status::Running);
    let exit = berth_runtime::ExitInfo {
        exit_code: 7,
        oom_killed: false,
        finished_at: chrono::Utc::now(),
    };
    berth_runtime::write_exit(&dir, &exit).unwrap();
    // Running, but its shim is gone and left no exit record.
    write_record(root, &died, "died", Status::Running);
    // Never started.
    write_record(root, &created, "fresh", Status::Created);
    // An interrupted create (no record) and an interrupted remove (trash).
    let half = root.join("data/containers").join("d".repeat(64));
    std::fs::create_dir_all(half.join("upper")).unwrap();
    let trash = root.join("data/containers/.removed-x");
    std::fs::create_dir_all(trash.join("upper")).unwrap();

    let engine = Engine::open(config(root)).await.unwrap();

    let r = engine.record("exited7").unwrap();
    assert_eq!(r.state.status, Status::Exited);
    assert_eq!(r.state.exit_code, 7);
    assert_eq!(r.state.pid, 0);
    let r = engine.record("died").unwrap();
    assert_eq!(r.state.status, Status::Exited);
    assert_eq!(r.state.exit_code, 255);
    assert!(!r.state.error.is_empty());
    let r = engine.record("fresh").unwrap();
    assert_eq!(r.state.status, Status::Created);
    assert!(!half.exists(), "incomplete container dir must be removed");
    assert!(!trash.exists(), "trash must be removed");
    // The state was persisted: a second open sees the same.
    drop(engine);
    let engine = Engine::open(config(root)).await.unwrap();
    assert_eq!(engine.record("exited7").unwrap().state.exit_code, 7);
    assert_eq!(engine.container_counts(), (3, 0, 0, 3));
    // Prefix resolution and errors.
    assert_eq!(engine.resolve_container("aaaa").unwrap(), exited);
    assert_eq!(
        engine.resolve_container("nope").unwrap_err().message,
        "No such container: nope"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_and_rename_on_stopped_containers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let a = "e".repeat(64);
    let b = "f".repeat(64);
    write_record(root, &a, "first", Status::Exited);
    write_record(root, &b, "second", Status::Exited);
    let engine = Engine::open(config(root)).await.unwrap();
    let err = engine.rename("first", "second").await.unwrap_err();
    assert_eq!(err.status(), 409);
    assert!(err.message.contains("is already in use"), "{}", err.message);
    engine.rename("first", "third").await.unwrap();
    assert_eq!(engine.record("third").unwrap().id, a);
    let wait = engine
        .wait("third", berth_engine::WaitCondition::Removed)
        .unwrap();
    engine.remove("third", false, false).await.unwrap();
    let res = tokio::time::timeout(std::time::Duration::from_secs(5), wait)
        .await
        .unwrap();
    assert_eq!(res.status_code, 0);
    assert!(engine.record("third").is_err());
    assert!(!root.join("data/containers").join(&a).exists());
    let err = engine.kill("second", None).await.unwrap_err();
    assert_eq!(err.status(), 409);
    assert_eq!(
        err.message,
        format!("Cannot kill container: second: Container {b} is not running")
    );
    assert_eq!(engine.stop("second", None).await.unwrap_err().status(), 304);
}
