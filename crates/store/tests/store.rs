//! Store behaviour through its public API.

use berth_store::{CommitOptions, ImportOptions, Store, StoreError};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

const CREATED: &str = "2024-01-02T03:04:05.123456789Z";

/// A small rootfs tar: bin/sh (a script), etc/greeting, a symlink, a
/// hardlink, a directory.
fn rootfs_tar(greeting: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, name: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, std::io::empty()).unwrap();
    };
    dir(&mut b, "bin/");
    dir(&mut b, "etc/");
    let file = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data).unwrap();
    };
    file(&mut b, "bin/sh", b"#!fake shell\n", 0o755);
    file(&mut b, "etc/greeting", greeting.as_bytes(), 0o644);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mtime(1_700_000_000);
    b.append_link(&mut h, "bin/ash", "sh").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    h.set_mtime(1_700_000_000);
    b.append_link(&mut h, "etc/greeting2", "etc/greeting")
        .unwrap();
    b.into_inner().unwrap()
}

fn opts(tag: Option<&str>) -> ImportOptions {
    ImportOptions {
        tag: tag.map(str::to_string),
        created: Some(CREATED.into()),
        ..ImportOptions::default()
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(&t.path().join("image")).unwrap();
    (t, s)
}

fn no_containers(_: &str) -> Option<String> {
    None
}

/// Commit an upper dir holding `etc/new` ("new\n") on top of `base`.
fn commit_etc_new(s: &Store, base: &str, opts: &CommitOptions) -> String {
    let t = tempfile::tempdir().unwrap();
    let upper = t.path().join("upper");
    std::fs::create_dir_all(upper.join("etc")).unwrap();
    std::fs::write(upper.join("etc/new"), b"new\n").unwrap();
    s.commit(base, &upper, opts).unwrap()
}

/// `docker save` of `names`, into memory.
fn save(s: &Store, names: &[&str]) -> Vec<u8> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut archive = Vec::new();
    s.save(&names, &mut archive).unwrap();
    archive
}

/// `docker load` of `archive`: the image IDs and the progress lines.
fn load(s: &Store, archive: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let ids = s.load(archive, &mut |l| lines.push(l.to_string())).unwrap();
    (ids, lines)
}

#[test]
fn import_gives_a_stable_id_and_docker_shaped_metadata() {
    let (_t, s) = store();
    let tar = rootfs_tar("hello\n");
    let id = s.import_rootfs(&tar[..], &opts(Some("bb"))).unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let again = s.import_rootfs(&tar[..], &opts(None)).unwrap();
    assert_eq!(id, again);
    // Another store, same bytes and options: same ID.
    let (_t2, s2) = store();
    assert_eq!(s2.import_rootfs(&tar[..], &opts(None)).unwrap(), id);
    // A different message: a different image.
    let other = ImportOptions {
        message: "m".into(),
        ..opts(None)
    };
    assert_ne!(s.import_rootfs(&tar[..], &other).unwrap(), id);

    assert_eq!(s.resolve("bb").unwrap(), id);
    assert_eq!(s.resolve("bb:latest").unwrap(), id);
    assert_eq!(s.resolve("docker.io/library/bb:latest").unwrap(), id);
    assert_eq!(s.resolve(&id).unwrap(), id);
    assert_eq!(s.resolve(&id[7..]).unwrap(), id);
    let inspect = s.inspect("bb").unwrap();
    assert_eq!(inspect.id, id);
    assert_eq!(inspect.repo_tags, ["bb:latest"]);
    assert_eq!(inspect.comment, "Imported from -");
    assert_eq!(inspect.created, CREATED);
    assert_eq!(inspect.os, "linux");
    assert_eq!(inspect.root_fs.kind, "layers");
    assert_eq!(inspect.root_fs.layers.len(), 1);
    // Regular file sizes + symlink target length, hardlink once.
    assert_eq!(inspect.size, (13 + 6 + 2) as i64);
    assert_ne!(inspect.metadata.last_tag_time, "0001-01-01T00:00:00Z");
    let hist = s.history("bb").unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].id, id);
    assert_eq!(
        hist[0].tags.as_deref(),
        Some(&["bb:latest".to_string()][..])
    );
    assert_eq!(hist[0].comment, "Imported from -");

    let dirs = s.layer_dirs(&id).unwrap();
    assert_eq!(dirs.len(), 1);
    assert_eq!(
        std::fs::read(dirs[0].join("etc/greeting")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        std::fs::metadata(dirs[0].join("etc/greeting2"))
            .unwrap()
            .nlink(),
        2
    );
    assert_eq!(
        std::fs::read_link(dirs[0].join("bin/ash")).unwrap(),
        Path::new("sh")
    );
}

