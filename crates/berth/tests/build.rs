//! `build` end to end (issue 5): the classic builder through the berth CLI (and, in
//! `BERTH_E2E_CLI=docker` mode, the docker CLI against the reference dockerd), plus the docker CLI's
//! classic builder against berth's socket, reproducible builds on two data roots, and the
//! data-science image on a Debian base.
//!
//! Tests that count containers take the write side of [`CONTAINERS`]; every other test that builds
//! takes the read side, so no intermediate container of another test is counted.
mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

static CONTAINERS: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    CONTAINERS.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    CONTAINERS.write().unwrap_or_else(|e| e.into_inner())
}

/// Time limit of one build of the small busybox Dockerfiles.
const BUILD_TIMEOUT: Duration = Duration::from_secs(120);

/// A fresh context directory holding `files` (path, contents); a `Dockerfile` whose `FROM BASE`
/// names the harness's busybox image.
fn context(h: &Harness, tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = unique_tmp_dir(tag);
    for (name, contents) in files {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir in context");
        }
        let contents = contents.replace("FROM BASE", &format!("FROM {}", h.image));
        std::fs::write(&p, contents).expect("write context file");
    }
    dir
}

/// `build ARGS... DIR` with `env`.
fn build(h: &Harness, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Out {
    let mut full = vec!["build"];
    full.extend_from_slice(args);
    full.push(path_str(dir));
    h.run_env(&full, env, None, BUILD_TIMEOUT)
}

/// The image ID a successful, verbose build printed ("Successfully built <short id>").
fn built_id(o: &Out) -> String {
    o.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .unwrap_or_else(|| panic!("no 'Successfully built' line: {o:?}"))
        .trim()
        .to_string()
}

/// The output of each step ("Step N/M : ..." up to the next step), in order.
fn steps(o: &Out) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in o.stdout.lines() {
        if l.starts_with("Step ") {
            out.push(String::new());
        }
        if let Some(cur) = out.last_mut() {
            cur.push_str(l);
            cur.push('\n');
        }
    }
    out
}

fn container_count(h: &Harness) -> usize {
    h.run(&["ps", "-aq"]).ok().lines().len()
}

/// `run --rm IMAGE CMD...`, stdout.
fn run_in(h: &Harness, image: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "--rm", image];
    args.extend_from_slice(cmd);
    h.run(&args).ok().stdout.clone()
}

