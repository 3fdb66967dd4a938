//! End-to-end test harness: drives the real `berth` binary (default) or, with
//! `BERTH_E2E_CLI=docker`, Debian's docker CLI against the reference dockerd
//! (`../shared/tools/docker-oracle start`), so every test can be validated against Docker.
//!
//! Per test binary, ONE berth daemon is started (lazily) with its own data root, exec root and
//! socket under /tmp; it is spawned with `PR_SET_PDEATHSIG` from a thread that lives as long as the
//! test process, so it dies with the test process. The busybox fixture
//! (`scripts/fixtures.sh` -> /var/cache/berth-test/busybox.tar) is imported once.
//!
//! Environment:
//! - `BERTH_E2E_CLI=docker`: use the docker CLI (`BERTH_E2E_DOCKER`, default /usr/bin/docker, the
//!   docker.io 20.10 client) against `DOCKER_HOST` (default unix:///run/docker-oracle.sock).
//! - `BERTH_TEST_CACHE`: fixture directory (default /var/cache/berth-test).
//! - `BERTH_E2E_HOST`: tests that use [`h_host`] run the berth CLI against this daemon instead
//!   (e.g. `unix:///run/docker-oracle.sock`, the reference dockerd).
//!
//! Without root or without fixtures the harness panics with the reason: tests never pass silently.
#![allow(dead_code)]

mod procs;
#[allow(unused_imports)]
pub use procs::*;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Default time limit for one CLI invocation: a hang is a failure, not a stuck CI.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(90);

/// Which CLI/daemon pair the tests drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The `berth` binary and a berth daemon started by the harness.
    Berth,
    /// The docker CLI and the reference dockerd (validation of the tests themselves).
    Docker,
}

/// The per-test-binary environment.
pub struct Harness {
    /// Berth or Docker.
    pub mode: Mode,
    /// The CLI executable.
    pub cli: PathBuf,
    /// `unix:///...` the CLI talks to.
    pub host: String,
    /// The daemon (berth mode only).
    pub daemon: Option<Daemon>,
    /// The busybox test image reference, imported once.
    pub image: String,
    /// Its ID (`sha256:...`).
    pub image_id: String,
}

/// Fixture cache directory.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("BERTH_TEST_CACHE").unwrap_or_else(|_| "/var/cache/berth-test".into()),
    )
}

/// Path of a fixture, panicking with instructions if missing.
pub fn fixture(rel: &str) -> PathBuf {
    let p = cache_dir().join(rel);
    assert!(
        p.exists(),
        "fixture {} is missing: run `sudo scripts/fixtures.sh` first (CI does it in .ci/run)",
        p.display()
    );
    p
}

/// The berth binary built by cargo for these tests.
pub fn berth_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

fn check_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "berth e2e tests run real containers and must run as root (CI runs them as root)"
    );
}

/// The harness, or why it could not be set up (kept so that every later test fails at once
/// with the same reason instead of retrying a broken daemon).
static HARNESS: OnceLock<Result<Harness, String>> = OnceLock::new();

/// The shared harness for this test binary (starts the daemon and imports busybox on first use).
#[track_caller]
pub fn h() -> &'static Harness {
    let r = HARNESS.get_or_init(|| {
        std::panic::catch_unwind(setup).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into())
        })
    });
    match r {
        Ok(h) => h,
        Err(e) => panic!("e2e harness setup failed: {e}"),
    }
}

fn setup() -> Harness {
    check_root();
    remove_stale_dirs();
    let bb = fixture("busybox.tar");
    let mode = match std::env::var("BERTH_E2E_CLI").as_deref() {
        Ok("docker") => Mode::Docker,
        Ok("berth") | Err(_) => Mode::Berth,
        Ok(other) => panic!("BERTH_E2E_CLI={other}: expected berth or docker"),
    };
    let (cli, host, daemon) = match mode {
        Mode::Docker => {
            let cli = PathBuf::from(
                std::env::var("BERTH_E2E_DOCKER").unwrap_or_else(|_| "/usr/bin/docker".into()),
            );
            let host = std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into());
            (cli, host, None)
        }
        Mode::Berth => {
            let d = Daemon::new(&unique_tmp_dir("shared"));
            d.start();
            (berth_exe(), d.host.clone(), Some(d))
        }
    };
    let image = "berth-e2e/busybox:latest".to_string();
    let mut hs = Harness {
        mode,
        cli,
        host,
        daemon,
        image: image.clone(),
        image_id: String::new(),
    };
    let out = hs.run(&["import", path_str(&bb), &image]);
    out.ok();
    hs.image_id = out.stdout.trim().to_string();
    assert!(
        hs.image_id.starts_with("sha256:"),
        "import printed {:?}",
        out.stdout
    );
    hs
}