#[test]
fn changes_apply_and_bad_ones_fail_before_reading() {
    let (_t, s) = store();
    let o = ImportOptions {
        changes: vec!["CMD echo hi".into(), "ENV A=1".into(), "WORKDIR /w".into()],
        ..opts(Some("c:1"))
    };
    let id = s.import_rootfs(&rootfs_tar("x")[..], &o).unwrap();
    let cfg = s.config(&id).unwrap().config.unwrap();
    assert_eq!(cfg.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
    assert_eq!(cfg.env.unwrap(), ["A=1"]);
    assert_eq!(cfg.working_dir, "/w");
    let bad = ImportOptions {
        changes: vec!["RUN x".into()],
        ..opts(None)
    };
    let err = s.import_rootfs(&rootfs_tar("x")[..], &bad).unwrap_err();
    assert_eq!(err.to_string(), "run is not a valid change command");
    let err = s
        .import_rootfs(&rootfs_tar("x")[..], &opts(Some("Bad")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid reference format: repository name must be lowercase"
    );
    assert!(err.is_invalid_input());
}

#[test]
fn unknown_names_give_dockers_message() {
    let (_t, s) = store();
    let e = s.resolve("busybox").unwrap_err();
    assert_eq!(e.to_string(), "No such image: busybox:latest");
    assert!(e.is_not_found());
    assert_eq!(
        s.resolve("ns/x:1").unwrap_err().to_string(),
        "No such image: ns/x:1"
    );
    let hex = "a".repeat(64);
    assert_eq!(
        s.resolve(&hex).unwrap_err().to_string(),
        format!("No such image: sha256:{hex}")
    );
    assert!(s.resolve("UPPER").unwrap_err().is_invalid_input());
}

#[test]
fn id_prefixes_resolve_when_unique() {
    let (_t, s) = store();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            s.import_rootfs(&rootfs_tar(&format!("v{i}"))[..], &opts(None))
                .unwrap(),
        );
    }
    for id in &ids {
        let hex = &id[7..];
        assert_eq!(s.resolve(&hex[..12]).unwrap(), *id);
        assert_eq!(s.resolve(&format!("sha256:{}", &hex[..12])).unwrap(), *id);
    }
    // Among 20 IDs some single hex digit is shared: ambiguous -> not found.
    let first: Vec<char> = ids.iter().map(|i| i.as_bytes()[7] as char).collect();
    let dup = first
        .iter()
        .find(|c| first.iter().filter(|d| d == c).count() > 1)
        .unwrap();
    assert!(s.resolve(&dup.to_string()).unwrap_err().is_not_found());
}

#[test]
fn save_then_load_into_another_store_keeps_ids_layers_and_tags() {
    let (_t, a) = store();
    let base = a
        .import_rootfs(&rootfs_tar("base\n")[..], &opts(Some("base:1")))
        .unwrap();
    // A second image on top, by commit.
    let child = commit_etc_new(
        &a,
        &base,
        &CommitOptions {
            container_id: "c".repeat(64),
            comment: "added".into(),
            tag: Some("child:2".into()),
            created: Some(CREATED.into()),
            ..CommitOptions::default()
        },
    );
    let archive = save(&a, &["child:2", "base:1"]);

    let (_t2, b) = store();
    let (ids, lines) = load(&b, &archive);
    assert_eq!(ids, [child.clone(), base.clone()]);
    assert_eq!(lines, ["Loaded image: child:2", "Loaded image: base:1"]);
    assert_eq!(b.resolve("child:2").unwrap(), child);
    assert_eq!(
        b.inspect(&child).unwrap().root_fs.layers,
        a.inspect(&child).unwrap().root_fs.layers
    );
    let dirs = b.layer_dirs(&child).unwrap();
    assert_eq!(dirs.len(), 2);
    assert_eq!(std::fs::read(dirs[1].join("etc/new")).unwrap(), b"new\n");
    assert_eq!(
        std::fs::read(dirs[0].join("etc/greeting")).unwrap(),
        b"base\n"
    );
    // Saving again from the loaded store gives byte-identical layers.
    assert_eq!(save(&b, &["child:2", "base:1"]), archive);
    // Loading again: the same images, tags unchanged.
    let (_, lines) = load(&b, &archive);
    assert_eq!(lines, ["Loaded image: child:2", "Loaded image: base:1"]);
    // An untagged image loads as an ID.
    let by_id = save(&a, &[&base]);
    let (_t3, c) = store();
    let (_, lines) = load(&c, &by_id);
    assert_eq!(lines, [format!("Loaded image ID: {base}")]);
}

#[test]
fn load_reports_a_moved_tag() {
    let (_t, a) = store();
    let one = a
        .import_rootfs(&rootfs_tar("1")[..], &opts(Some("x:1")))
        .unwrap();
    let archive = save(&a, &["x:1"]);
    let (_t2, b) = store();
    let other = b
        .import_rootfs(&rootfs_tar("2")[..], &opts(Some("x:1")))
        .unwrap();
    let (_, lines) = load(&b, &archive);
    assert_eq!(
        lines,
        [
            format!("The image x:1 already exists, renaming the old one with ID {other} to empty string"),
            "Loaded image: x:1".to_string()
        ]
    );
    assert_eq!(b.resolve("x:1").unwrap(), one);
}