#[test]
fn multi_stage_args_env_user_workdir() {
    let _l = shared();
    let h = h();
    let img = uname("ms");
    let mut g = h.guard(&[]);
    g.image(&img);
    let dir = context(
        h,
        "ms",
        &[(
            "Dockerfile",
            "ARG STAGE_BASE=BASE_REF\n\
             FROM BASE AS builder\n\
             ARG GREETING=hello\n\
             ENV WHO=world \\\n    PLACE=\"the lab\"\n\
             RUN mkdir -p /out && echo \"$GREETING $WHO in $PLACE\" > /out/msg\n\
             \n\
             FROM ${STAGE_BASE}\n\
             COPY --from=builder /out/msg /msg\n\
             WORKDIR /work\n\
             WORKDIR dir\n\
             USER jovyan\n\
             RUN echo \"uid=$(id -u) pwd=$(pwd)\"\n\
             CMD [\"sh\", \"-c\", \"id -u; pwd; cat /msg\"]\n",
        )],
    );
    let df = dir.join("Dockerfile");
    let text = std::fs::read_to_string(&df)
        .unwrap()
        .replace("BASE_REF", &h.image);
    std::fs::write(&df, text).unwrap();
    let o = build(h, &["-t", &img, "--build-arg", "GREETING=hi"], &dir, &[]);
    o.ok()
        .stdout_has("Step 1/")
        .stdout_has("uid=1000 pwd=/work/dir\n")
        .stdout_has(&format!("Successfully tagged {img}:latest"));
    assert_eq!(
        run_in(h, &img, &[]),
        "1000\n/work/dir\nhi world in the lab\n"
    );
    let v = h.inspect_json(&img);
    assert_eq!(v["Config"]["User"], "jovyan");
    assert_eq!(v["Config"]["WorkingDir"], "/work/dir");
    // ENV of the first stage does not leak into the second.
    let env = v["Config"]["Env"].to_string();
    assert!(!env.contains("WHO="), "{env}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn copy_chown_add_tar_and_dockerignore() {
    let _l = shared();
    let h = h();
    let img = uname("cp");
    let mut g = h.guard(&[]);
    g.image(&img);
    let dir = context(
        h,
        "cp",
        &[
            (
                "Dockerfile",
                "FROM BASE\n\
                 COPY --chown=1000:100 data /data\n\
                 ADD bundle.tar /unpacked/\n\
                 COPY . /ctx/\n",
            ),
            ("data/a.txt", "a\n"),
            ("data/skip.log", "skip\n"),
            ("data/keep.log", "keep\n"),
            ("secret/key", "s3cret\n"),
            (".dockerignore", "data/*.log\n!data/keep.log\nsecret\n"),
        ],
    );
    // A tar archive in the context: ADD extracts it.
    {
        let f = std::fs::File::create(dir.join("bundle.tar")).unwrap();
        let mut b = tar::Builder::new(f);
        let data = b"inside the tar\n";
        let mut hd = tar::Header::new_gnu();
        hd.set_size(data.len() as u64);
        hd.set_mode(0o640);
        hd.set_uid(1000);
        hd.set_gid(100);
        hd.set_cksum();
        b.append_data(&mut hd, "inner/f.txt", &data[..]).unwrap();
        b.finish().unwrap();
    }
    build(h, &["-t", &img], &dir, &[]).ok();
    let out = run_in(
        h,
        &img,
        &[
            "sh",
            "-c",
            "stat -c '%u:%g %n' /data /data/a.txt; ls /data; cat /unpacked/inner/f.txt; \
             stat -c '%u:%g %a' /unpacked/inner/f.txt; ls -A /ctx",
        ],
    );
    assert_eq!(
        out,
        "1000:100 /data\n1000:100 /data/a.txt\na.txt\nkeep.log\ninside the tar\n1000:100 640\n\
         .dockerignore\nDockerfile\nbundle.tar\ndata\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn entrypoint_cmd_and_healthcheck() {
    let _l = shared();
    let h = h();
    let img = uname("ep");
    let mut g = h.guard(&[]);
    g.image(&img);
    let dir = context(
        h,
        "ep",
        &[(
            "Dockerfile",
            "FROM BASE\n\
             ENTRYPOINT [\"echo\", \"entry\"]\n\
             CMD [\"default\"]\n\
             HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD true\n\
             LABEL project=thesis\n\
             EXPOSE 8888\n",
        )],
    );
    build(h, &["-t", &img, "--label", "built-by=e2e"], &dir, &[]).ok();
    assert_eq!(run_in(h, &img, &[]), "entry default\n");
    assert_eq!(run_in(h, &img, &["other", "args"]), "entry other args\n");
    let v = h.inspect_json(&img);
    let c = &v["Config"];
    assert_eq!(
        c["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64,
                           "Timeout": 2_000_000_000i64, "Retries": 4})
    );
    assert_eq!(c["Entrypoint"], serde_json::json!(["echo", "entry"]));
    assert_eq!(c["Cmd"], serde_json::json!(["default"]));
    assert_eq!(
        c["Labels"],
        serde_json::json!({"project": "thesis", "built-by": "e2e"})
    );
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8888/tcp": {}}));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cache_rebuild_is_all_hits_and_a_change_reruns_from_its_step() {
    let _l = exclusive();
    let h = h();
    let img = uname("cache");
    let mut g = h.guard(&[]);
    g.image(&img);
    let dir = context(
        h,
        "cache",
        &[
            (
                "Dockerfile",
                "FROM BASE\n\
                 ENV A=1\n\
                 COPY a.txt /a.txt\n\
                 RUN cat /a.txt\n\
                 COPY b.txt /b.txt\n\
                 RUN cat /b.txt\n\
                 CMD [\"sh\"]\n",
            ),
            ("a.txt", "first\n"),
            ("b.txt", "second\n"),
        ],
    );
    let first = build(h, &["-t", &img], &dir, &[]);
    first.ok().stdout_has("first\n").stdout_has("second\n");
    let id1 = built_id(&first);
    let before = container_count(h);
    let again = build(h, &["-t", &img], &dir, &[]);
    again.ok();
    let st = steps(&again);
    assert_eq!(st.len(), 7, "{again:?}");
    for s in &st[1..] {
        assert!(
            s.contains(" ---> Using cache\n"),
            "step not cached: {s}\n{again:?}"
        );
        assert!(
            !s.contains("Running in"),
            "cached step ran a container: {s}"
        );
    }
    assert_eq!(built_id(&again), id1);
    assert_eq!(
        container_count(h),
        before,
        "an unchanged rebuild created containers"
    );

    // Touching a file without changing it keeps the cache (mtimes do not count).
    std::fs::write(dir.join("a.txt"), "first\n").unwrap();
    // Changing b.txt reruns from `COPY b.txt` on.
    std::fs::write(dir.join("b.txt"), "changed\n").unwrap();
    let third = build(h, &["-t", &img], &dir, &[]);
    third.ok().stdout_has("changed\n");
    let st = steps(&third);
    for s in &st[1..4] {
        assert!(s.contains(" ---> Using cache\n"), "expected a hit: {s}");
    }
    for s in &st[4..] {
        assert!(!s.contains("Using cache"), "expected a miss: {s}");
    }
    assert_ne!(built_id(&third), id1);
    assert_eq!(run_in(h, &img, &["cat", "/b.txt"]), "changed\n");

    // --no-cache: every step runs again.
    let nc = build(h, &["--no-cache", "-t", &img], &dir, &[]);
    nc.ok();
    assert!(!nc.stdout.contains("Using cache"), "{nc:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn failing_run_reports_command_and_code_and_leaves_no_container() {
    let _l = exclusive();
    let h = h();
    let dir = context(
        h,
        "fail",
        &[(
            "Dockerfile",
            "FROM BASE\nRUN echo before && exit 7\nRUN echo never\n",
        )],
    );
    let before = container_count(h);
    let o = build(h, &[], &dir, &[]);
    o.code(7)
        .stdout_has("Step 2/3 : RUN echo before && exit 7\n")
        .stdout_has("before\n")
        .stderr_has("The command '/bin/sh -c echo before && exit 7' returned a non-zero code: 7");
    assert!(!o.stdout.contains("never"), "{o:?}");
    if h.is_berth() {
        // Docker leaves the failed container behind; issue 5 asks berth not to (unless --rm=false).
        assert_eq!(
            container_count(h),
            before,
            "a failed build left a container"
        );
    }
    // --rm=false keeps the failed step's container (in both engines), for debugging.
    let ids_before = h.run(&["ps", "-aq", "--no-trunc"]).ok().lines();
    build(h, &["--rm=false"], &dir, &[]).code(7);
    let kept: Vec<String> = h
        .run(&["ps", "-aq", "--no-trunc"])
        .ok()
        .lines()
        .into_iter()
        .filter(|id| !ids_before.contains(id))
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "--rm=false should keep one container: {kept:?}"
    );
    assert_eq!(h.inspect_f(&kept[0], "{{.State.ExitCode}}"), "7");
    h.run(&["rm", "-f", &kept[0]]).ok();
    // An unknown instruction: Docker's message, exit 1, before any step runs.
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {}\nFOO bar\n", h.image),
    )
    .unwrap();
    build(h, &[], &dir, &[])
        .code(1)
        .stderr_has("dockerfile parse error line 2: unknown instruction: FOO");
    // A context without a Dockerfile.
    std::fs::remove_file(dir.join("Dockerfile")).unwrap();
    build(h, &[], &dir, &[])
        .code(1)
        .stderr_has(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ",
        )
        .stderr_has("/Dockerfile: no such file or directory");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn dockerfile_from_stdin_quiet_iidfile_and_target() {
    let _l = shared();
    let h = h();
    let img = uname("stdin");
    let mut g = h.guard(&[]);
    g.image(&img);
    let dir = context(h, "stdin", &[("hello.txt", "hello\n")]);
    let df = dir.join("stdin.Dockerfile");
    std::fs::write(
        &df,
        format!(
            "FROM {} AS one\nCOPY hello.txt /\nRUN echo stage-one > /one\n\
             FROM one AS two\nRUN echo stage-two > /two\n",
            h.image
        ),
    )
    .unwrap();
    let iid = dir.join("iid");
    let iid_s = path_str(&iid).to_string();
    // -f - with a directory context; the Dockerfile goes under a random name that COPY . skips.
    let o = h.run_env(
        &[
            "build",
            "-q",
            "--iidfile",
            &iid_s,
            "--target",
            "one",
            "-t",
            &img,
            "-f",
            "-",
            path_str(&dir),
        ],
        &[],
        Some(&df),
        BUILD_TIMEOUT,
    );
    o.ok();
    let id = o.out();
    assert!(
        id.starts_with("sha256:") && is_full_id(&id[7..]),
        "-q printed {:?}",
        o.stdout
    );
    assert_eq!(o.lines().len(), 1, "-q printed more than the ID: {o:?}");
    let written = std::fs::read_to_string(&iid).expect("iidfile");
    assert_eq!(written.trim(), id);
    assert_eq!(h.inspect_f(&img, "{{.Id}}"), id);
    // --target one: the second stage did not run.
    assert_eq!(
        run_in(h, &img, &["cat", "/one", "/hello.txt"]),
        "stage-one\nhello\n"
    );
    h.run(&["run", "--rm", &img, "test", "-e", "/two"]).code(1);

    // `-` as the context: a bare Dockerfile on stdin.
    let bare = dir.join("bare");
    std::fs::write(&bare, format!("FROM {}\nRUN echo from-stdin\n", h.image)).unwrap();
    let o = h.run_env(
        &["build", "--no-cache", "-"],
        &[],
        Some(&bare),
        BUILD_TIMEOUT,
    );
    // The CLI wraps it in a tar holding `Dockerfile`, as the docker CLI does.
    o.ok()
        .stdout_has("Sending build context to Docker daemon  2.048kB\r\r\n")
        .stdout_has("from-stdin\n")
        .stdout_has("Successfully built ");
    // `-` as the context: a tar on stdin, with -f naming the Dockerfile inside it.
    let t = dir.join("ctx.tar");
    {
        let f = std::fs::File::create(&t).unwrap();
        let mut b = tar::Builder::new(f);
        for (name, data) in [
            (
                "sub/Df",
                format!("FROM {}\nCOPY x /x\nRUN cat /x\n", h.image),
            ),
            ("x", "in-tar\n".to_string()),
        ] {
            let mut hd = tar::Header::new_gnu();
            hd.set_size(data.len() as u64);
            hd.set_mode(0o644);
            hd.set_cksum();
            b.append_data(&mut hd, name, data.as_bytes()).unwrap();
        }
        b.finish().unwrap();
    }
    let o = h.run_env(
        &["build", "--no-cache", "-f", "sub/Df", "-"],
        &[],
        Some(&t),
        BUILD_TIMEOUT,
    );
    o.ok().stdout_has("in-tar\n");
    let _ = std::fs::remove_dir_all(dir);
}

/// The docker CLI's classic builder against berth's socket prints what it prints against dockerd.
#[test]
fn docker_cli_classic_builder_against_berth() {
    let _l = shared();
    let h = h();
    if h.berth_only("docker_cli_classic_builder_against_berth") {
        return;
    }
    let docker = PathBuf::from(
        std::env::var("BERTH_E2E_DOCKER").unwrap_or_else(|_| "/usr/bin/docker".into()),
    );
    let oracle = std::env::var("BERTH_E2E_ORACLE")
        .unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into());
    let img = uname("dcli");
    let mut g = h.guard(&[]);
    g.image(&img);
    let dir = context(
        h,
        "dcli",
        &[
            (
                "Dockerfile",
                "FROM BASE\nENV A=b\nCOPY f.txt /f.txt\nRUN echo hi && cat /f.txt\nCMD [\"cat\", \"/f.txt\"]\n",
            ),
            ("f.txt", "from the context\n"),
        ],
    );
    let docker_build = |host: &str, extra: &[&str]| {
        let mut args = vec!["build", "-t", img.as_str()];
        args.extend_from_slice(extra);
        args.push(path_str(&dir));
        run_cmd(
            &docker,
            &args,
            &[("DOCKER_HOST", host), ("DOCKER_BUILDKIT", "0")],
            None,
            BUILD_TIMEOUT,
        )
    };
    // The oracle needs the same base image under the same name.
    let has_base = run_cmd(
        &docker,
        &["image", "inspect", &h.image],
        &[("DOCKER_HOST", &oracle)],
        None,
        CMD_TIMEOUT,
    );
    if has_base.code != 0 {
        run_cmd(
            &docker,
            &["import", path_str(&fixture("busybox.tar")), &h.image],
            &[("DOCKER_HOST", &oracle)],
            None,
            CMD_TIMEOUT,
        )
        .ok();
    }
    let on_berth = docker_build(&h.host, &["--no-cache"]);
    on_berth.ok();
    assert_eq!(run_in(h, &img, &[]), "from the context\n");
    let on_docker = docker_build(&oracle, &["--no-cache"]);
    on_docker.ok();
    let _ = run_cmd(
        &docker,
        &["rmi", &img],
        &[("DOCKER_HOST", &oracle)],
        None,
        CMD_TIMEOUT,
    );
    // berth commits metadata steps (ENV, CMD) without a container, so it prints no
    // "Running in"/"Removing intermediate container" for them (a documented difference);
    // everything else matches line for line.
    let strip = |s: &str| {
        norm_ids(s)
            .lines()
            .filter(|l| {
                !l.starts_with(" ---> Running in ")
                    && !l.starts_with("Removing intermediate container ")
            })
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    assert_eq!(
        strip(&on_berth.stdout),
        strip(&on_docker.stdout),
        "docker build output differs between berth and dockerd"
    );
    let run_step = steps(&on_berth)
        .into_iter()
        .find(|s| s.contains(": RUN "))
        .expect("RUN step");
    assert!(run_step.contains(" ---> Running in "), "{run_step}");
    assert!(
        run_step.contains("Removing intermediate container "),
        "{run_step}"
    );
    // Without DOCKER_BUILDKIT the docker CLI 20.10 asks `/_ping` which builder to use: berth
    // does not advertise BuildKit, so it is the classic builder again.
    let default_builder = run_cmd(
        &docker,
        &["build", "-t", img.as_str(), path_str(&dir)],
        &[("DOCKER_HOST", h.host.as_str()), ("DOCKER_BUILDKIT", "")],
        None,
        BUILD_TIMEOUT,
    );
    default_builder.ok().stdout_has("Step 1/5 : FROM ");
    // The cached rebuild through the docker CLI.
    let cached = docker_build(&h.host, &[]);
    cached.ok();
    assert_eq!(
        cached.stdout.matches(" ---> Using cache\n").count(),
        4,
        "{cached:?}"
    );
    // A failing RUN: the docker CLI prints the message and exits with the command's code.
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {}\nRUN exit 3\n", h.image),
    )
    .unwrap();
    docker_build(&h.host, &[])
        .code(3)
        .stderr_has("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
    let _ = std::fs::remove_dir_all(dir);
}

/// Same Dockerfile and context, two data roots, SOURCE_DATE_EPOCH: the same image ID.
#[test]
fn source_date_epoch_builds_are_reproducible_across_data_roots() {
    let _l = shared();
    let h = h();
    if h.berth_only("source_date_epoch_builds_are_reproducible_across_data_roots") {
        return;
    }
    let dir = context(
        h,
        "repro",
        &[
            (
                "Dockerfile",
                "FROM busybox:e2e\n\
                 ARG V=1\n\
                 ENV PATH=/opt/bin:$PATH\n\
                 COPY src /src\n\
                 RUN mkdir -p /opt/bin && echo \"v$V\" > /opt/bin/version && touch /stamp\n\
                 WORKDIR /src\n\
                 CMD [\"cat\", \"/opt/bin/version\"]\n",
            ),
            ("src/a.py", "print('a')\n"),
            ("src/pkg/b.py", "print('b')\n"),
        ],
    );
    let mut ids = Vec::new();
    for n in 0..2 {
        let d = Daemon::new(&unique_tmp_dir(&format!("repro{n}")));
        d.start();
        d.run(&["import", path_str(&fixture("busybox.tar")), "busybox:e2e"])
            .ok();
        let o = run_cmd(
            &berth_exe(),
            &["-H", &d.host, "build", "-q", "--no-cache", path_str(&dir)],
            &[("SOURCE_DATE_EPOCH", "1700000000")],
            None,
            BUILD_TIMEOUT,
        );
        o.ok();
        ids.push(o.out());
        let created = d
            .run(&["inspect", "-f", "{{.Created}}", &o.out()])
            .ok()
            .out();
        assert!(
            created.starts_with("2023-11-14T22:13:20"),
            "created {created}"
        );
        d.shutdown();
        // Touch the context between the builds: mtimes must not matter.
        std::fs::write(dir.join("src/a.py"), "print('a')\n").unwrap();
    }
    assert!(ids[0].starts_with("sha256:"), "{ids:?}");
    assert_eq!(ids[0], ids[1], "two SOURCE_DATE_EPOCH builds differ");
    let _ = std::fs::remove_dir_all(dir);
}

/// The data-science image: Debian (mmdebstrap fixture), apt, a venv and pip packages, built with
/// the default (outbound) network; running it imports numpy. The host's CA bundle goes in from the
/// context (the network may intercept TLS); a second copy under /usr/local/share/ca-certificates
/// survives the `ca-certificates` package regenerating /etc/ssl/certs/ca-certificates.crt.
#[test]
fn data_science_image_on_debian() {
    let _l = shared();
    let h = h();
    let debian = cache_dir().join("debian-bookworm.tar");
    assert!(
        debian.exists(),
        "fixture {} is missing: run `sudo scripts/fixtures.sh --debian`",
        debian.display()
    );
    let base = "berth-e2e/debian:bookworm";
    let img = uname("ds");
    let mut g = h.guard(&[]);
    g.image(&img);
    h.run_opts(
        &["import", path_str(&debian), base],
        None,
        Duration::from_secs(300),
    )
    .ok();
    let dir = context(
        h,
        "ds",
        &[(
            "Dockerfile",
            "FROM berth-e2e/debian:bookworm\n\
             COPY ca-certificates.crt /etc/ssl/certs/\n\
             COPY ca-certificates.crt /usr/local/share/ca-certificates/host-bundle.crt\n\
             ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1\n\
             RUN apt-get update && apt-get install -y --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/*\n\
             RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --cert /etc/ssl/certs/ca-certificates.crt numpy pandas\n",
        )],
    );
    std::fs::copy(
        "/etc/ssl/certs/ca-certificates.crt",
        dir.join("ca-certificates.crt"),
    )
    .expect("copy the host CA bundle (apt-get install ca-certificates)");
    let o = h.run_env(
        &["build", "-t", &img, path_str(&dir)],
        &[],
        None,
        Duration::from_secs(900),
    );
    o.ok().stdout_has("Successfully tagged ");
    let out = run_in(
        h,
        &img,
        &[
            "/opt/venv/bin/python",
            "-c",
            "import numpy, pandas; print(numpy.__version__); print(int(numpy.arange(4).sum()))",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].split('.').count() >= 2, "numpy version {out}");
    assert_eq!(lines[1], "6");
    let _ = std::fs::remove_dir_all(dir);
}

/// A context tar holding one `Dockerfile`.
fn dockerfile_tar(text: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(text.len() as u64);
    hd.set_mode(0o644);
    hd.set_cksum();
    b.append_data(&mut hd, "Dockerfile", text.as_bytes())
        .unwrap();
    b.into_inner().unwrap()
}

/// `POST /build` on the wire: an error before any output is an HTTP error; a failing RUN is a
/// 200 stream ending in `errorDetail` with the exit code; `q=1` answers only the image ID.
#[test]
fn build_endpoint_on_the_wire() {
    let _l = shared();
    let h = h();
    let sock = sock_of(&h.host);
    let post = |query: &str, body: &[u8]| {
        let mut req = format!(
            "POST /v1.41/build?{query} HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        http_bytes(&sock, &req, BUILD_TIMEOUT).expect("POST /build")
    };
    let (status, body) = post(
        "rm=1",
        &dockerfile_tar(&format!("FROM {}\nFOO bar\n", h.image)),
    );
    assert_eq!(status, 400, "{body}");
    let v: serde_json::Value = serde_json::from_str(body.trim()).expect("JSON error");
    assert_eq!(
        v["message"],
        "dockerfile parse error line 2: unknown instruction: FOO"
    );

    let (status, body) = post(
        "rm=1",
        &dockerfile_tar(&format!("FROM {}\nRUN echo out; exit 4\n", h.image)),
    );
    assert_eq!(status, 200, "{body}");
    let msgs: Vec<serde_json::Value> = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let text: String = msgs.iter().filter_map(|m| m["stream"].as_str()).collect();
    assert!(text.contains("Step 2/2 : RUN echo out; exit 4"), "{text}");
    assert!(text.contains("out\n"), "{text}");
    let last = msgs.last().expect("messages");
    let msg = "The command '/bin/sh -c echo out; exit 4' returned a non-zero code: 4";
    assert_eq!(
        *last,
        serde_json::json!({"errorDetail": {"code": 4, "message": msg}, "error": msg})
    );

    let (status, body) = post(
        "q=1",
        &dockerfile_tar(&format!("FROM {}\nENV Q=1\n", h.image)),
    );
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{body}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let id = v["stream"].as_str().expect("stream");
    assert!(id.starts_with("sha256:") && id.ends_with('\n'), "{id:?}");
    let _ = h.run(&["rmi", id.trim()]);
}

/// `-f` outside the context: the CLI adds it under a random name that `COPY .` leaves out.
#[test]
fn dockerfile_outside_the_context() {
    let _l = shared();
    let h = h();
    let img = uname("outside");
    let mut g = h.guard(&[]);
    g.image(&img);
    let dir = context(
        h,
        "outside",
        &[
            (
                "other/Df",
                "FROM BASE\nCOPY . /all/\nCMD [\"ls\", \"-A\", \"/all\"]\n",
            ),
            ("ctx/x", "x\n"),
        ],
    );
    let df = dir.join("other/Df");
    build(h, &["-t", &img, "-f", path_str(&df)], &dir.join("ctx"), &[]).ok();
    // The .dockerignore the CLI made up to hide the Dockerfile hides itself too.
    assert_eq!(run_in(h, &img, &[]), "x\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn killing_the_client_cancels_the_build_and_removes_its_container() {
    let _l = exclusive();
    let h = h();
    let token = uname("cancel");
    let dir = context(
        h,
        "cancel",
        &[(
            "Dockerfile",
            &format!("FROM BASE\nRUN echo {token} && sleep 30\n"),
        )],
    );
    let all_before = h.run(&["ps", "-aq", "--no-trunc"]).ok().lines();
    let mut client = h.spawn(&["build", "--no-cache", path_str(&dir)]);
    // The RUN step's container is running.
    h.wait_until("the RUN container to run", Duration::from_secs(60), || {
        h.run(&["ps", "-q", "--no-trunc"])
            .ok()
            .lines()
            .iter()
            .any(|id| !all_before.contains(id))
    });
    client.kill().expect("kill the build client");
    let _ = client.wait();
    h.wait_until(
        "the build container to be removed",
        Duration::from_secs(20),
        || {
            h.run(&["ps", "-aq", "--no-trunc"])
                .ok()
                .lines()
                .iter()
                .all(|id| all_before.contains(id))
        },
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn build_without_a_path_is_a_usage_error() {
    let h = h();
    let o = h.run(&["build"]);
    o.code(1)
        .stderr_has("requires exactly 1 argument.")
        .stderr_has("build [OPTIONS] PATH | URL | -");
}
