//! What the builder needs from the store: commits without a parent (`FROM
//! scratch`), a separate image config, clamped layer times, children.

use berth_store::{CommitOptions, Store};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn upper_with_file(dir: &Path, mtime: i64) -> std::path::PathBuf {
    let upper = dir.join("upper");
    std::fs::create_dir_all(upper.join("d")).unwrap();
    let f = upper.join("d/f");
    std::fs::write(&f, b"content\n").unwrap();
    let ts = nix::sys::time::TimeSpec::new(mtime, 0);
    for p in [&f, &upper.join("d")] {
        nix::sys::stat::utimensat(
            None,
            p.as_path(),
            &ts,
            &ts,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
    upper
}

fn cmd_config(cmd: &str) -> berth_spec::api::ContainerConfig {
    berth_spec::api::ContainerConfig {
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), cmd.into()]),
        ..Default::default()
    }
}

#[test]
fn scratch_commit_clamped_times_and_children() {
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(&t.path().join("image")).unwrap();
    let image_config = berth_spec::api::ContainerConfig {
        env: Some(vec!["A=b".into()]),
        ..Default::default()
    };
    let opts = CommitOptions {
        config: cmd_config("#(nop) COPY x"),
        image_config: Some(image_config.clone()),
        created: Some("2023-11-14T22:13:20Z".into()),
        clamp_mtime: Some(1_700_000_000),
        ..CommitOptions::default()
    };
    // Two commits of equal content with different file times give one ID.
    let a = t.path().join("a");
    let b = t.path().join("b");
    let id1 = s
        .commit("", &upper_with_file(&a, 1_800_000_000), &opts)
        .unwrap();
    let id2 = s
        .commit("", &upper_with_file(&b, 1_900_000_000), &opts)
        .unwrap();
    assert_eq!(id1, id2);
    let cfg = s.config(&id1).unwrap();
    assert_eq!(cfg.parent, "");
    assert_eq!(cfg.rootfs.diff_ids.len(), 1);
    assert_eq!(cfg.config, Some(image_config));
    assert_eq!(cfg.container_config, Some(cmd_config("#(nop) COPY x")));
    assert_eq!(cfg.history[0].created_by, "/bin/sh -c #(nop) COPY x");
    // The layer's times were clamped (the unpacked layer has the tar's times).
    let dirs = s.layer_dirs(&id1).unwrap();
    for p in ["d", "d/f"] {
        let md = std::fs::symlink_metadata(dirs[0].join(p)).unwrap();
        assert_eq!(md.mtime(), 1_700_000_000, "{p}");
    }

    // A child without changes is an empty layer; children() finds it.
    let child_opts = CommitOptions {
        config: cmd_config("#(nop) ENV A=b"),
        ..CommitOptions::default()
    };
    let child = s
        .commit(&id1, &t.path().join("no-such-upper"), &child_opts)
        .unwrap();
    let cfg = s.config(&child).unwrap();
    assert!(cfg.history.last().unwrap().empty_layer);
    assert_eq!(cfg.rootfs.diff_ids.len(), 1);
    let kids = s.children(&id1).unwrap();
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].0, child);
    let roots = s.children("").unwrap();
    assert_eq!(
        roots.into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
        vec![id1]
    );
}
