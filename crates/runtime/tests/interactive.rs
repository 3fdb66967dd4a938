//! Attach, stdin, TTY and exec on real containers (busybox rootfs), through
//! the shim and the runtime's attach client.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use berth_runtime::attach::{self, AttachOptions, Output};
use berth_runtime::{
    read_exec_exit, read_state, spawn_exec_shim, spawn_shim_attached, ExecSpec, ExitInfo,
};
use common::*;

const T: Duration = Duration::from_secs(10);

fn start_attached(f: &Fixture, opts: AttachOptions) -> attach::AttachConn {
    f.spec.save(&f.dir).unwrap();
    let (_, conn) = spawn_shim_attached(Path::new(SHIM), &f.dir, &f.exec_root, opts)
        .unwrap_or_else(|e| panic!("start failed: {e}"));
    conn
}

fn contains(hay: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(hay).contains(needle)
}

#[test]
fn stdin_pipe_and_attach_streams() {
    require_env!();
    let mut f = fixture(&[
        "sh",
        "-c",
        "while read l; do echo \"got $l\"; echo \"err $l\" >&2; done; echo bye",
    ]);
    f.spec.open_stdin = true;
    let mut c = start_attached(&f, AttachOptions::all());
    c.send_stdin(b"one\ntwo\n").unwrap();
    let (out, _, _) = c.collect_until(T, |o| contains(o, "got two")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "got one\ngot two\n");
    // A second client attached later sees what follows, stdout only.
    let mut late = attach::connect(
        &f.dir,
        AttachOptions {
            stdin: false,
            stdout: true,
            stderr: false,
        },
    )
    .unwrap();
    // Give the shim a moment to read the ATTACH frame.
    std::thread::sleep(Duration::from_millis(50));
    c.send_stdin(b"three\n").unwrap();
    c.close_stdin().unwrap();
    let (out, err, code) = c.collect_until(T, |_| false).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "got three\nbye\n");
    assert!(contains(&err, "err three"), "{err:?}");
    assert_eq!(code, Some(0));
    let (out2, err2, code2) = late.collect_until(T, |_| false).unwrap();
    assert_eq!(String::from_utf8_lossy(&out2), "got three\nbye\n");
    assert!(err2.is_empty());
    assert_eq!(code2, Some(0));
    let exit = wait_exit(&f);
    assert_eq!(exit.exit_code, 0);
    // Everything is in the log too.
    let log = output(&f);
    assert!(log.contains("got one\n") && log.contains("err two\n") && log.contains("bye\n"));
    assert!(!f.dir.join(attach::ATTACH_SOCKET).exists());
}

#[test]
fn stdin_once_closes_with_first_client() {
    require_env!();
    let mut f = fixture(&["sh", "-c", "cat; echo eof"]);
    f.spec.open_stdin = true;
    f.spec.stdin_once = true;
    let mut c = start_attached(&f, AttachOptions::all());
    c.send_stdin(b"data\n").unwrap();
    let (out, _, _) = c.collect_until(T, |o| contains(o, "data")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "data\n");
    let mut watcher = attach::connect(&f.dir, AttachOptions::default()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(c);
    let (out, _, code) = watcher.collect_until(T, |_| false).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "eof\n");
    assert_eq!(code, Some(0));
}

#[test]
fn without_open_stdin_stdin_is_empty() {
    require_env!();
    let f = fixture(&["sh", "-c", "cat; echo done"]);
    let mut c = start_attached(&f, AttachOptions::all());
    // The container may already be gone (stdin is empty): then the send fails.
    let _ = c.send_stdin(b"ignored\n");
    let (out, _, code) = c.collect_until(T, |_| false).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "done\n");
    assert_eq!(code, Some(0));
}