#[test]
fn corrupt_layers_are_detected_on_save() {
    let (_t, s) = store();
    let id = s
        .import_rootfs(&rootfs_tar("hello\n")[..], &opts(Some("bb")))
        .unwrap();
    let dir = &s.layer_dirs(&id).unwrap()[0];
    std::fs::write(dir.join("etc/greeting"), b"HELLO\n").unwrap();
    let err = s
        .save(&["bb".into()], std::io::sink())
        .unwrap_err()
        .to_string();
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn bad_archives_are_rejected_and_leave_nothing() {
    let (t, s) = store();
    let err = s.load(&b"garbage garbage"[..], &mut |_| {}).unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    // A valid tar without a manifest.
    let err = s
        .load(&rootfs_tar("x")[..], &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("manifest.json"), "{err}");
    assert!(s.list(true).unwrap().is_empty());
    let layers: Vec<_> = std::fs::read_dir(t.path().join("image/layers"))
        .unwrap()
        .collect();
    assert!(layers.is_empty(), "{layers:?}");
}

#[test]
fn an_interrupted_import_leaves_nothing_visible() {
    struct Failing<'a>(&'a [u8], usize);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1 >= self.0.len() / 2 {
                return Err(std::io::Error::other("connection reset"));
            }
            let n = buf.len().min(self.0.len() / 2 - self.1).min(700);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }
    let (t, s) = store();
    let tar = rootfs_tar(&"y".repeat(100_000));
    assert!(s
        .import_rootfs(Failing(&tar, 0), &opts(Some("half")))
        .is_err());
    assert!(s.list(true).unwrap().is_empty());
    assert!(s.resolve("half").is_err());
    let count = |d: &str| {
        std::fs::read_dir(t.path().join("image").join(d))
            .unwrap()
            .count()
    };
    assert_eq!(
        (count("layers"), count("images"), count("blobs/sha256")),
        (0, 0, 0)
    );
    // Reopening finds an empty store too.
    let s2 = Store::open(&t.path().join("image")).unwrap();
    assert!(s2.list(true).unwrap().is_empty());
}

#[test]
fn rmi_follows_dockers_rules() {
    let (t, s) = store();
    let id = s
        .import_rootfs(&rootfs_tar("x")[..], &opts(Some("a:1")))
        .unwrap();
    s.tag(&id, "b:2").unwrap();
    let short = &id[7..19];
    // Two tags: removing by name untags only.
    let r = s.remove("a:1", false, &no_containers).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].untagged.as_deref(), Some("a:1"));
    s.tag(&id, "a:1").unwrap();
    // By ID with two tags: must force.
    let e = s.remove(short, false, &no_containers).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")
    );
    assert!(e.is_conflict());
    // A container uses it: the last tag cannot go without force.
    s.remove("b:2", false, &no_containers).unwrap();
    let used = |_: &str| Some("abc123abc123".to_string());
    let e = s.remove("a:1", false, &used).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to remove repository reference \"a:1\" (must force) - container abc123abc123 is using its referenced image {short}")
    );
    let e = s.remove(&id, false, &used).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is being used by stopped container abc123abc123")
    );
    // A running container: even force cannot delete it.
    let e = s.remove_with(&id, true, &used, &used).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (cannot be forced) - image is being used by running container abc123abc123")
    );
    // Forced with a stopped container: untagged, "deleted", layers kept.
    let r = s.remove(&id, true, &used).unwrap();
    assert_eq!(r[0].untagged.as_deref(), Some("a:1"));
    assert_eq!(r[1].deleted.as_deref(), Some(id.as_str()));
    assert!(s.resolve(&id[7..19]).is_err());
    assert!(s.list(true).unwrap().is_empty());
    let dirs = s.layer_dirs(&id).unwrap();
    assert!(
        dirs[0].join("bin/sh").exists(),
        "the container still needs its layers"
    );
    // Once no container uses it, prune removes it for good.
    s.prune(false, &|_| false).unwrap();
    assert!(s.layer_dirs(&id).is_err());
    assert_eq!(
        std::fs::read_dir(t.path().join("image/layers"))
            .unwrap()
            .count(),
        0
    );

    // Plain delete: Untagged, Deleted image, Deleted layer.
    let id = s
        .import_rootfs(&rootfs_tar("z")[..], &opts(Some("z")))
        .unwrap();
    let r = s.remove("z", false, &no_containers).unwrap();
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[0].untagged.as_deref(), Some("z:latest"));
    assert_eq!(r[1].deleted.as_deref(), Some(id.as_str()));
    assert!(r[2].deleted.as_deref().unwrap().starts_with("sha256:"));
    assert_eq!(
        s.remove("z", false, &no_containers)
            .unwrap_err()
            .to_string(),
        "No such image: z:latest"
    );
}