/// The harness of tests that drive the *berth CLI* against another daemon: with
/// `BERTH_E2E_HOST` set (e.g. `unix:///run/docker-oracle.sock`, the reference dockerd) the
/// berth binary talks to that daemon (busybox imported there as `berth-e2e-host/busybox`);
/// otherwise this is [`h`].
pub fn h_host() -> &'static Harness {
    static OWN: OnceLock<Harness> = OnceLock::new();
    let Ok(host) = std::env::var("BERTH_E2E_HOST") else {
        return h();
    };
    OWN.get_or_init(|| {
        check_root();
        let image = "berth-e2e-host/busybox:latest".to_string();
        let mut hs = Harness {
            mode: Mode::Berth,
            cli: berth_exe(),
            host,
            daemon: None,
            image: image.clone(),
            image_id: String::new(),
        };
        let out = hs.run(&["import", path_str(&fixture("busybox.tar")), &image]);
        out.ok();
        hs.image_id = out.stdout.trim().to_string();
        hs
    })
}

/// The name the CLI under test gives itself in its messages (`berth: ...`, `See 'docker run --help'`).
pub fn cli_name(h: &Harness) -> &'static str {
    match h.mode {
        Mode::Berth => "berth",
        Mode::Docker => "docker",
    }
}

/// Removes `/tmp/berth-e2e-*` directories left by earlier test processes that are gone, unless
/// something is still mounted below them (a container that outlived its test).
fn remove_stale_dirs() {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("berth-e2e-") else {
            continue;
        };
        // berth-e2e-<bin>-<pid>-<tag><n>
        let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = format!("/tmp/{name}/");
        // The read-only bind of the berth binary a killed daemon left (shims that still
        // run from it keep it alive once detached).
        for m in mounts.lines().filter_map(|l| l.split(' ').nth(4)) {
            if m.starts_with(&dir) && m.ends_with("/bin/berth") {
                let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        if mounts.lines().any(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| m.starts_with(&dir) && !m.ends_with("/bin/berth"))
        }) {
            continue;
        }
        let _ = std::fs::remove_dir_all(e.path());
    }
}

