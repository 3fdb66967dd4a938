//! `Engine::build` end to end on a real store (root: overlay mounts).
//! Metadata steps, COPY, WORKDIR, the cache, reproducible builds and
//! errors need no container; the RUN tests need the `berth` binary (the
//! shim) at target/debug/berth: without it they fail when `CI` is set (a
//! CI run must not pass by skipping) and are skipped, saying so, otherwise.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_engine::{BuildMessage, BuildOptions, Engine, EngineConfig};

/// The shim executable: `$BERTH_TEST_SHIM` when set (e.g. the
/// `berth-runtime-shim` test binary), else target/debug/berth.
fn config(root: &Path) -> EngineConfig {
    let shim = std::env::var_os("BERTH_TEST_SHIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/berth"));
    EngineConfig {
        data_root: root.join("data"),
        exec_root: root.join("exec"),
        shim_exe: shim,
        daemon_log: None,
    }
}

/// Whether the shim binary is there for the RUN tests. Missing, it fails
/// the test under CI (`CI` set and not "false"/"0") and means "skip" elsewhere.
fn shim_available(cfg: &EngineConfig) -> bool {
    if cfg.shim_exe.exists() {
        return true;
    }
    if ci_requires_everything(std::env::var("CI").ok().as_deref()) {
        panic!(
            "{} is not built, and CI is set: run `cargo build -p berth` before these tests",
            cfg.shim_exe.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not built (build it with `cargo build -p berth`; with CI set this fails)",
        cfg.shim_exe.display()
    );
    false
}

/// `CI`'s value asks for no skipping (anything but unset, empty, "false" or "0").
fn ci_requires_everything(ci: Option<&str>) -> bool {
    ci.is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

#[test]
fn ci_turns_skips_into_failures() {
    assert!(ci_requires_everything(Some("true")));
    assert!(ci_requires_everything(Some("1")));
    assert!(!ci_requires_everything(None));
    assert!(!ci_requires_everything(Some("")));
    assert!(!ci_requires_everything(Some("false")));
}

/// A tar of files (name, content); names ending in `/` are directories.
fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, name, std::io::empty()).unwrap();
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_mtime(1_600_000_000);
            b.append_data(&mut h, name, data.as_bytes()).unwrap();
        }
    }
    b.into_inner().unwrap()
}

/// A busybox rootfs tar (with /etc/passwd and /etc/group).
fn busybox_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, name, data).unwrap();
    };
    let bb = std::fs::read("/bin/busybox").expect("busybox-static installed");
    add("bin/busybox", &bb, 0o755);
    add(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        0o644,
    );
    add("etc/group", b"root:x:0:\napp:x:1000:\n", 0o644);
    for link in ["sh", "echo", "cat", "false", "true", "ls", "mkdir"] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{link}"), "busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}

async fn engine(root: &Path) -> Arc<Engine> {
    let e = Engine::open(config(root)).await.unwrap();
    let store = e.store();
    store
        .import_rootfs(
            &busybox_tar()[..],
            &berth_store::ImportOptions {
                tag: Some("busybox:latest".into()),
                ..Default::default()
            },
        )
        .unwrap();
    e
}

/// Run a build; returns (result, the stream text).
async fn build(
    e: &Arc<Engine>,
    opts: BuildOptions,
    context: Vec<u8>,
) -> (Result<String, berth_engine::EngineError>, String) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let e2 = Arc::clone(e);
    let task = tokio::spawn(async move {
        e2.build(opts, Box::new(std::io::Cursor::new(context)), tx)
            .await
    });
    let mut text = String::new();
    while let Some(m) = rx.recv().await {
        if let BuildMessage::Stream(s) = m {
            text.push_str(&s);
        }
    }
    (task.await.unwrap(), text)
}