#[test]
fn children_block_removal_and_layers_are_shared() {
    let (_t, s) = store();
    let base = s
        .import_rootfs(&rootfs_tar("x")[..], &opts(Some("base")))
        .unwrap();
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("f"), b"1").unwrap();
    let child = s
        .commit("base", t.path(), &CommitOptions::default())
        .unwrap();
    assert_eq!(s.inspect(&child).unwrap().parent, base);
    let e = s
        .remove(&base, true, &no_containers)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("(cannot be forced) - image has dependent child images"),
        "{e}"
    );
    // Untagging the base is fine; the child still has both layers.
    s.remove("base", false, &no_containers).unwrap();
    assert_eq!(s.layer_dirs(&child).unwrap().len(), 2);
    // Intermediate images are hidden from `images` but not from `images -a`.
    assert_eq!(s.list(false).unwrap().len(), 1);
    assert_eq!(s.list(true).unwrap().len(), 2);
    // Removing the child prunes the untagged parent too.
    let r = s.remove(&child, false, &no_containers).unwrap();
    let deleted: Vec<_> = r.iter().filter_map(|i| i.deleted.clone()).collect();
    assert!(deleted.contains(&child) && deleted.contains(&base), "{r:?}");
    assert!(s.list(true).unwrap().is_empty());
}

#[test]
fn commit_converts_whiteouts_and_opaque_dirs() {
    let (_t, s) = store();
    let base = s.import_rootfs(&rootfs_tar("x")[..], &opts(None)).unwrap();
    let t = tempfile::tempdir().unwrap();
    let upper = t.path();
    std::fs::create_dir_all(upper.join("etc")).unwrap();
    xattr::set(upper.join("etc"), "trusted.overlay.opaque", b"y").unwrap();
    std::fs::write(upper.join("etc/only"), b"o").unwrap();
    std::fs::create_dir_all(upper.join("bin")).unwrap();
    nix_mknod(&upper.join("bin/ash"));
    std::fs::write(upper.join("hostname"), b"skip me").unwrap();
    let id = s
        .commit(
            &base,
            upper,
            &CommitOptions {
                changes: vec!["USER nobody".into()],
                config: berth_spec::api::ContainerConfig {
                    cmd: Some(vec!["/bin/sh".into(), "-c".into(), "make".into()]),
                    ..Default::default()
                },
                author: "me".into(),
                comment: "msg".into(),
                exclude: vec!["hostname".into()],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let cfg = s.config(&id).unwrap();
    assert_eq!(cfg.config.as_ref().unwrap().user, "nobody");
    assert_eq!(cfg.container_config.as_ref().unwrap().user, "");
    assert_eq!(cfg.author, "me");
    assert_eq!(cfg.history.last().unwrap().created_by, "/bin/sh -c make");
    let dirs = s.layer_dirs(&id).unwrap();
    let top = &dirs[1];
    let m = std::fs::symlink_metadata(top.join("bin/ash")).unwrap();
    assert!(m.file_type().is_char_device() && m.rdev() == 0);
    assert_eq!(
        xattr::get(top.join("etc"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert!(!top.join("hostname").exists());
    // The saved layer tar carries the whiteouts in tar form.
    let files = archive_files(&save(&s, &[&id]));
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let top = manifest[0]["Layers"][1].as_str().unwrap();
    let mut names = Vec::new();
    for le in tar::Archive::new(&files[top][..]).entries().unwrap() {
        names.push(le.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(names.contains(&"bin/.wh.ash".to_string()), "{names:?}");
    assert!(names.contains(&"etc/.wh..wh..opq".to_string()), "{names:?}");
    // History: base entry + commit entry, newest first.
    let h = s.history(&id).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].id, id);
    assert_eq!(h[0].comment, "msg");
    assert_eq!(h[1].id, base);
}

fn nix_mknod(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid C string for the duration of the call.
    assert_eq!(unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) }, 0);
}

#[test]
fn concurrent_tagging_is_safe_and_durable() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("image");
    let s = Arc::new(Store::open(&root).unwrap());
    let id = s.import_rootfs(&rootfs_tar("x")[..], &opts(None)).unwrap();
    let mut handles = Vec::new();
    for th in 0..8 {
        let s = Arc::clone(&s);
        let id = id.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..10 {
                s.tag(&id, &format!("t{th}:{i}")).unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(s.repo_tags(&id).unwrap().len(), 80);
    drop(s);
    let reopened = Store::open(&root).unwrap();
    assert_eq!(reopened.repo_tags(&id).unwrap().len(), 80);
    assert_eq!(reopened.resolve("t7:9").unwrap(), id);
}

#[test]
fn prune_removes_dangling_then_unused() {
    let (_t, s) = store();
    let keep = s
        .import_rootfs(&rootfs_tar("k")[..], &opts(Some("keep")))
        .unwrap();
    let dangling = s.import_rootfs(&rootfs_tar("d")[..], &opts(None)).unwrap();
    let used = s
        .import_rootfs(&rootfs_tar("u")[..], &opts(Some("used")))
        .unwrap();
    let r = s.prune(false, &|_| false).unwrap();
    let del: Vec<_> = r
        .images_deleted
        .unwrap()
        .into_iter()
        .filter_map(|i| i.deleted)
        .collect();
    assert!(del.contains(&dangling) && !del.contains(&keep));
    assert!(r.space_reclaimed > 0);
    let in_use = |id: &str| id == used;
    let r = s.prune(true, &in_use).unwrap();
    let items = r.images_deleted.unwrap();
    assert!(items
        .iter()
        .any(|i| i.untagged.as_deref() == Some("keep:latest")));
    assert_eq!(s.list(true).unwrap().len(), 1);
    assert_eq!(s.resolve("used").unwrap(), used);
    assert!(matches!(s.resolve("keep"), Err(StoreError::NoSuchImage(_))));
}

#[test]
fn gzip_input_is_accepted() {
    let (_t, s) = store();
    let tar = rootfs_tar("gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();
    let a = s.import_rootfs(&gz[..], &opts(None)).unwrap();
    let b = s.import_rootfs(&tar[..], &opts(None)).unwrap();
    assert_eq!(a, b, "the layer is the uncompressed tar");
}

/// Every regular file of a tar, by path.
fn archive_files(archive: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for e in tar::Archive::new(archive).entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let p = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            assert!(out.insert(p.clone(), data).is_none(), "{p} stored twice");
        }
    }
    out
}

fn sha(b: &[u8]) -> String {
    berth_spec::digest::Digest::of_bytes(b).to_string()
}

fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, name, data).unwrap();
}

/// An OCI image layout with a gzip layer, as `skopeo`/buildkit write it.
fn oci_layout(blob_override: Option<&[u8]>) -> (Vec<u8>, String) {
    let layer = rootfs_tar("oci\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &layer).unwrap();
    let gz = gz.finish().unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","config":{{"Cmd":["/bin/sh"]}},"created":"{CREATED}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha(&layer)
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        sha(config.as_bytes()),
        config.len(),
        sha(&gz),
        gz.len()
    );
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"annotations":{{"io.containerd.image.name":"docker.io/library/oci:1","org.opencontainers.image.ref.name":"1"}}}}]}}"#,
        sha(manifest.as_bytes()),
        manifest.len()
    );
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add(&mut b, "index.json", index.as_bytes());
    let blob = |d: &[u8]| format!("blobs/sha256/{}", &sha(d)[7..]);
    add(&mut b, &blob(manifest.as_bytes()), manifest.as_bytes());
    add(&mut b, &blob(config.as_bytes()), config.as_bytes());
    add(&mut b, &blob(&gz), blob_override.unwrap_or(&gz));
    (b.into_inner().unwrap(), sha(config.as_bytes()))
}