/// A fresh directory under /tmp for one daemon (or test), unique per process and call.
pub fn unique_tmp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let exe = std::env::current_exe().ok();
    let bin = exe
        .as_ref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .map(|s| s.split('-').next().unwrap_or(s).to_string())
        .unwrap_or_else(|| "t".into());
    let p = PathBuf::from(format!(
        "/tmp/berth-e2e-{bin}-{}-{tag}{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    p
}

/// A name unique to this process, for containers and images: `e2e-<tag>-<pid><n>`.
pub fn uname(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "e2e-{tag}-{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// `Path` as `&str` (test paths are ASCII).
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// The result of one CLI invocation.
#[derive(Debug)]
pub struct Out {
    /// The command line (for messages).
    pub cmd: String,
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// stdout, lossily decoded.
    pub stdout: String,
    /// stdout bytes.
    pub raw: Vec<u8>,
    /// stderr, lossily decoded.
    pub stderr: String,
}

impl Out {
    pub fn describe(&self) -> String {
        format!(
            "`{}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }
    /// Asserts exit 0; returns self.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success: {}", self.describe());
        self
    }
    /// Asserts a specific exit code.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}: {}", self.describe());
        self
    }
    /// Asserts failure (non-zero).
    #[track_caller]
    pub fn fails(&self) -> &Self {
        assert_ne!(self.code, 0, "expected failure: {}", self.describe());
        self
    }
    /// Asserts stdout equals `s` exactly.
    #[track_caller]
    pub fn stdout_is(&self, s: &str) -> &Self {
        assert_eq!(self.stdout, s, "stdout mismatch: {}", self.describe());
        self
    }
    /// Asserts stdout contains `s`.
    #[track_caller]
    pub fn stdout_has(&self, s: &str) -> &Self {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}: {}",
            self.describe()
        );
        self
    }
    /// Asserts stderr contains `s`.
    #[track_caller]
    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}: {}",
            self.describe()
        );
        self
    }
    /// Trimmed stdout.
    pub fn out(&self) -> String {
        self.stdout.trim().to_string()
    }
    /// Non-empty stdout lines.
    pub fn lines(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// Runs `exe args` with `env`, stdin from `stdin` (or /dev/null), within `timeout`.
pub fn run_cmd(
    exe: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&Path>,
    timeout: Duration,
) -> Out {
    let mut outf = tempfile::tempfile().expect("tempfile");
    let mut errf = tempfile::tempfile().expect("tempfile");
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdout(outf.try_clone().expect("dup"))
        .stderr(errf.try_clone().expect("dup"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    match stdin {
        Some(p) => {
            cmd.stdin(
                std::fs::File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display())),
            );
        }
        None => {
            cmd.stdin(Stdio::null());
        }
    }
    let line = format!("{} {}", exe.display(), args.join(" "));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {line}: {e}"));
    let code = wait_timeout(&mut child, timeout).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        let mut o = String::new();
        let mut e = String::new();
        use std::io::Seek;
        let _ = outf.rewind();
        let _ = errf.rewind();
        let _ = outf.read_to_string(&mut o);
        let _ = errf.read_to_string(&mut e);
        panic!("`{line}` did not finish within {timeout:?} (killed)\n--- stdout ---\n{o}\n--- stderr ---\n{e}")
    });
    use std::io::Seek;
    let mut raw = Vec::new();
    let mut err = Vec::new();
    outf.rewind().expect("rewind");
    errf.rewind().expect("rewind");
    outf.read_to_end(&mut raw).expect("read stdout");
    errf.read_to_end(&mut err).expect("read stderr");
    Out {
        cmd: line,
        code,
        stdout: String::from_utf8_lossy(&raw).into_owned(),
        raw,
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// Waits for a child up to `timeout`; `None` on timeout. Exit by signal n gives 128+n.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Polls `f` every 50 ms until it returns true or `timeout` passes; panics with `what`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for: {what}");
}

/// Arguments of `run -d --name NAME [OPTS...] IMAGE [CMD...]`.
pub fn run_d_args<'a>(
    name: &'a str,
    opts: &[&'a str],
    image: &'a str,
    cmd: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(opts);
    args.push(image);
    args.extend_from_slice(cmd);
    args
}

