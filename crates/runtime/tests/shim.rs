//! End-to-end tests of the shim on real containers (busybox rootfs).
//! They need root, overlayfs and /bin/busybox (Debian's busybox-static);
//! otherwise they print why and pass without checking anything.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use berth_runtime::{logs, read_exit, read_state, shim_alive, signal, NetworkMode, RuntimeError};
use common::*;

#[test]
fn echo_is_logged_and_cleaned_up() {
    require_env!();
    let f = fixture(&["echo", "hi"]);
    // prepare_exec_root is idempotent (a second call keeps the tmpfs).
    berth_runtime::prepare_exec_root(&f.exec_root).unwrap();
    let started = start(&f).unwrap();
    assert!(started.init_pid > 0 && started.shim_pid > 0);
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .matches(f.exec_root.join("runtime").to_str().unwrap())
            .count(),
        1
    );
    let state = read_state(&f.dir).unwrap().unwrap();
    assert_eq!(state.init_pid, started.init_pid);
    let exit = wait_exit(&f);
    assert_eq!(exit.exit_code, 0);
    assert!(!exit.oom_killed);
    let (entries, _) = logs::read_entries(&f.spec.log_path, None, None, None).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].log, "hi\n");
    assert_eq!(entries[0].stream, "stdout");
    // Cleaned up: rootfs unmounted, libcontainer state gone, cgroup gone.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(f.spec.rootfs.target.to_str().unwrap()));
    assert!(!f.exec_root.join("runtime").join(&f.spec.id).exists());
    assert!(!Path::new("/sys/fs/cgroup/memory/berth-test")
        .join(&f.spec.id)
        .exists());
    // The shim is gone (give it a moment to exit after writing exit.json).
    let deadline = Instant::now() + Duration::from_secs(5);
    while shim_alive(&state) {
        assert!(Instant::now() < deadline, "shim still alive");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn exit_codes_and_streams() {
    require_env!();
    assert_eq!(run_args(&["sh", "-c", "exit 3"]).0, 3);
    let f = fixture(&["sh", "-c", "echo out; echo err >&2; printf partial"]);
    let (code, _) = run(&f);
    assert_eq!(code, 0);
    let (entries, _) = logs::read_entries(&f.spec.log_path, None, None, None).unwrap();
    let mut got: Vec<(String, String)> = entries.into_iter().map(|e| (e.stream, e.log)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("stderr".to_string(), "err\n".to_string()),
            ("stdout".to_string(), "out\n".to_string()),
            ("stdout".to_string(), "partial".to_string()),
        ]
    );
}

