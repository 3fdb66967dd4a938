//! The CLI restarts a dead daemon as it was started (its own data root, not the defaults), two
//! CLI calls that find it dead at once start one daemon, and a second daemon on the same socket
//! or data root refuses to start.
mod common;
use common::*;
use std::time::Duration;

/// The pid the daemon on `d`'s socket recorded in `<socket>.lock`.
fn recorded_pid(d: &Daemon) -> Option<u32> {
    let text = std::fs::read_to_string(format!("{}.lock", d.sock.display())).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["pid"].as_u64().map(|p| p as u32)
}

/// Daemons whose command line names `d`'s data root.
fn daemons_on(d: &Daemon) -> Vec<u32> {
    pids_with(&[" daemon ", &d.data_root.to_string_lossy()])
}

/// Removes the containers and stops the daemon the CLI started (the harness does not own it).
fn stop_autostarted(d: &Daemon) {
    let ids = d.run(&["ps", "-aq"]).lines();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        let _ = d.run(&args);
    }
    for pid in daemons_on(d) {
        signal(pid, libc::SIGTERM);
    }
    wait_until("autostarted daemon gone", Duration::from_secs(20), || {
        daemons_on(d).is_empty()
    });
}

#[test]
fn a_killed_daemon_comes_back_with_its_own_data_root() {
    if h().mode == Mode::Docker {
        eprintln!("berth daemon only; skipped");
        return;
    }
    let d = Daemon::with_busybox("autostart");
    let name = uname("survivor");
    d.run_d(&name, &[], &["sleep", "300"]).ok();
    d.kill9();
    // Two CLI calls find the socket dead at the same time.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| d.run(&["ps", "--format", "{{.Names}} {{.Status}}"]));
        let b = s.spawn(|| d.run(&["images", "-q"]));
        (a.join().expect("thread"), b.join().expect("thread"))
    });
    a.ok();
    b.ok();
    assert!(
        a.stdout.contains(&name) && a.stdout.contains("Up"),
        "the restarted daemon lost the container: {}",
        a.stdout
    );
    assert!(
        !b.stdout.trim().is_empty(),
        "the restarted daemon lost the image"
    );
    assert_eq!(
        daemons_on(&d).len(),
        1,
        "daemons on one data root: {:?}",
        daemons_on(&d)
    );
    assert_eq!(recorded_pid(&d), daemons_on(&d).first().copied());
    stop_autostarted(&d);
}

#[test]
fn a_second_daemon_on_the_same_socket_or_data_root_refuses() {
    if h().mode == Mode::Docker {
        eprintln!("berth daemon only; skipped");
        return;
    }
    let d = Daemon::new(&unique_tmp_dir("twice"));
    d.start();
    let other = unique_tmp_dir("twice-other");
    let other_root = other.join("data");
    let same_socket = run_cmd(
        &berth_exe(),
        &[
            "daemon",
            "-H",
            &d.host,
            "--data-root",
            path_str(&other_root),
            "--exec-root",
            path_str(&other.join("exec")),
        ],
        &[],
        None,
        Duration::from_secs(30),
    );
    assert_ne!(same_socket.code, 0, "{}", same_socket.describe());
    assert!(
        same_socket.stderr.contains("already running on"),
        "{}",
        same_socket.describe()
    );
    let other_sock = format!("unix://{}", other.join("s.sock").display());
    let same_root = run_cmd(
        &berth_exe(),
        &[
            "daemon",
            "-H",
            &other_sock,
            "--data-root",
            path_str(&d.data_root),
            "--exec-root",
            path_str(&other.join("exec")),
        ],
        &[],
        None,
        Duration::from_secs(30),
    );
    assert_ne!(same_root.code, 0, "{}", same_root.describe());
    assert!(
        same_root.stderr.contains("using the data root"),
        "{}",
        same_root.describe()
    );
    // The first daemon is untouched.
    d.run(&["ps"]).ok();
}
