//! Fixtures shared by the runtime's integration tests: real busybox
//! containers run through the shim.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_runtime::{
    logs, read_exit, spawn_shim, ContainerSpec, ExitInfo, RuntimeError, ShimStarted,
};

pub const SHIM: &str = env!("CARGO_BIN_EXE_berth-runtime-shim");

pub fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("/bin/busybox missing (apt-get install busybox-static)".into());
    }
    None
}

/// Whether env `CI` is set (non-empty, not "false" or "0"): tests must then
/// run, not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A busybox layer shared by all tests of this process.
pub fn layer() -> &'static Path {
    static LAYER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LAYER.get_or_init(|| {
        let dir = Path::new("/var/tmp/berth-runtime-test-layer");
        if dir.join("etc/notexec").exists() {
            return dir.to_path_buf();
        }
        // Built aside then renamed, so concurrent test processes never see half a layer.
        let tmp = PathBuf::from(format!("{}.{}", dir.display(), std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let final_dir = dir;
        let dir = tmp.as_path();
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        let list = std::process::Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .unwrap();
        for name in String::from_utf8_lossy(&list.stdout).lines() {
            if name != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", bin.join(name));
            }
        }
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("etc/group"),
            "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/notexec"), "data").unwrap();
        if std::fs::rename(dir, final_dir).is_err() {
            // Another process won the race.
            let _ = std::fs::remove_dir_all(dir);
        }
        final_dir.to_path_buf()
    })
}

pub struct Fixture {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub exec_root: PathBuf,
    pub spec: ContainerSpec,
}

pub fn fixture(args: &[&str]) -> Fixture {
    let tmp = tempfile::Builder::new()
        .prefix("berth-runtime-test")
        .tempdir_in("/var/tmp")
        .unwrap();
    let id = random_id();
    let dir = tmp.path().join("containers").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let exec_root = tmp.path().join("run");
    berth_runtime::prepare_exec_root(&exec_root).unwrap();
    let mut spec = ContainerSpec::with_defaults(&id, &dir);
    spec.rootfs.lower_dirs = vec![layer().to_path_buf()];
    spec.args = args.iter().map(|s| s.to_string()).collect();
    spec.env = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        format!("HOSTNAME={}", spec.hostname),
    ];
    spec.cgroup_parent = "berth-test".into();
    std::fs::write(&spec.hosts_path, "127.0.0.1\tlocalhost\n").unwrap();
    std::fs::write(&spec.hostname_path, format!("{}\n", spec.hostname)).unwrap();
    std::fs::write(&spec.resolv_conf_path, "nameserver 127.0.0.1\n").unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        exec_root,
        spec,
    }
}

/// 64 random hex chars (from the kernel's uuid generator).
pub fn random_id() -> String {
    let mut id = String::new();
    while id.len() < 64 {
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap();
        id.extend(uuid.chars().filter(|c| c.is_ascii_hexdigit()));
    }
    id.truncate(64);
    id
}

impl Drop for Fixture {
    fn drop(&mut self) {
        berth_runtime::mount::unmount_all(&self.exec_root.join("runtime"));
    }
}

pub fn start(f: &Fixture) -> Result<ShimStarted, RuntimeError> {
    f.spec.save(&f.dir).unwrap();
    spawn_shim(Path::new(SHIM), &f.dir, &f.exec_root)
}

pub fn wait_exit(f: &Fixture) -> ExitInfo {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(e) = read_exit(&f.dir).unwrap() {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "container did not exit; shim.log: {}",
            std::fs::read_to_string(f.dir.join("shim.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn output(f: &Fixture) -> String {
    let (entries, _) = logs::read_entries(&f.spec.log_path, None, None, None).unwrap();
    entries.iter().map(|e| e.log.as_str()).collect()
}

/// Run to completion; returns (exit code, combined output).
pub fn run(f: &Fixture) -> (i32, String) {
    start(f).unwrap_or_else(|e| panic!("start failed: {e}"));
    let exit = wait_exit(f);
    (exit.exit_code, output(f))
}

pub fn run_args(args: &[&str]) -> (i32, String) {
    run(&fixture(args))
}

#[macro_export]
macro_rules! require_env {
    () => {
        if let Some(why) = $crate::common::skip_reason() {
            if $crate::common::in_ci() {
                panic!("cannot run under CI: {why}");
            }
            eprintln!("skipping: {why}");
            return;
        }
    };
}