#[test]
fn oci_layouts_load_with_compressed_layers() {
    let (_t, s) = store();
    let (archive, id) = oci_layout(None);
    let (ids, lines) = load(&s, &archive);
    assert_eq!(ids.as_slice(), std::slice::from_ref(&id));
    assert_eq!(lines, ["Loaded image: oci:1"]);
    assert_eq!(s.resolve("oci:1").unwrap(), id);
    let dirs = s.layer_dirs(&id).unwrap();
    assert_eq!(
        std::fs::read(dirs[0].join("etc/greeting")).unwrap(),
        b"oci\n"
    );
    assert_eq!(
        s.config(&id).unwrap().config.unwrap().cmd.unwrap(),
        ["/bin/sh"]
    );
    // It saves as a docker-archive that loads back to the same image.
    let saved = save(&s, &["oci:1"]);
    let (_t2, s2) = store();
    assert_eq!(load(&s2, &saved).0, [id]);
}

#[test]
fn oci_blobs_are_verified() {
    let (t, s) = store();
    let (archive, _) = oci_layout(Some(b"not the right content"));
    let err = s.load(&archive[..], &mut |_| {}).unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert!(s.list(true).unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(t.path().join("image/layers"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn images_list_has_dockers_placeholders() {
    let (_t, s) = store();
    s.import_rootfs(&rootfs_tar("a")[..], &opts(Some("a")))
        .unwrap();
    s.import_rootfs(&rootfs_tar("b")[..], &opts(None)).unwrap();
    let list = s.list(false).unwrap();
    let tagged = list
        .iter()
        .find(|i| i.repo_tags.as_deref() == Some(&["a:latest".to_string()][..]))
        .unwrap();
    assert_eq!(tagged.repo_digests, None);
    assert_eq!(tagged.containers, -1);
    let none = list
        .iter()
        .find(|i| i.repo_tags.as_deref() == Some(&["<none>:<none>".to_string()][..]))
        .unwrap();
    assert_eq!(
        none.repo_digests.as_deref(),
        Some(&["<none>@<none>".to_string()][..])
    );
}

#[test]
fn reopening_collects_what_a_crash_left_behind() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("image");
    let s = Store::open(&root).unwrap();
    let id = s
        .import_rootfs(&rootfs_tar("kept")[..], &opts(Some("kept")))
        .unwrap();
    drop(s);
    // A layer and a config blob written before a crash, without a record;
    // temp files of interrupted writes.
    let orphan = "b".repeat(64);
    std::fs::create_dir_all(root.join("layers").join(&orphan).join("diff")).unwrap();
    std::fs::write(root.join("blobs/sha256").join("c".repeat(64)), b"{}").unwrap();
    std::fs::write(root.join("blobs/sha256/.tmp-blob-1"), b"partial").unwrap();
    std::fs::create_dir_all(root.join("layers/.tmp-layer-1/diff")).unwrap();
    std::fs::write(root.join(".tmp-w-1"), b"{").unwrap();
    let s = Store::open(&root).unwrap();
    assert!(!root.join("layers").join(&orphan).exists());
    assert!(!root.join("blobs/sha256").join("c".repeat(64)).exists());
    assert!(!root.join("blobs/sha256/.tmp-blob-1").exists());
    assert!(!root.join("layers/.tmp-layer-1").exists());
    assert!(!root.join(".tmp-w-1").exists());
    // The real image is untouched.
    assert_eq!(s.resolve("kept").unwrap(), id);
    save(&s, &["kept"]);
}

/// The layout newer dockers write: manifest.json pointing into blobs/.
fn docker25_archive() -> (Vec<u8>, String) {
    let layer = rootfs_tar("d25\n");
    let config = format!(
        r#"{{"architecture":"amd64","created":"{CREATED}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha(&layer)
    );
    let blob = |d: &[u8]| format!("blobs/sha256/{}", &sha(d)[7..]);
    let manifest = format!(
        r#"[{{"Config":"{}","RepoTags":["d25:1"],"Layers":["{}"]}}]"#,
        blob(config.as_bytes()),
        blob(&layer)
    );
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, &blob(&layer), &layer);
    add(&mut b, &blob(config.as_bytes()), config.as_bytes());
    add(&mut b, "manifest.json", manifest.as_bytes());
    (b.into_inner().unwrap(), sha(config.as_bytes()))
}

#[test]
fn newer_docker_archives_load_and_present_layers_are_not_unpacked_again() {
    let (_t, s) = store();
    let (archive, id) = docker25_archive();
    assert_eq!(load(&s, &archive).0, vec![id.clone()]);
    let dir = s.layer_dirs(&id).unwrap().remove(0);
    let ino = std::fs::metadata(dir.join("etc/greeting")).unwrap().ino();
    let (ids, lines) = load(&s, &archive);
    assert_eq!(ids, vec![id.clone()]);
    assert_eq!(lines, ["Loaded image: d25:1"]);
    assert_eq!(
        std::fs::metadata(dir.join("etc/greeting")).unwrap().ino(),
        ino
    );
    assert_eq!(std::fs::read(dir.join("etc/greeting")).unwrap(), b"d25\n");
}

#[test]
fn import_without_a_time_is_dated_by_its_newest_file_and_stable() {
    let tar = rootfs_tar("hello\n");
    let untimed = ImportOptions::default();
    let (_t, s) = store();
    let id = s.import_rootfs(&tar[..], &untimed).unwrap();
    let (_t2, s2) = store();
    assert_eq!(s2.import_rootfs(&tar[..], &untimed).unwrap(), id);
    let created = s.inspect(&id).unwrap().created;
    // 1_700_000_000 is 2023-11-14T22:13:20Z, the mtime of every entry.
    assert_eq!(created, "2023-11-14T22:13:20Z");
}

/// Two images on a shared base layer: base:1 (imported, also tagged
/// base:latest) and child:2 (committed on top).
fn two_images(a: &Store) -> (String, String) {
    let base = a
        .import_rootfs(&rootfs_tar("base\n")[..], &opts(Some("base:1")))
        .unwrap();
    a.tag(&base, "base:latest").unwrap();
    let child = commit_etc_new(
        a,
        &base,
        &CommitOptions {
            container_id: "c".repeat(64),
            tag: Some("child:2".into()),
            created: Some(CREATED.into()),
            ..CommitOptions::default()
        },
    );
    (base, child)
}

/// A copy of `archive` without the entries `drop` selects.
fn without(archive: &[u8], drop: &[&str]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in tar::Archive::new(archive).entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if drop.contains(&p.as_str()) {
            continue;
        }
        let mut h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        b.append_data(&mut h, &p, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

#[test]
fn save_writes_a_docker_archive_that_is_also_an_oci_layout() {
    let (_t, a) = store();
    let (base, child) = two_images(&a);
    let base_cfg = a.config(&base).unwrap();
    let child_cfg = a.config(&child).unwrap();
    let shared = base_cfg.rootfs.diff_ids[0].clone();
    assert_eq!(child_cfg.rootfs.diff_ids[0], shared);

    let archive = save(&a, &["child:2", "base"]);
    // archive_files fails on any path stored twice.
    let files = archive_files(&archive);
    let shared_path = format!("blobs/sha256/{}", shared.hex());
    let copies = tar::Archive::new(&archive[..])
        .entries()
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().unwrap().to_string_lossy() == shared_path.as_str())
        .count();
    assert_eq!(copies, 1, "the shared layer is stored once");
    // No legacy per-layer directories, nothing outside the two layouts.
    for p in files.keys() {
        assert!(
            p.starts_with("blobs/sha256/")
                || ["oci-layout", "index.json", "manifest.json", "repositories"]
                    .contains(&p.as_str()),
            "unexpected entry {p}"
        );
    }
    // Blobs are named by the sha256 of their bytes.
    for (p, data) in &files {
        if let Some(hex) = p.strip_prefix("blobs/sha256/") {
            assert_eq!(sha(data), format!("sha256:{hex}"), "{p}");
        }
    }
    // 2 layers + 2 configs + 2 manifests.
    assert_eq!(files.keys().filter(|p| p.starts_with("blobs/")).count(), 6);
    assert_eq!(
        json(&files["oci-layout"]),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );

    // manifest.json: the docker-archive view, pointing into blobs/.
    let m = json(&files["manifest.json"]);
    assert_eq!(m.as_array().unwrap().len(), 2);
    assert_eq!(
        m[0]["Config"],
        format!("blobs/sha256/{}", &child[7..]).as_str()
    );
    assert_eq!(m[0]["RepoTags"], serde_json::json!(["child:2"]));
    let layers: Vec<String> = child_cfg
        .rootfs
        .diff_ids
        .iter()
        .map(|d| format!("blobs/sha256/{}", d.hex()))
        .collect();
    assert_eq!(m[0]["Layers"], serde_json::json!(layers));
    assert_eq!(
        m[1]["Config"],
        format!("blobs/sha256/{}", &base[7..]).as_str()
    );
    let mut tags: Vec<String> = serde_json::from_value(m[1]["RepoTags"].clone()).unwrap();
    tags.sort();
    assert_eq!(tags, ["base:1", "base:latest"]);
    let repos = json(&files["repositories"]);
    assert_eq!(repos["base"]["1"], shared.hex());
    assert_eq!(repos["child"]["2"], child_cfg.rootfs.diff_ids[1].hex());

    // index.json: one descriptor per reference, each to its image's
    // manifest; the manifest names the config and the layer blobs.
    let idx = json(&files["index.json"]);
    assert_eq!(idx["schemaVersion"], 2);
    assert_eq!(idx["mediaType"], "application/vnd.oci.image.index.v1+json");
    let ms = idx["manifests"].as_array().unwrap();
    assert_eq!(ms.len(), 3);
    let mut names = Vec::new();
    for d in ms {
        assert_eq!(d["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        let hex = &d["digest"].as_str().unwrap()[7..];
        let blob = &files[&format!("blobs/sha256/{hex}")];
        assert_eq!(d["size"], blob.len());
        let a = &d["annotations"];
        let name = a["io.containerd.image.name"].as_str().unwrap().to_string();
        let tag = a["org.opencontainers.image.ref.name"].as_str().unwrap();
        assert!(name.ends_with(&format!(":{tag}")), "{name} {tag}");
        let mf = json(blob);
        assert_eq!(mf["schemaVersion"], 2);
        assert_eq!(
            mf["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            mf["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        let cfg_hex = &mf["config"]["digest"].as_str().unwrap()[7..];
        assert_eq!(
            mf["config"]["size"],
            files[&format!("blobs/sha256/{cfg_hex}")].len()
        );
        let want = if name.contains("child") {
            &child
        } else {
            &base
        };
        assert_eq!(format!("sha256:{cfg_hex}"), *want);
        let cfg = a_config_diffs(&files[&format!("blobs/sha256/{cfg_hex}")]);
        let ls = mf["layers"].as_array().unwrap();
        assert_eq!(ls.len(), cfg.len());
        for (l, diff) in ls.iter().zip(&cfg) {
            assert_eq!(l["mediaType"], "application/vnd.oci.image.layer.v1.tar");
            assert_eq!(l["digest"], diff.as_str());
            assert_eq!(
                l["size"],
                files[&format!("blobs/sha256/{}", &diff[7..])].len()
            );
        }
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "docker.io/library/base:1",
            "docker.io/library/base:latest",
            "docker.io/library/child:2"
        ]
    );

    // It loads back into a fresh store: same IDs, diff IDs and tags.
    let (_t2, b) = store();
    let (ids, _) = load(&b, &archive);
    assert_eq!(ids, [child.clone(), base.clone()]);
    for id in [&child, &base] {
        assert_eq!(
            b.config(id).unwrap().rootfs.diff_ids,
            a.config(id).unwrap().rootfs.diff_ids
        );
    }
    assert_eq!(b.resolve("base:latest").unwrap(), base);
    assert_eq!(b.resolve("child:2").unwrap(), child);
    // Saved again from there: the same bytes.
    assert_eq!(save(&b, &["child:2", "base"]), archive);
}

fn a_config_diffs(config: &[u8]) -> Vec<String> {
    let v = json(config);
    serde_json::from_value(v["rootfs"]["diff_ids"].clone()).unwrap()
}

#[test]
fn either_half_of_a_saved_archive_loads_to_the_same_images() {
    let (_t, a) = store();
    let (base, child) = two_images(&a);
    let archive = save(&a, &["child:2", "base:1"]);
    // Only the OCI layout (as an OCI tool that ignores manifest.json sees it).
    let oci = without(&archive, &["manifest.json", "repositories"]);
    let (_t2, b) = store();
    let (ids, lines) = load(&b, &oci);
    assert_eq!(ids, [child.clone(), base.clone()]);
    assert_eq!(lines, ["Loaded image: child:2", "Loaded image: base:1"]);
    assert_eq!(
        b.config(&child).unwrap().rootfs.diff_ids,
        a.config(&child).unwrap().rootfs.diff_ids
    );
    // Only the docker-archive.
    let docker = without(&archive, &["index.json", "oci-layout"]);
    let (_t3, c) = store();
    let (ids, lines) = load(&c, &docker);
    assert_eq!(ids, [child.clone(), base.clone()]);
    assert_eq!(lines, ["Loaded image: child:2", "Loaded image: base:1"]);
}

#[test]
fn images_sharing_a_layer_store_it_once_and_untagged_ones_have_bare_entries() {
    let (_t, a) = store();
    // The same rootfs imported twice with different configs.
    let x = a
        .import_rootfs(&rootfs_tar("same\n")[..], &opts(Some("x:1")))
        .unwrap();
    let y = a
        .import_rootfs(
            &rootfs_tar("same\n")[..],
            &ImportOptions {
                changes: vec!["CMD [\"/bin/sh\"]".into()],
                ..opts(None)
            },
        )
        .unwrap();
    assert_ne!(x, y);
    let diff = a.config(&x).unwrap().rootfs.diff_ids[0].clone();
    assert_eq!(a.config(&y).unwrap().rootfs.diff_ids[0], diff);
    let archive = save(&a, &["x:1", &y]);
    let files = archive_files(&archive);
    // 1 layer + 2 configs + 2 manifests.
    assert_eq!(files.keys().filter(|p| p.starts_with("blobs/")).count(), 5);
    let idx = json(&files["index.json"]);
    let ms = idx["manifests"].as_array().unwrap();
    assert_eq!(ms.len(), 2);
    assert_eq!(
        ms[0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/x:1"
    );
    assert!(ms[1].get("annotations").is_none(), "{}", ms[1]);
    let m = json(&files["manifest.json"]);
    assert_eq!(m[1]["RepoTags"], serde_json::Value::Null);
    let (_t2, b) = store();
    let (ids, lines) = load(&b, &archive);
    assert_eq!(ids, [x, y.clone()]);
    assert_eq!(
        lines,
        [
            "Loaded image: x:1".to_string(),
            format!("Loaded image ID: {y}")
        ]
    );
}

/// Every compression Docker's `DecompressStream` takes, for the tests below.
fn compress_all(data: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(data).unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(data).unwrap();
    vec![
        ("gzip", gz.finish().unwrap()),
        ("bzip2", bz.finish().unwrap()),
        ("xz", xz.finish().unwrap()),
        ("zstd", zstd::encode_all(data, 3).unwrap()),
    ]
}

#[test]
fn import_and_load_take_every_compression() {
    let (_t, s) = store();
    let tar = rootfs_tar("packed\n");
    let plain = s.import_rootfs(&tar[..], &opts(Some("plain"))).unwrap();
    for (name, packed) in compress_all(&tar) {
        let id = s.import_rootfs(&packed[..], &opts(None)).unwrap();
        assert_eq!(id, plain, "import of {name} input");
    }
    let archive = save(&s, &["plain"]);
    for (name, packed) in compress_all(&archive) {
        let (_t2, s2) = store();
        let (ids, _) = load(&s2, &packed);
        assert_eq!(ids, vec![plain.clone()], "load of {name} input");
        assert_eq!(s2.resolve("plain").unwrap(), plain, "{name}");
    }
}