impl Harness {
    /// Runs the CLI with `args` (host selected with `-H`).
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_opts(args, None, CMD_TIMEOUT)
    }
    /// Runs the CLI with stdin from a file.
    pub fn run_stdin(&self, args: &[&str], stdin: &Path) -> Out {
        self.run_opts(args, Some(stdin), CMD_TIMEOUT)
    }
    /// Runs the CLI with options.
    pub fn run_opts(&self, args: &[&str], stdin: Option<&Path>, timeout: Duration) -> Out {
        let mut full: Vec<&str> = vec!["-H", &self.host];
        full.extend_from_slice(args);
        run_cmd(&self.cli, &full, &[], stdin, timeout)
    }
    /// Runs the CLI with extra environment variables, optional stdin and a time limit. In docker
    /// mode `DOCKER_BUILDKIT=0` is added, so the docker CLI uses the classic builder.
    pub fn run_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&Path>,
        timeout: Duration,
    ) -> Out {
        let mut full: Vec<&str> = vec!["-H", &self.host];
        full.extend_from_slice(args);
        let mut env: Vec<(&str, &str)> = env.to_vec();
        if self.mode == Mode::Docker {
            env.push(("DOCKER_BUILDKIT", "0"));
        }
        run_cmd(&self.cli, &full, &env, stdin, timeout)
    }
    /// `run -d --name NAME [OPTS...] <test image> CMD...`.
    pub fn run_d(&self, name: &str, opts: &[&str], cmd: &[&str]) -> Out {
        self.run(&run_d_args(name, opts, &self.image, cmd))
    }
    /// Spawns the CLI in the background (e.g. `logs -f`), stdout/stderr piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        Command::new(&self.cli)
            .arg("-H")
            .arg(&self.host)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cli")
    }
    /// True when driving berth.
    pub fn is_berth(&self) -> bool {
        self.mode == Mode::Berth
    }
    /// `inspect -f FORMAT target`, trimmed stdout (asserts success).
    #[track_caller]
    pub fn inspect_f(&self, target: &str, format: &str) -> String {
        self.run(&["inspect", "-f", format, target]).ok().out()
    }
    /// `inspect target` parsed (the first element of the JSON array).
    #[track_caller]
    pub fn inspect_json(&self, target: &str) -> serde_json::Value {
        let out = self.run(&["inspect", target]);
        out.ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("inspect output is not JSON ({e}): {}", out.stdout));
        v.get(0)
            .cloned()
            .unwrap_or_else(|| panic!("inspect printed an empty array: {}", out.stdout))
    }
    /// Removes these containers (`rm -f`) when dropped, even if the test panics.
    pub fn guard(&'static self, names: &[&str]) -> Guard {
        Guard {
            h: self,
            containers: names.iter().map(|s| s.to_string()).collect(),
            images: vec![],
        }
    }
    /// Polls `f` every 50 ms until it returns true or `timeout` passes; panics with `what`.
    #[track_caller]
    pub fn wait_until(&self, what: &str, timeout: Duration, f: impl FnMut() -> bool) {
        wait_until(what, timeout, f);
    }
    /// `inspect -f {{.State.Status}}` (None if the command fails).
    pub fn status_of(&self, target: &str) -> Option<String> {
        let o = self.run(&["inspect", "-f", "{{.State.Status}}", target]);
        (o.code == 0).then(|| o.out())
    }
    /// Skips (returns true and prints why) in docker mode for berth-only tests.
    pub fn berth_only(&self, test: &str) -> bool {
        if self.mode == Mode::Docker {
            eprintln!("{test}: berth-only test, skipped under BERTH_E2E_CLI=docker");
            return true;
        }
        false
    }
}

/// Cleans up containers and images on drop.
pub struct Guard {
    h: &'static Harness,
    /// Containers to `rm -f`.
    pub containers: Vec<String>,
    /// Images to `rmi -f`.
    pub images: Vec<String>,
}

impl Guard {
    /// Also remove this container.
    pub fn container(&mut self, name: &str) {
        self.containers.push(name.to_string());
    }
    /// Also remove this image.
    pub fn image(&mut self, name: &str) {
        self.images.push(name.to_string());
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(self.containers.iter().map(String::as_str));
            let _ = self.h.run_opts(&args, None, Duration::from_secs(30));
        }
        if !self.images.is_empty() {
            let mut args = vec!["rmi", "-f"];
            args.extend(self.images.iter().map(String::as_str));
            let _ = self.h.run_opts(&args, None, Duration::from_secs(30));
        }
    }
}

/// A berth daemon with its own data root, exec root and socket.
pub struct Daemon {
    /// Directory holding everything of this daemon.
    pub dir: PathBuf,
    /// `--data-root`.
    pub data_root: PathBuf,
    /// `--exec-root`.
    pub exec_root: PathBuf,
    /// Socket path.
    pub sock: PathBuf,
    /// `unix://<sock>`.
    pub host: String,
    /// The daemon's stderr.
    pub log: PathBuf,
    child: Mutex<Option<Child>>,
}

/// Spawns a command from a thread that never exits, so `PR_SET_PDEATHSIG` (which fires when the
/// spawning *thread* exits) only fires when the whole test process goes away.
fn spawn_with_deathsig(mut cmd: Command) -> std::io::Result<Child> {
    // SAFETY: the closure runs in the forked child before exec and only calls prctl and getppid,
    // which are async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            // SIGTERM: the daemon shuts down gracefully and removes its
            // bridges and firewall chains (a SIGKILL would leak them).
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = cmd.spawn();
        let _ = tx.send(r);
        loop {
            std::thread::park();
        }
    });
    rx.recv()
        .map_err(|e| std::io::Error::other(e.to_string()))?
}