/// Replace hex IDs in ` ---> <id>` lines by `<id>` to compare outputs.
fn masked(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix(" ---> ") {
            Some(rest) if rest.len() == 12 && rest.bytes().all(|b| b.is_ascii_hexdigit()) => {
                " ---> <id>".to_string()
            }
            _ => match l.strip_prefix("Successfully built ") {
                Some(_) => "Successfully built <id>".to_string(),
                None => l.to_string(),
            },
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const DOCKERFILE: &str = "FROM busybox\nARG V=1\nENV A=b\nLABEL x=y\nCOPY a.txt /a/\nCOPY d /dd\nWORKDIR /w\nCOPY --chown=app a.txt rel.txt\nCMD [\"sh\"]\n";

fn context() -> Vec<u8> {
    tar_of(&[
        ("Dockerfile", DOCKERFILE),
        ("a.txt", "hello\n"),
        ("d/", ""),
        ("d/e/", ""),
        ("d/e/f", "x\n"),
    ])
}

/// A file of the image (looked up through its layers, topmost first).
fn image_file(e: &Engine, id: &str, path: &str) -> Option<PathBuf> {
    let dirs = e.store().layer_dirs(id).unwrap();
    dirs.iter()
        .rev()
        .map(|d| d.join(path))
        .find(|p| p.symlink_metadata().is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_copy_workdir_and_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;
    let mut opts = BuildOptions {
        tags: vec!["t1".into()],
        ..Default::default()
    };
    opts.labels.insert("k".into(), "v".into());
    let (res, text) = build(&e, opts.clone(), context()).await;
    let id = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    assert_eq!(
        masked(&text),
        "Step 1/10 : FROM busybox\n ---> <id>\nStep 2/10 : ARG V=1\n ---> <id>\nStep 3/10 : ENV A=b\n ---> <id>\nStep 4/10 : LABEL x=y\n ---> <id>\nStep 5/10 : COPY a.txt /a/\n ---> <id>\nStep 6/10 : COPY d /dd\n ---> <id>\nStep 7/10 : WORKDIR /w\n ---> <id>\nStep 8/10 : COPY --chown=app a.txt rel.txt\n ---> <id>\nStep 9/10 : CMD [\"sh\"]\n ---> <id>\nStep 10/10 : LABEL k=v\n ---> <id>\nSuccessfully built <id>\nSuccessfully tagged t1:latest"
    );
    assert_eq!(e.store().resolve("t1").unwrap(), id);
    let cfg = e.store().config(&id).unwrap();
    let c = cfg.config.clone().unwrap();
    assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(c.working_dir, "/w");
    assert!(c.env.clone().unwrap().contains(&"A=b".to_string()));
    assert!(c.env.unwrap().iter().any(|kv| kv.starts_with("PATH=")));
    let labels = c.labels.unwrap();
    assert_eq!(labels.get("x").map(String::as_str), Some("y"));
    assert_eq!(labels.get("k").map(String::as_str), Some("v"));
    // History as dockerd writes it.
    let created_by: Vec<String> = cfg.history.iter().map(|h| h.created_by.clone()).collect();
    assert_eq!(created_by[1], "/bin/sh -c #(nop)  ARG V=1");
    assert_eq!(created_by[2], "/bin/sh -c #(nop)  ENV A=b");
    assert!(
        created_by[4].starts_with("/bin/sh -c #(nop) COPY file:"),
        "{}",
        created_by[4]
    );
    assert!(created_by[4].ends_with(" in /a/ "));
    assert!(created_by[5].starts_with("/bin/sh -c #(nop) COPY dir:"));
    assert_eq!(created_by[6], "/bin/sh -c #(nop) WORKDIR /w");
    assert_eq!(created_by[8], "/bin/sh -c #(nop)  CMD [\"sh\"]");
    assert!(cfg.history[2].empty_layer && !cfg.history[4].empty_layer);
    // Files.
    let a = image_file(&e, &id, "a/a.txt").expect("a/a.txt");
    assert_eq!(std::fs::read_to_string(a).unwrap(), "hello\n");
    let f = image_file(&e, &id, "dd/e/f").expect("dd/e/f");
    assert_eq!(std::fs::read_to_string(f).unwrap(), "x\n");
    assert!(image_file(&e, &id, "w").unwrap().is_dir());
    let rel = image_file(&e, &id, "w/rel.txt").expect("w/rel.txt");
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(rel).unwrap();
    assert_eq!((md.uid(), md.gid()), (1000, 1000));

    // An unchanged rebuild: all cache hits, no container, same image.
    let (res, text) = build(&e, opts.clone(), context()).await;
    assert_eq!(res.unwrap(), id);
    assert_eq!(text.matches(" ---> Using cache").count(), 9, "{text}");
    assert!(!text.contains("Running in"));
    assert_eq!(e.container_counts().0, 0);

    // A changed file misses from its COPY on.
    let ctx2 = tar_of(&[
        ("Dockerfile", DOCKERFILE),
        ("a.txt", "changed\n"),
        ("d/", ""),
        ("d/e/", ""),
        ("d/e/f", "x\n"),
    ]);
    let (res, text) = build(&e, opts.clone(), ctx2).await;
    assert_ne!(res.unwrap(), id);
    assert_eq!(text.matches(" ---> Using cache").count(), 3, "{text}");

    // --no-cache never hits.
    let (res, text) = build(
        &e,
        BuildOptions {
            no_cache: true,
            ..opts
        },
        context(),
    )
    .await;
    res.unwrap();
    assert!(!text.contains("Using cache"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_date_epoch_gives_the_same_image_in_two_roots() {
    let mut ids = Vec::new();
    let mut roots = Vec::new();
    for _ in 0..2 {
        let tmp = tempfile::tempdir().unwrap();
        let e = engine(tmp.path()).await;
        let mut opts = BuildOptions {
            no_cache: true,
            ..Default::default()
        };
        opts.build_args
            .insert("SOURCE_DATE_EPOCH".into(), Some("1700000000".into()));
        let (res, text) = build(&e, opts, context()).await;
        let id = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
        let cfg = e.store().config(&id).unwrap();
        assert_eq!(cfg.created, "2023-11-14T22:13:20Z");
        assert!(cfg
            .history
            .iter()
            .skip(1)
            .all(|h| h.created == "2023-11-14T22:13:20Z"));
        ids.push(id);
        roots.push(tmp);
    }
    assert_eq!(ids[0], ids[1]);
}

/// A tar of raw entries (name as written, type, link target, content), names not checked.
fn raw_tar(entries: &[(&str, tar::EntryType, &str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_gnu_mut().unwrap().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data.as_bytes());
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_contexts_stay_inside() {
    use tar::EntryType as T;
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;
    let df = |text: &'static str| ("Dockerfile", T::Regular, "", text);
    // `..` climbing out: refused, nothing written beside the work dir.
    let ctx = raw_tar(&[
        df("FROM busybox\nCOPY a /a\n"),
        ("../../../escaped", T::Regular, "", "x"),
    ]);
    let (res, _) = build(&e, BuildOptions::default(), ctx).await;
    let err = res.unwrap_err();
    assert!(
        err.message
            .starts_with("failed to read the build context: ")
            && err.message.contains("escapes"),
        "{}",
        err.message
    );
    assert!(!tmp.path().join("data/escaped").exists());
    assert!(!tmp.path().join("data/build/escaped").exists());
    // Absolute names land inside; a symlink to the outside is resolved
    // inside the context; a file written through a symlinked directory
    // (the whole context is then extracted) stays inside too.
    let ctx = raw_tar(&[
        df("FROM busybox\nCOPY abs.txt /abs\nCOPY out /out\n"),
        ("/abs.txt", T::Regular, "", "abs"),
        ("out", T::Symlink, "/../../../../etc/hostname", ""),
    ]);
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    assert_eq!(
        res.unwrap_err().message,
        "COPY failed: file not found in build context or excluded by .dockerignore: stat out: file does not exist",
        "{text}"
    );
    assert!(
        text.contains("Step 2/3 : COPY abs.txt /abs\n ---> "),
        "{text}"
    );
    let ctx = raw_tar(&[
        df("FROM busybox\nCOPY link/etc/hostname /h\nCOPY hl /hl\n"),
        ("link", T::Symlink, "/", ""),
        ("link/etc/hostname", T::Regular, "", "inside"),
        ("hl", T::Link, "etc/hostname", ""),
    ]);
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    let id = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    let h = image_file(&e, &id, "h").unwrap();
    assert_eq!(std::fs::read_to_string(h).unwrap(), "inside");
    let hl = image_file(&e, &id, "hl").unwrap();
    assert_eq!(std::fs::read_to_string(hl).unwrap(), "inside");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_in_dockerds_words() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;
    let cases = [
        (
            "FROM busybox\nCOPY nope /x\n",
            "COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist",
        ),
        (
            "FROM busybox\nCOPY ../a /x\n",
            "COPY failed: forbidden path outside the build context: ../a ()",
        ),
        (
            "FROM busybox\nCOPY a.txt a.txt /x\n",
            "When using COPY with more than one source file, the destination must be a directory and end with a /",
        ),
        (
            "FROM busybox\nCOPY *.nomatch /x/\n",
            "COPY failed: no source files were specified",
        ),
        ("# only a comment\n", "failed to parse Dockerfile: file with no instructions"),
        ("FROM busybox\nBOGUS x\n", "dockerfile parse error line 2: unknown instruction: BOGUS"),
    ];
    for (df, want) in cases {
        let ctx = tar_of(&[("Dockerfile", df), ("a.txt", "a")]);
        let (res, text) = build(&e, BuildOptions::default(), ctx).await;
        let err = res.err().unwrap_or_else(|| panic!("{df} built\n{text}"));
        assert_eq!(err.message, want, "{df}");
    }
    let ctx = tar_of(&[("Dockerfile", "FROM busybox AS a\nFROM busybox\n")]);
    let (res, _) = build(
        &e,
        BuildOptions {
            target: Some("zz".into()),
            ..Default::default()
        },
        ctx,
    )
    .await;
    assert_eq!(
        res.unwrap_err().message,
        "failed to reach build target zz in Dockerfile"
    );
    let ctx = tar_of(&[("x", "")]);
    let (res, _) = build(&e, BuildOptions::default(), ctx).await;
    assert_eq!(
        res.unwrap_err().message,
        "Cannot locate specified Dockerfile: Dockerfile"
    );
    // Nothing is left in the build work area.
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("data/build/tmp"))
        .unwrap()
        .collect();
    assert!(left.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_scratch_and_bare_dockerfile() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;
    let df = "ARG BASE=busybox\nFROM ${BASE} AS build\nCOPY a.txt /out/a\nFROM busybox AS unused\nENV U=1\nFROM scratch\nCOPY --from=build /out/a /a\nCOPY --from=0 /bin/busybox /busybox\n";
    let ctx = tar_of(&[("Dockerfile", df), ("a.txt", "A")]);
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    let id = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    assert!(!text.contains("ENV U=1"), "unused stage ran:\n{text}");
    assert!(text.contains("Step 2/6 : FROM ${BASE} AS build"), "{text}");
    let cfg = e.store().config(&id).unwrap();
    assert_eq!(cfg.rootfs.diff_ids.len(), 2);
    assert_eq!(
        std::fs::read_to_string(image_file(&e, &id, "a").unwrap()).unwrap(),
        "A"
    );

    // A bare Dockerfile as the body (`docker build - < Dockerfile`).
    let (res, text) = build(
        &e,
        BuildOptions::default(),
        b"FROM busybox\nENV X=1\n".to_vec(),
    )
    .await;
    res.unwrap_or_else(|err| panic!("{err}\n{text}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_steps_when_the_shim_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    if !shim_available(&cfg) {
        return;
    }
    let e = engine(tmp.path()).await;
    let df =
        "FROM busybox\nARG V=1\nRUN echo hi $V && mkdir /made\nRUN [\"sh\",\"-c\",\"exit 3\"]\n";
    let ctx = tar_of(&[("Dockerfile", df)]);
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    let err = res.unwrap_err();
    assert_eq!(
        err.message,
        "The command 'sh -c exit 3' returned a non-zero code: 3"
    );
    assert_eq!(err.code, Some(3));
    assert!(
        text.contains("\nhi 1\nRemoving intermediate container "),
        "{text}"
    );
    assert!(text.contains("Step 3/4 : RUN echo hi $V && mkdir /made\n ---> Running in "));
    // The failed step's container is gone too.
    assert_eq!(e.container_counts().0, 0);
    let df = "FROM busybox\nARG V=1\nRUN echo hi $V && mkdir /made\n";
    let ctx = tar_of(&[("Dockerfile", df)]);
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    let id = res.unwrap();
    assert!(text.contains(" ---> Using cache"), "{text}");
    assert!(!text.contains("Running in"));
    let cfg = e.store().config(&id).unwrap();
    let h = cfg.history.last().unwrap();
    assert_eq!(h.created_by, "|1 V=1 /bin/sh -c echo hi $V && mkdir /made");
    assert!(image_file(&e, &id, "made").unwrap().is_dir());
    // stderr comes red, as dockerd sends it.
    let ctx = tar_of(&[("Dockerfile", "FROM busybox\nRUN echo err >&2\n")]);
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    res.unwrap();
    assert!(text.contains("\x1b[91merr\n\x1b[0m"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_receiver_cancels_a_running_step() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    if !shim_available(&cfg) {
        return;
    }
    let e = engine(tmp.path()).await;
    let ctx = tar_of(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo started && sleep 30\nRUN echo never\n",
    )]);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let e2 = Arc::clone(&e);
    let task = tokio::spawn(async move {
        e2.build(
            BuildOptions::default(),
            Box::new(std::io::Cursor::new(ctx)),
            tx,
        )
        .await
    });
    // Wait for the RUN's output, then go away as a disconnected client does.
    let mut text = String::new();
    while !text.contains("started\n") {
        match rx.recv().await {
            Some(BuildMessage::Stream(s)) => text.push_str(&s),
            Some(_) => {}
            None => panic!("the build ended early: {text}"),
        }
    }
    assert_eq!(e.container_counts().0, 1, "{text}");
    drop(rx);
    let res = tokio::time::timeout(std::time::Duration::from_secs(20), task)
        .await
        .expect("the build did not stop within 20 s")
        .unwrap();
    assert_eq!(
        res.unwrap_err().message,
        "the build was cancelled: the client disconnected"
    );
    assert_eq!(e.container_counts().0, 0);
    // Nothing is left in the build's scratch area either.
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("data/build/tmp"))
        .map(|r| r.flatten().map(|d| d.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onbuild_triggers_run_after_from() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;
    let ctx = tar_of(&[
        (
            "Dockerfile",
            "FROM busybox\nONBUILD ENV Q=1\nONBUILD COPY a.txt /trig\n",
        ),
        ("a.txt", "T"),
    ]);
    let (res, text) = build(
        &e,
        BuildOptions {
            tags: vec!["ob".into()],
            ..Default::default()
        },
        ctx,
    )
    .await;
    let base = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    let cfg = e.store().config(&base).unwrap();
    assert_eq!(
        cfg.config.unwrap().on_build,
        Some(vec!["ENV Q=1".to_string(), "COPY a.txt /trig".to_string()])
    );
    let ctx = tar_of(&[("Dockerfile", "FROM ob\nENV R=2\n"), ("a.txt", "T")]);
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    let id = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    assert!(
        masked(&text).starts_with(
            "Step 1/2 : FROM ob\n# Executing 2 build triggers\n ---> <id>\nStep 2/2 : ENV R=2\n"
        ),
        "{text}"
    );
    let c = e.store().config(&id).unwrap().config.unwrap();
    assert!(c.env.unwrap().contains(&"Q=1".to_string()));
    assert!(c.on_build.unwrap_or_default().is_empty());
    assert_eq!(
        std::fs::read_to_string(image_file(&e, &id, "trig").unwrap()).unwrap(),
        "T"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dockerignore_add_archives_and_heredocs() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;
    // A gzip tar for ADD to unpack.
    let inner = tar_of(&[("in/x", "X")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &inner).unwrap();
    let gz = gz.finish().unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    std::io::Write::write_all(&mut xz, &tar_of(&[("y", "Y")])).unwrap();
    let xz = xz.finish().unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    std::io::Write::write_all(&mut bz, &tar_of(&[("b", "B")])).unwrap();
    let bz = bz.finish().unwrap();
    let zst = zstd::encode_all(&tar_of(&[("z", "Z")])[..], 3).unwrap();
    let df = "FROM busybox\nCOPY . /ctx/\nADD arch.tar.gz /unpacked/\nADD arch2.tar.xz /unpacked/\nADD arch3.tar.bz2 arch4.tar.zst /unpacked/\nCOPY <<EOF /here.txt\nhello doc\nEOF\n";
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("Dockerfile", df.as_bytes()),
        (".dockerignore", b"secret\n*.log\n".as_slice()),
        ("secret", b"s"),
        ("keep.txt", b"k"),
        ("x.log", b"l"),
        ("arch.tar.gz", &gz),
        ("arch2.tar.xz", &xz),
        ("arch3.tar.bz2", &bz),
        ("arch4.tar.zst", &zst),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    }
    let ctx = b.into_inner().unwrap();
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    let id = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    assert!(image_file(&e, &id, "ctx/keep.txt").is_some());
    assert!(
        image_file(&e, &id, "ctx/secret").is_none(),
        "ignored file copied"
    );
    assert!(
        image_file(&e, &id, "ctx/x.log").is_none(),
        "ignored file copied"
    );
    assert_eq!(
        std::fs::read_to_string(image_file(&e, &id, "unpacked/in/x").unwrap()).unwrap(),
        "X"
    );
    assert_eq!(
        std::fs::read_to_string(image_file(&e, &id, "unpacked/y").unwrap()).unwrap(),
        "Y"
    );
    for (f, want) in [("unpacked/b", "B"), ("unpacked/z", "Z")] {
        let p = image_file(&e, &id, f).unwrap_or_else(|| panic!("{f} not unpacked"));
        assert_eq!(std::fs::read_to_string(p).unwrap(), want);
    }
    assert_eq!(
        std::fs::read_to_string(image_file(&e, &id, "here.txt").unwrap()).unwrap(),
        "hello doc\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_downloads_from_a_local_http_server() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        // Two builds, one GET each (the second checks the cache).
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\nremote!\n")
                .unwrap();
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;
    let df = format!("FROM busybox\nADD http://127.0.0.1:{port}/files/r.txt /dl/\n");
    let ctx = tar_of(&[("Dockerfile", &df)]);
    let (res, text) = build(&e, BuildOptions::default(), ctx.clone()).await;
    let id = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    let p = image_file(&e, &id, "dl/r.txt").expect("downloaded file");
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "remote!\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (res, text) = build(&e, BuildOptions::default(), ctx).await;
    assert_eq!(res.unwrap(), id);
    assert!(text.contains("Using cache"));
    server.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reproducible_run_steps_when_the_shim_is_built() {
    let mut ids = Vec::new();
    let mut roots = Vec::new();
    for _ in 0..2 {
        let tmp = tempfile::tempdir().unwrap();
        if !shim_available(&config(tmp.path())) {
            return;
        }
        let e = engine(tmp.path()).await;
        let mut opts = BuildOptions {
            no_cache: true,
            ..Default::default()
        };
        opts.build_args
            .insert("SOURCE_DATE_EPOCH".into(), Some("1700000000".into()));
        let df = "FROM busybox\nRUN mkdir -p /out && echo data > /out/f && touch /out/g\nCOPY a.txt /a\n";
        let ctx = tar_of(&[("Dockerfile", df), ("a.txt", "a")]);
        let (res, text) = build(&e, opts, ctx).await;
        ids.push(res.unwrap_or_else(|err| panic!("{err}\n{text}")));
        roots.push(tmp);
    }
    assert_eq!(ids[0], ids[1]);
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Images deeper than one page of overlay options (about 40 layers under
/// full store paths) build, and their layers mount, lowest to highest
/// visible; `COPY --from` mounts such a stage read-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_and_mounts_130_layers() {
    assert!(is_root(), "the builder's overlay mounts need root");
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;
    let n = 130;
    let mut df = String::from("FROM busybox AS big\n");
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..n {
        df.push_str(&format!("COPY f{i} /f{i}\n"));
        files.push((format!("f{i}"), format!("{i}\n")));
    }
    df.push_str(&format!(
        "FROM busybox\nCOPY --from=big /f0 /f{} /bin/busybox /out/\n",
        n - 1
    ));
    files.push(("Dockerfile".into(), df));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (res, text) = build(&e, BuildOptions::default(), tar_of(&refs)).await;
    let id = res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    let out = |f: &str| image_file(&e, &id, &format!("out/{f}"));
    assert_eq!(std::fs::read_to_string(out("f0").unwrap()).unwrap(), "0\n");
    assert_eq!(
        std::fs::read_to_string(out("f129").unwrap()).unwrap(),
        "129\n"
    );
    assert!(out("busybox").is_some(), "a file of the lowest layer");

    // The big stage's image itself mounts as a container root would.
    let big = e
        .store()
        .list(true)
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .find(|i| e.store().layer_dirs(i).map(|d| d.len()).unwrap_or(0) == n + 1)
        .expect("the 131-layer stage image");
    let lowers = e.store().layer_dirs(&big).unwrap();
    let plain: usize = lowers.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(plain > berth_runtime::mount::MAX_MOUNT_DATA, "{plain}");
    let m = tmp.path().join("m");
    let (upper, work, target) = (m.join("upper"), m.join("work"), m.join("rootfs"));
    for d in [&upper, &work, &target] {
        std::fs::create_dir_all(d).unwrap();
    }
    berth_runtime::mount::mount_overlay(&lowers, Some((&upper, &work)), &target, false, &[])
        .unwrap();
    let lowest = target.join("bin/busybox").is_file();
    let highest = std::fs::read_to_string(target.join("f129"));
    berth_runtime::mount::unmount(&target).unwrap();
    assert!(lowest);
    assert_eq!(highest.unwrap(), "129\n");
}

/// A committed whiteout hides the lower file in a real overlay mount, and
/// a read-only view shows the container's upper dir on top.
#[test]
fn overlay_mounts_image_layers_with_whiteouts() {
    use berth_store::{CommitOptions, ImportOptions, Store};
    assert!(is_root(), "overlay mounts need root");
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(&t.path().join("image")).unwrap();
    let rootfs = tar_of(&[
        ("etc/", ""),
        ("etc/greeting", "base\n"),
        ("etc/greeting2", "two\n"),
    ]);
    let base = s
        .import_rootfs(&rootfs[..], &ImportOptions::default())
        .unwrap();
    let up = t.path().join("u");
    std::fs::create_dir_all(up.join("etc")).unwrap();
    std::fs::write(up.join("etc/greeting"), b"changed\n").unwrap();
    nix::sys::stat::mknod(
        &up.join("etc/greeting2"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
    let child = s.commit(&base, &up, &CommitOptions::default()).unwrap();
    let lowers = s.layer_dirs(&child).unwrap();
    let (upper, work, target) = (
        t.path().join("upper"),
        t.path().join("work"),
        t.path().join("rootfs"),
    );
    for d in [&upper, &work, &target] {
        std::fs::create_dir_all(d).unwrap();
    }
    berth_runtime::mount::mount_overlay(&lowers, Some((&upper, &work)), &target, false, &[])
        .unwrap();
    let seen = std::fs::read(target.join("etc/greeting"));
    let gone = target.join("etc/greeting2").exists();
    std::fs::write(target.join("new"), b"n").unwrap();
    berth_runtime::mount::unmount(&target).unwrap();
    assert_eq!(seen.unwrap(), b"changed\n", "top layer wins");
    assert!(!gone, "whiteout hides the lower file");
    assert!(upper.join("new").exists());
    assert!(!target.join("etc").exists(), "unmounted");
    // Read-only view with the container's changes on top.
    let mut stack = lowers.clone();
    stack.push(upper.clone());
    berth_runtime::mount::mount_overlay(&stack, None, &target, true, &[]).unwrap();
    let ro = std::fs::write(target.join("x"), b"x");
    let has_new = target.join("new").exists();
    berth_runtime::mount::unmount(&target).unwrap();
    assert!(ro.is_err() && has_new);
    berth_runtime::mount::unmount(&target).unwrap();
}

/// `USER` in RUN steps gets the user's supplementary groups from the
/// image's /etc/group and nothing of the daemon's own groups (the lines
/// are what Docker 20.10's classic builder prints for the same Dockerfile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_steps_get_the_users_supplementary_groups() {
    let tmp = tempfile::tempdir().unwrap();
    if !shim_available(&config(tmp.path())) {
        return;
    }
    let e = engine(tmp.path()).await;
    let df = "FROM busybox\nRUN echo 'wheel:x:10:app' >> /etc/group\nUSER app\nRUN busybox id\nUSER 1000:1000\nRUN busybox id\n";
    let (res, text) = build(&e, BuildOptions::default(), tar_of(&[("Dockerfile", df)])).await;
    res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    let ids: Vec<&str> = text.lines().filter(|l| l.starts_with("uid=")).collect();
    assert_eq!(
        ids,
        vec![
            "uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)",
            "uid=1000(app) gid=1000(app) groups=1000(app)",
        ],
        "{text}"
    );
}

/// A RUN step (a container) on top of 130 layers: the shim's overlay
/// mount takes them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_steps_on_130_layers() {
    let tmp = tempfile::tempdir().unwrap();
    if !shim_available(&config(tmp.path())) {
        return;
    }
    let e = engine(tmp.path()).await;
    let mut df = String::from("FROM busybox\n");
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..130 {
        df.push_str(&format!("COPY f{i} /f{i}\n"));
        files.push((format!("f{i}"), format!("layer{i}\n")));
    }
    df.push_str("RUN busybox cat /f0 /f129\n");
    files.push(("Dockerfile".into(), df));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (res, text) = build(&e, BuildOptions::default(), tar_of(&refs)).await;
    res.unwrap_or_else(|err| panic!("{err}\n{text}"));
    assert!(text.contains("\nlayer0\nlayer129\n"), "{text}");
}