#[test]
fn client_that_never_reads_holds_the_container_until_it_leaves() {
    require_env!();
    // 64 MiB of output; like Docker, a client that does not read holds the
    // container back (nothing is dropped) until it goes away.
    let f = fixture(&[
        "sh",
        "-c",
        "head -c 67108864 /dev/zero | tr '\\0' x; echo; echo end",
    ]);
    let c = start_attached(&f, AttachOptions::default());
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        berth_runtime::read_exit(&f.dir).unwrap().is_none(),
        "the container did not wait"
    );
    drop(c);
    let started = Instant::now();
    let exit = wait_exit(&f);
    assert_eq!(exit.exit_code, 0);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(output(&f).ends_with("end\n"));
}

#[test]
fn slow_client_gets_all_output_and_the_exit() {
    require_env!();
    // 20 MB of output to a client that sleeps between reads: all of it
    // arrives, exactly, followed by the exit code.
    const SIZE: usize = 20_000_000;
    let f = fixture(&["sh", "-c", "head -c 20000000 /dev/zero | tr '\\0' y"]);
    let mut c = start_attached(&f, AttachOptions::default());
    let mut got = 0usize;
    let mut all_y = true;
    let mut next_pause = 0usize;
    let code = loop {
        match c.recv().unwrap() {
            Some(Output::Stdout(b)) => {
                got += b.len();
                all_y &= b.iter().all(|&x| x == b'y');
                if got >= next_pause {
                    // About 20 MB/s at most: slower than the producer.
                    next_pause = got + (1 << 20);
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Some(Output::Stderr(b)) => panic!("stderr: {:?}", String::from_utf8_lossy(&b)),
            Some(Output::Exit(code)) => break code,
            None => panic!("disconnected after {got} bytes without an exit frame"),
        }
    };
    assert_eq!(got, SIZE);
    assert!(all_y);
    assert_eq!(code, 0);
    assert_eq!(wait_exit(&f).exit_code, 0);
}

#[test]
fn tty_shell() {
    require_env!();
    let mut f = fixture(&["sh"]);
    f.spec.tty = true;
    f.spec.open_stdin = true;
    f.spec.console_size = Some((30, 100));
    let mut c = start_attached(&f, AttachOptions::all());
    let (out, _, _) = c.collect_until(T, |o| contains(o, "# ")).unwrap();
    assert!(contains(&out, "# "), "no prompt: {out:?}");
    c.send_stdin(b"echo hi; stty size; tty\n").unwrap();
    let (out, _, _) = c.collect_until(T, |o| contains(o, "/dev/pts/")).unwrap();
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    assert!(text.contains("\nhi\n"), "{text:?}");
    assert!(text.contains("30 100"), "{text:?}");
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    c.resize(40, 120).unwrap();
    c.send_stdin(b"stty size\n").unwrap();
    // Wait for the size and the next prompt (the shell reads again).
    let after_size = |o: &[u8]| {
        let t = String::from_utf8_lossy(o);
        t.split_once("40 120")
            .is_some_and(|(_, rest)| rest.contains("# "))
    };
    let (out, _, _) = c.collect_until(T, after_size).unwrap();
    assert!(after_size(&out), "{out:?}");
    // Ctrl+D ends the shell.
    c.send_stdin(&[4]).unwrap();
    let (_, _, code) = c.collect_until(T, |_| false).unwrap();
    assert_eq!(code, Some(0));
    assert_eq!(wait_exit(&f).exit_code, 0);
    // The terminal's output is logged as stdout.
    let (entries, _) =
        berth_runtime::logs::read_entries(&f.spec.log_path, None, None, None).unwrap();
    assert!(entries.iter().all(|e| e.stream == "stdout"));
    assert!(entries.iter().any(|e| e.log.contains("hi")));
}

#[test]
fn tty_stdin_close_is_a_noop() {
    require_env!();
    // With a TTY, STDIN_CLOSE does nothing: later stdin still reaches the shell.
    let mut f = fixture(&["sh"]);
    f.spec.tty = true;
    f.spec.open_stdin = true;
    let mut c = start_attached(&f, AttachOptions::all());
    let (out, _, _) = c.collect_until(T, |o| contains(o, "# ")).unwrap();
    assert!(contains(&out, "# "), "no prompt: {out:?}");
    c.close_stdin().unwrap();
    c.send_stdin(b"echo $((6*7))\n").unwrap();
    let (out, _, _) = c.collect_until(T, |o| contains(o, "42\r\n")).unwrap();
    assert!(
        contains(&out, "42\r\n"),
        "stdin blocked after close: {out:?}"
    );
    c.send_stdin(b"exit 4\n").unwrap();
    let (_, _, code) = c.collect_until(T, |_| false).unwrap();
    assert_eq!(code, Some(4));
}

#[test]
fn tty_ctrl_c_reaches_program() {
    require_env!();
    // With a TTY the program's output arrives raw (\r\n), and Ctrl+C (0x03)
    // reaches the foreground program as SIGINT.
    // (busybox runs `sleep` inside the shell, PID 1, so use a trap.)
    let mut f = fixture(&[
        "sh",
        "-c",
        "trap 'echo got INT; exit 5' INT; echo ready; while :; do :; done",
    ]);
    f.spec.tty = true;
    f.spec.open_stdin = true;
    let mut c = start_attached(&f, AttachOptions::all());
    let (out, _, _) = c.collect_until(T, |o| contains(o, "ready")).unwrap();
    assert!(contains(&out, "ready\r\n"), "{out:?}");
    c.send_stdin(&[3]).unwrap();
    let (out, _, code) = c.collect_until(T, |_| false).unwrap();
    assert!(contains(&out, "got INT"), "{out:?}");
    assert_eq!(code, Some(5));
}

/// Start a long-running container for exec tests.
fn running(args: &[&str]) -> Fixture {
    let f = fixture(args);
    start(&f).unwrap();
    f
}

fn exec_spec(args: &[&str]) -> ExecSpec {
    ExecSpec {
        id: random_id(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec![
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "FROM_CONTAINER=1".into(),
        ],
        ..ExecSpec::default()
    }
}

fn wait_exec(f: &Fixture, id: &str) -> ExitInfo {
    let deadline = Instant::now() + T;
    loop {
        if let Some(e) = read_exec_exit(&f.dir, id).unwrap() {
            return e;
        }
        assert!(Instant::now() < deadline, "exec did not exit");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Starts an exec of `spec` with stdin, stdout and stderr attached; its attach connection.
fn exec_attached(f: &Fixture, spec: &ExecSpec) -> attach::AttachConn {
    let (_, conn) = spawn_exec_shim(
        Path::new(SHIM),
        &f.dir,
        &f.exec_root,
        spec,
        Some(AttachOptions::all()),
    )
    .unwrap_or_else(|e| panic!("exec failed: {e}"));
    conn.expect("an attached exec has a connection")
}

/// Run an exec attached; returns (stdout, stderr, exit code from exit.json).
fn exec(f: &Fixture, spec: &ExecSpec) -> (String, String, i32) {
    let (out, err, code) = exec_attached(f, spec).collect_until(T, |_| false).unwrap();
    let exit = wait_exec(f, &spec.id);
    assert_eq!(code, Some(exit.exit_code));
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
        exit.exit_code,
    )
}

#[test]
fn exec_user_env_cwd_and_codes() {
    require_env!();
    let f = running(&["sleep", "100"]);
    let (out, _, code) = exec(
        &f,
        &exec_spec(&[
            "sh",
            "-c",
            "echo $FROM_CONTAINER $HOME; id -u; pwd; hostname",
        ]),
    );
    assert_eq!(code, 0);
    assert_eq!(out, format!("1 /root\n0\n/\n{}\n", f.spec.hostname));
    let mut s = exec_spec(&["sh", "-c", "id -u; id -G; echo $HOME; pwd"]);
    s.user = "alice".into();
    s.cwd = "/etc".into();
    assert_eq!(
        exec(&f, &s),
        (
            "1000\n1000 50\n/home/alice\n/etc\n".into(),
            String::new(),
            0
        )
    );
    // A missing working directory is an error (Docker does not create it for exec).
    let mut s = exec_spec(&["true"]);
    s.cwd = "/nonexistent".into();
    let e = spawn_exec_shim(Path::new(SHIM), &f.dir, &f.exec_root, &s, None).unwrap_err();
    assert!(
        e.to_string().contains("chdir to cwd (\"/nonexistent\")"),
        "{e}"
    );
    let (_, err, code) = exec(&f, &exec_spec(&["sh", "-c", "echo oops >&2; exit 7"]));
    assert_eq!((err.as_str(), code), ("oops\n", 7));
    // Same pid namespace as the container: its init is pid 1.
    let (out, _, _) = exec(&f, &exec_spec(&["cat", "/proc/1/cmdline"]));
    assert_eq!(out, "sleep\x00100\x00");
    // Docker's errors for a missing command.
    let e = spawn_exec_shim(
        Path::new(SHIM),
        &f.dir,
        &f.exec_root,
        &exec_spec(&["nosuch"]),
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "exec: \"nosuch\": executable file not found in $PATH"
    );
    // Seccomp applies to exec too.
    let (_, _, code) = exec(&f, &exec_spec(&["unshare", "-n", "true"]));
    assert_ne!(code, 0);
    let state = read_state(&f.dir).unwrap().unwrap();
    berth_runtime::signal(&state, libc::SIGKILL).unwrap();
    assert_eq!(wait_exit(&f).exit_code, 137);
}

#[test]
fn exec_is_confined_like_the_container() {
    require_env!();
    let f = running(&["sleep", "100"]);
    // The container's root, not the host's.
    let (out, _, code) = exec(
        &f,
        &exec_spec(&[
            "sh",
            "-c",
            "readlink /proc/self/root; pwd; ls /proc/1/root/bin/busybox; \
             [ -e /usr/lib/os-release ] && echo host-visible; \
             [ -e /proc/1/root/usr/lib/os-release ] && echo host-visible-via-proc; echo end",
        ]),
    );
    assert_eq!(
        (out.as_str(), code),
        ("/\n/\n/proc/1/root/bin/busybox\nend\n", 0)
    );
    // Same capabilities, seccomp mode, no_new_privs and cgroups as the init;
    // same namespaces.
    let status = "grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/PID/status; cat /proc/PID/cgroup; \
                  for n in ipc uts net pid cgroup mnt; do readlink /proc/PID/ns/$n; done";
    let (mine, _, _) = exec(
        &f,
        &exec_spec(&["sh", "-c", &status.replace("PID", "self")]),
    );
    let (init, _, _) = exec(&f, &exec_spec(&["sh", "-c", &status.replace("PID", "1")]));
    assert!(mine.contains("Seccomp:\t2"), "{mine}");
    assert!(mine.contains("CapAmb:\t0000000000000000"), "{mine}");
    assert_eq!(mine, init);
    // And a different user: its identity, the container's bounding set.
    let mut s = exec_spec(&["sh", "-c", "id; grep CapBnd /proc/self/status"]);
    s.user = "alice".into();
    let (out, _, _) = exec(&f, &s);
    let bnd = init.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    assert!(out.contains("uid=1000(alice) gid=1000(alice)"), "{out}");
    assert!(out.contains(bnd), "{out}");
    let state = read_state(&f.dir).unwrap().unwrap();
    berth_runtime::signal(&state, libc::SIGKILL).unwrap();
    assert_eq!(wait_exit(&f).exit_code, 137);
}

#[test]
fn exec_gets_the_containers_ulimits() {
    require_env!();
    let mut f = fixture(&["sleep", "100"]);
    f.spec.ulimits = vec![berth_runtime::Ulimit {
        name: "nofile".into(),
        soft: 1000,
        hard: 2000,
    }];
    start(&f).unwrap();
    let (out, _, code) = exec(&f, &exec_spec(&["sh", "-c", "ulimit -n; ulimit -Hn"]));
    assert_eq!((out.as_str(), code), ("1000\n2000\n", 0));
    let state = read_state(&f.dir).unwrap().unwrap();
    berth_runtime::signal(&state, libc::SIGKILL).unwrap();
    assert_eq!(wait_exit(&f).exit_code, 137);
}

#[test]
fn exec_stdin_and_tty() {
    require_env!();
    let f = running(&["sleep", "100"]);
    let mut s = exec_spec(&["sh", "-c", "read x; echo \"x=$x\"; cat"]);
    s.open_stdin = true;
    let mut conn = exec_attached(&f, &s);
    conn.send_stdin(b"42\nrest\n").unwrap();
    conn.close_stdin().unwrap();
    let (out, _, code) = conn.collect_until(T, |_| false).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "x=42\nrest\n");
    assert_eq!(code, Some(0));

    let mut s = exec_spec(&["sh"]);
    s.open_stdin = true;
    s.tty = true;
    s.console_size = Some((20, 60));
    let mut conn = exec_attached(&f, &s);
    conn.send_stdin(b"stty size; echo $((6*7))\n").unwrap();
    let (out, _, _) = conn.collect_until(T, |o| contains(o, "42")).unwrap();
    assert!(contains(&out, "20 60"), "{out:?}");
    conn.send_stdin(b"exit 3\n").unwrap();
    let (_, _, code) = conn.collect_until(T, |_| false).unwrap();
    assert_eq!(code, Some(3));
    assert_eq!(wait_exec(&f, &s.id).exit_code, 3);
    // A later attach to a finished exec fails cleanly.
    assert!(attach::connect(
        &berth_runtime::exec_dir(&f.dir, &s.id),
        AttachOptions::default()
    )
    .is_err());
}

#[test]
fn exec_latency() {
    require_env!();
    let f = running(&["sleep", "100"]);
    let mut times = Vec::new();
    for _ in 0..10 {
        let s = exec_spec(&["true"]);
        let t0 = Instant::now();
        spawn_exec_shim(Path::new(SHIM), &f.dir, &f.exec_root, &s, None).unwrap();
        let exit = wait_exec(&f, &s.id);
        times.push(t0.elapsed());
        assert_eq!(exit.exit_code, 0);
    }
    report_times("exec true", times);
}

#[test]
fn run_latency() {
    require_env!();
    // `run` of `true`: spawn to exit.json (reported, not asserted). The shim
    // binary can be swapped for comparisons (BERTH_RUNTIME_TEST_SHIM=<berth>).
    let shim = std::env::var("BERTH_RUNTIME_TEST_SHIM").unwrap_or_else(|_| SHIM.to_string());
    let mut times = Vec::new();
    for _ in 0..10 {
        let f = fixture(&["true"]);
        f.spec.save(&f.dir).unwrap();
        let t0 = Instant::now();
        berth_runtime::spawn_shim(Path::new(&shim), &f.dir, &f.exec_root).unwrap();
        let exit = wait_exit(&f);
        times.push(t0.elapsed());
        assert_eq!(exit.exit_code, 0);
    }
    report_times("run true", times);
}

/// Print the min, median and max of `times` (reported, not asserted: speed
/// is measured by benchmarks).
fn report_times(what: &str, mut times: Vec<Duration>) {
    times.sort();
    eprintln!(
        "{what}: min {:?} median {:?} max {:?}",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
}

#[test]
fn background_output_holder_does_not_hang_exec() {
    require_env!();
    let f = running(&["sleep", "100"]);
    let s = exec_spec(&["sh", "-c", "sleep 30 & echo started"]);
    let t0 = Instant::now();
    let (out, _, code) = exec(&f, &s);
    assert_eq!((out.as_str(), code), ("started\n", 0));
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn old_spec_json_loads() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("spec.json"),
        br#"{"id":"x","args":["true"],"memory":5}"#,
    )
    .unwrap();
    let s = berth_runtime::ContainerSpec::load(d.path()).unwrap();
    assert!(!s.tty && !s.open_stdin && s.ulimits.is_empty() && s.console_size.is_none());
    assert_eq!(s.memory, 5);
}