impl Daemon {
    /// Prepares (does not start) a daemon rooted in `dir`.
    pub fn new(dir: &Path) -> Daemon {
        let data_root = dir.join("data");
        let exec_root = dir.join("exec");
        let sock = dir.join("berth.sock");
        std::fs::create_dir_all(&data_root).expect("mkdir data root");
        std::fs::create_dir_all(&exec_root).expect("mkdir exec root");
        Daemon {
            dir: dir.to_path_buf(),
            host: format!("unix://{}", sock.display()),
            data_root,
            exec_root,
            sock,
            log: dir.join("daemon.log"),
            child: Mutex::new(None),
        }
    }

    /// A started private daemon in a fresh directory tagged `tag`, with the busybox fixture
    /// imported as `busybox:e2e` (the image [`Daemon::run_d`] runs).
    pub fn with_busybox(tag: &str) -> Daemon {
        let d = Daemon::new(&unique_tmp_dir(tag));
        d.start();
        d.run(&["import", path_str(&fixture("busybox.tar")), "busybox:e2e"])
            .ok();
        d
    }

    /// `run -d --name NAME [OPTS...] busybox:e2e CMD...` on this daemon.
    pub fn run_d(&self, name: &str, opts: &[&str], cmd: &[&str]) -> Out {
        self.run(&run_d_args(name, opts, "busybox:e2e", cmd))
    }

    /// Starts the daemon and waits (up to 20 s) until `/_ping` answers.
    pub fn start(&self) {
        self.start_with(None, &[]);
    }

    /// Starts the daemon from `sh -c "SHELL_PREFIX; exec berth daemon ..."` (e.g. to hand it
    /// descriptors it inherits, as a user's shell would), or directly when `None`.
    pub fn start_through(&self, shell_prefix: Option<&str>) {
        self.start_with(shell_prefix, &[]);
    }

    /// [`Daemon::start`] with extra daemon flags (`--insecure-registry`, ...).
    pub fn start_args(&self, extra: &[&str]) {
        self.start_with(None, extra);
    }