#[test]
fn kill_gives_128_plus_signal() {
    require_env!();
    let f = fixture(&["sleep", "100"]);
    let _ = start(&f).unwrap();
    let state = read_state(&f.dir).unwrap().unwrap();
    assert!(shim_alive(&state));
    assert!(read_exit(&f.dir).unwrap().is_none());
    let pidfd = berth_runtime::shim_pidfd(&state).unwrap();
    signal(&state, libc::SIGKILL).unwrap();
    assert_eq!(wait_exit(&f).exit_code, 137);
    // The shim's pidfd turns readable when the shim exits after recording the exit.
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(
        pidfd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap();
    assert_eq!(n, 1, "shim did not exit");
    // Signalling an exited container is not an error.
    signal(&state, libc::SIGTERM).unwrap();
}

#[test]
fn sandbox_defaults() {
    require_env!();
    let f = fixture(&["hostname"]);
    let want = f.spec.hostname.clone();
    assert_eq!(run(&f), (0, format!("{want}\n")));
    let (code, out) = run_args(&["sh", "-c", "grep CapEff /proc/self/status"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.split_whitespace().nth(1),
        Some("00000000a80425fb"),
        "{out}"
    );
    // Masked paths read as empty (/proc/kcore may not exist on this kernel).
    assert_eq!(
        run_args(&["sh", "-c", "wc -c < /proc/timer_list; cat /proc/keys | wc -c; [ ! -s /proc/kcore ] && echo kcore-empty"]),
        (0, "0\n0\nkcore-empty\n".into())
    );
    // Read-only /proc/sys.
    let (code, _) = run_args(&["sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid"]);
    assert_ne!(code, 0);
    // Seccomp: unshare is refused.
    let (code, out) = run_args(&["unshare", "-n", "true"]);
    assert_ne!(code, 0, "{out}");
    assert_eq!(run_args(&["cat", "/etc/hosts"]).1, "127.0.0.1\tlocalhost\n");
    let (code, out) = run_args(&["sh", "-c", "df -k /dev/shm | tail -1"]);
    assert_eq!(code, 0);
    assert_eq!(out.split_whitespace().nth(1), Some("65536"), "{out}");
    let (_, out) = run_args(&["sh", "-c", "echo $HOME; pwd"]);
    assert_eq!(out, "/root\n/\n");
}

#[test]
fn user_and_workdir() {
    require_env!();
    let mut f = fixture(&["sh", "-c", "id -u; id -g; echo $HOME"]);
    f.spec.user = "1000:1000".into();
    assert_eq!(run(&f), (0, "1000\n1000\n/home/alice\n".into()));
    let mut f = fixture(&["id", "-G"]);
    f.spec.user = "alice".into();
    assert_eq!(run(&f).1, "1000 50\n");
    let mut f = fixture(&["pwd"]);
    f.spec.cwd = "/made/by/berth".into();
    assert_eq!(run(&f), (0, "/made/by/berth\n".into()));
    let mut f = fixture(&["true"]);
    f.spec.user = "nosuchuser".into();
    let e = start(&f).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unable to find user nosuchuser: no matching entries in passwd file"
    );
}

#[test]
fn start_errors_are_dockers() {
    require_env!();
    let f = fixture(&["nosuch"]);
    let e = start(&f).unwrap_err();
    assert!(matches!(e, RuntimeError::Start(_)));
    assert_eq!(
        e.to_string(),
        "exec: \"nosuch\": executable file not found in $PATH"
    );
    // Nothing is left behind.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(f.spec.rootfs.target.to_str().unwrap()));
    assert!(!f.exec_root.join("runtime").join(&f.spec.id).exists());
    let e = start(&fixture(&["/nosuch"])).unwrap_err();
    assert!(e.to_string().contains("no such file or directory"), "{e}");
    let e = start(&fixture(&["/etc/notexec"])).unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
}

#[test]
fn networks() {
    require_env!();
    let (code, out) = run_args(&["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok"]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "lo");
    assert_eq!(lines[1], "unknown"); // lo reports "unknown" when up
    assert_eq!(lines[2], "ping-ok");
    let mut f = fixture(&["ls", "/sys/class/net"]);
    f.spec.network = NetworkMode::Host;
    let host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let (_, out) = run(&f);
    assert_eq!(out.split_whitespace().count(), host.len(), "{out}");
}

#[test]
fn readonly_rootfs() {
    require_env!();
    let mut f = fixture(&[
        "sh",
        "-c",
        "touch /x 2>/dev/null && echo writable || echo readonly; touch /dev/shm/ok && echo shm-ok",
    ]);
    f.spec.rootfs.readonly = true;
    assert_eq!(run(&f), (0, "readonly\nshm-ok\n".into()));
    // A writable container keeps its changes in the upper dir.
    let f = fixture(&["sh", "-c", "echo data > /newfile"]);
    assert_eq!(run(&f).0, 0);
    assert_eq!(
        std::fs::read_to_string(f.spec.rootfs.upper_dir.join("newfile")).unwrap(),
        "data\n"
    );
}

#[test]
fn cleanup_after_shim_killed() {
    require_env!();
    let f = fixture(&["sleep", "100"]);
    start(&f).unwrap();
    let state = read_state(&f.dir).unwrap().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(state.shim_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while shim_alive(&state) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    // The container outlives its shim until cleaned up.
    assert!(Path::new(&format!("/proc/{}", state.init_pid)).exists());
    assert!(read_exit(&f.dir).unwrap().is_none());
    berth_runtime::cleanup(&f.dir, &f.exec_root);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{}/stat", state.init_pid))
        .is_ok_and(|s| !s.contains(") Z"))
    {
        assert!(Instant::now() < deadline, "container init survived cleanup");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(f.spec.rootfs.target.to_str().unwrap()));
    assert!(!f.exec_root.join("runtime").join(&f.spec.id).exists());
    assert!(!Path::new("/sys/fs/cgroup/memory/berth-test")
        .join(&f.spec.id)
        .exists());
    // Idempotent.
    berth_runtime::cleanup(&f.dir, &f.exec_root);
}

#[test]
fn oom_kill_is_recorded() {
    require_env!();
    let mut f = fixture(&["sh", "-c", "x=a; while true; do x=$x$x; done"]);
    f.spec.memory = 16 << 20;
    let (code, _) = run(&f);
    let exit = read_exit(&f.dir).unwrap().unwrap();
    assert_eq!(code, 137);
    assert!(exit.oom_killed);
}

#[test]
fn invalid_executable_fails_like_runc() {
    require_env!();
    // Executable bit but not a program: no /bin/sh fallback (glibc execvp's),
    // the container prints the exec error and exits 1, as with Docker 20.10.
    let f = fixture(&["/etc/notexec"]);
    let etc = f.spec.rootfs.upper_dir.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("notexec"), "garbage").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(etc.join("notexec"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        run(&f),
        (
            1,
            "exec user process caused: exec format error\n".to_string()
        )
    );
}