    fn start_with(&self, shell_prefix: Option<&str>, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("daemon log");
        let mut cmd = match shell_prefix {
            Some(prefix) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("{prefix}; exec \"$0\" \"$@\""))
                    .arg(berth_exe());
                c
            }
            None => Command::new(berth_exe()),
        };
        cmd.arg("daemon")
            .arg("--data-root")
            .arg(&self.data_root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("-H")
            .arg(&self.host)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log);
        let mut child = spawn_with_deathsig(cmd).expect("spawn berth daemon");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, _)) = http(
                &self.sock,
                "GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
            ) {
                break;
            }
            if let Some(st) = child.try_wait().expect("try_wait") {
                panic!(
                    "berth daemon exited ({st}) before answering /_ping; log:\n{}",
                    self.log_text()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "berth daemon did not answer /_ping within 20 s; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        *self.child.lock().expect("lock") = Some(child);
    }

    /// `kill -9` the daemon (containers and shims keep running) and reap it.
    pub fn kill9(&self) {
        if let Some(mut c) = self.child.lock().expect("lock").take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// True while the daemon process runs.
    pub fn running(&self) -> bool {
        match self.child.lock().expect("lock").as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The daemon's pid, if started.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().expect("lock").as_ref().map(Child::id)
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs the berth CLI against this daemon.
    pub fn run(&self, args: &[&str]) -> Out {
        let mut full: Vec<&str> = vec!["-H", &self.host];
        full.extend_from_slice(args);
        run_cmd(&berth_exe(), &full, &[], None, CMD_TIMEOUT)
    }

    /// Removes every container (`rm -f`), then kills the daemon. Best effort.
    pub fn shutdown(&self) {
        if self.running() {
            let ids = self.run(&["ps", "-aq"]).lines();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids.iter().map(String::as_str));
                let _ = self.run(&args);
            }
        }
        self.terminate();
    }

    /// SIGTERM the daemon (it removes its bridges and firewall chains when
    /// no container runs) and reap it; SIGKILL after 10 s.
    pub fn terminate(&self) {
        let Some(mut c) = self.child.lock().expect("lock").take() else {
            return;
        };
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        if wait_timeout(&mut c, Duration::from_secs(10)).is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sends a raw HTTP/1.1 request on a unix socket and returns (status, body). The request must
/// close the connection (`Connection: close`) or carry a body the server fully answers.
pub fn http(sock: &Path, request: &str) -> std::io::Result<(u16, String)> {
    http_bytes(sock, request.as_bytes(), Duration::from_secs(10))
}

/// Like [`http`] with raw bytes and a read timeout.
pub fn http_bytes(
    sock: &Path,
    request: &[u8],
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(request)?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in response: {text:?}")))?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

/// Decodes an HTTP/1.1 chunked body (lenient: stops at the first malformed chunk).
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            out.push_str(rest.get(..n.min(rest.len())).unwrap_or(""));
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Socket path from a `unix://` host.
pub fn sock_of(host: &str) -> PathBuf {
    PathBuf::from(host.trim_start_matches("unix://"))
}

/// Replaces runs of 12 or more hex digits with `<ID>`, to compare outputs across engines.
pub fn norm_ids(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 12 {
            out.push_str("<ID>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// True if `s` is 64 lowercase hex characters.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lists the entries of a tar archive (names without a leading `./`).
pub fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(bytes);
    let mut names = Vec::new();
    for e in a.entries().expect("tar entries") {
        let e = e.expect("tar entry");
        let p = e.path().expect("tar path").to_string_lossy().into_owned();
        names.push(p.trim_start_matches("./").to_string());
    }
    names
}

/// Reads one file's contents out of a tar archive.
pub fn tar_file(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut a = tar::Archive::new(bytes);
    for e in a.entries().expect("tar entries") {
        let mut e = e.expect("tar entry");
        let p = e.path().expect("tar path").to_string_lossy().into_owned();
        if p.trim_start_matches("./").trim_end_matches('/') == name {
            let mut v = Vec::new();
            e.read_to_end(&mut v).expect("read tar entry");
            return Some(v);
        }
    }
    None
}

/// A TCP port in 20000..30000 that nothing listens on right now (per-process start, so that
/// parallel test processes and other daemons on this host do not collide).
pub fn free_port() -> u16 {
    static NEXT: Mutex<u16> = Mutex::new(0);
    let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
    if *next == 0 {
        *next = 20000 + (std::process::id() % 500) as u16 * 20;
    }
    for _ in 0..10000 {
        let p = *next;
        *next = if p >= 29999 { 20000 } else { p + 1 };
        if std::net::TcpListener::bind(("0.0.0.0", p)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
        {
            return p;
        }
    }
    panic!("no free TCP port in 20000..30000");
}

/// GET `url` from the host with curl (2 s limit); body on success.
pub fn curl(url: &str) -> Option<String> {
    let o = run_cmd(
        &PathBuf::from("curl"),
        &["-s", "--max-time", "2", url],
        &[],
        None,
        Duration::from_secs(10),
    );
    (o.code == 0).then_some(o.stdout)
}

/// The host's own non-loopback IPv4 address (source of its default route).
pub fn host_ip() -> String {
    let o = run_cmd(
        &PathBuf::from("ip"),
        &["-4", "route", "get", "1.1.1.1"],
        &[],
        None,
        Duration::from_secs(10),
    );
    o.ok();
    let words: Vec<&str> = o.stdout.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == "src")
        .and_then(|i| words.get(i + 1))
        .map(|s| s.to_string())
        .unwrap_or_else(|| panic!("no src in `ip route get`: {}", o.stdout))
}

/// Polls [`curl`] on `url` until the trimmed body is `want`; panics after 20 s.
#[track_caller]
pub fn wait_curl(url: &str, want: &str) {
    wait_until(
        &format!("{url} answers {want:?}"),
        Duration::from_secs(20),
        || curl(url).is_some_and(|b| b.trim() == want),
    );
}

/// The host link holding address `gateway` (a network's bridge); panics if none does.
pub fn bridge_holding(gateway: &str) -> String {
    let addrs = run_cmd(
        &PathBuf::from("ip"),
        &["-4", "-o", "addr", "show"],
        &[],
        None,
        Duration::from_secs(10),
    );
    addrs
        .stdout
        .lines()
        .find(|l| l.contains(&format!(" {gateway}/")))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no link holds {gateway}: {}", addrs.stdout))
        .to_string()
}

/// The links enslaved to bridge `bridge` (the veths of its containers).
pub fn links_on(bridge: &str) -> Vec<String> {
    let o = run_cmd(
        &PathBuf::from("ip"),
        &["-o", "link", "show", "master", bridge],
        &[],
        None,
        Duration::from_secs(10),
    );
    o.stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}
