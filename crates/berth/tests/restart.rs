//! Durability and restart policies: daemon `kill -9` with running containers (live restore),
//! `--restart always` after a daemon restart, `--restart on-failure:N`.
mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

fn pid_of(d: &Daemon, name: &str) -> i64 {
    let o = d.run(&["inspect", "-f", "{{.State.Pid}}", name]);
    o.ok()
        .out()
        .parse()
        .unwrap_or_else(|_| panic!("State.Pid of {name}: {o:?}"))
}

fn wait_gone(pid: i64, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{pid}")).exists() {
        // a zombie still has /proc/pid: check its state
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if st.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} (pid {pid}) did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for(d: &Daemon, what: &str, timeout: Duration, mut f: impl FnMut(&Daemon) -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if f(d) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "timed out waiting for {what}; daemon log:\n{}",
        d.log_text()
    );
}

#[test]
fn daemon_kill9_keeps_containers_running_and_records_exits() {
    let h = h();
    if h.berth_only("daemon_kill9") {
        return;
    }
    let d = Daemon::with_busybox("kill9");
    d.run_d("one", &[], &["sh", "-c", "echo one-before; sleep 1000"])
        .ok();
    d.run_d("two", &[], &["sh", "-c", "echo two-before; sleep 1000"])
        .ok();
    d.run_d("three", &[], &["sh", "-c", "sleep 2; exit 7"]).ok();
    let (p1, p2, p3) = (pid_of(&d, "one"), pid_of(&d, "two"), pid_of(&d, "three"));
    wait_for(&d, "logs written", Duration::from_secs(10), |d| {
        d.run(&["logs", "two"]).stdout == "two-before\n"
    });

    d.kill9();
    // "three" exits while the daemon is down
    wait_gone(p3, "container three");
    assert!(
        Path::new(&format!("/proc/{p1}")).exists(),
        "container one died with the daemon"
    );
    assert!(
        Path::new(&format!("/proc/{p2}")).exists(),
        "container two died with the daemon"
    );

    d.start();
    // its shim may still be writing the exit status when the daemon starts
    wait_for(
        &d,
        "exit 7 of three recorded",
        Duration::from_secs(10),
        |d| {
            let f = "{{.State.Status}} {{.State.ExitCode}}";
            d.run(&["inspect", "-f", f, "three"]).out() == "exited 7"
        },
    );
    let o = d.run(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    let mut rows = o.ok().lines();
    rows.sort();
    assert_eq!(
        rows.len(),
        2,
        "both running containers must be listed: {}",
        o.stdout
    );
    assert!(
        rows[0].starts_with("one Up ") && rows[1].starts_with("two Up "),
        "{rows:?}"
    );
    assert_eq!(pid_of(&d, "one"), p1, "same process after the restart");
    assert_eq!(pid_of(&d, "two"), p2);
    d.run(&["logs", "one"]).ok().stdout_is("one-before\n");
    d.run(&["logs", "two"]).ok().stdout_is("two-before\n");
    let st = d
        .run(&[
            "ps",
            "-a",
            "--filter",
            "name=three",
            "--format",
            "{{.Status}}",
        ])
        .ok()
        .out();
    assert!(st.starts_with("Exited (7) "), "{st}");
    // images survived too
    d.run(&["image", "inspect", "busybox:e2e"]).ok();
    // the restarted daemon still controls the re-attached containers and sees their exit
    d.run(&["stop", "-t", "1", "two"]).ok();
    assert_eq!(
        d.run(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "two"
        ])
        .ok()
        .out(),
        "exited 137"
    );
    // and an exit that happens after the restart, without a stop, is noticed
    host_kill(p1);
    wait_for(
        &d,
        "exit of one seen by the restarted daemon",
        Duration::from_secs(20),
        |d| d.run(&["inspect", "-f", "{{.State.Status}}", "one"]).out() == "exited",
    );
    assert_eq!(
        d.run(&["inspect", "-f", "{{.State.ExitCode}}", "one"])
            .ok()
            .out(),
        "137"
    );
    // a second kill -9 right after start also recovers
    d.kill9();
    d.start();
    assert_eq!(d.run(&["ps", "-aq"]).ok().lines().len(), 3);
    d.shutdown();
}

/// SIGKILL a container process from the host.
fn host_kill(pid: i64) {
    let pid = i32::try_from(pid).expect("pid fits i32");
    // SAFETY: kill(2) with a positive pid only sends a signal; no memory is involved.
    let r = unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(
        r,
        0,
        "kill({pid}) failed: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn restart_always_comes_back_after_daemon_restart() {
    let h = h();
    if h.berth_only("restart_always_after_daemon_restart") {
        return;
    }
    let d = Daemon::with_busybox("always");
    d.run_d("svc", &["--restart", "always"], &["sleep", "1000"])
        .ok();
    d.run_d("plain", &[], &["sleep", "1000"]).ok();
    let (p, q) = (pid_of(&d, "svc"), pid_of(&d, "plain"));
    assert_eq!(
        d.run(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "svc"])
            .ok()
            .out(),
        "always"
    );
    // the daemon dies, then the containers die too (as in a host crash)
    d.kill9();
    host_kill(p);
    host_kill(q);
    wait_gone(p, "svc");
    wait_gone(q, "plain");
    d.start();
    // the shim may still be finishing when the daemon starts: wait for a NEW process
    wait_for(
        &d,
        "svc restarted by the daemon",
        Duration::from_secs(20),
        |d| {
            let o = d
                .run(&["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "svc"])
                .out();
            o.starts_with("running ") && o != format!("running {p}")
        },
    );
    let np = pid_of(&d, "svc");
    assert!(Path::new(&format!("/proc/{np}")).exists());
    // the one without a restart policy stays exited
    assert_eq!(
        d.run(&["inspect", "-f", "{{.State.Status}}", "plain"])
            .ok()
            .out(),
        "exited"
    );
    d.shutdown();
}

#[test]
fn restart_always_restarts_when_the_process_exits() {
    let h = h();
    let name = uname("always");
    let _g = h.guard(&[&name]);
    h.run_d(&name, &["--restart", "always"], &["sleep", "1000"])
        .ok();
    let pid: i64 = h.inspect_f(&name, "{{.State.Pid}}").parse().expect("pid");
    host_kill(pid);
    h.wait_until(
        "restart after the process was killed",
        Duration::from_secs(20),
        || {
            h.run(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.RestartCount}}",
                &name,
            ])
            .out()
                == "running 1"
        },
    );
    assert_ne!(h.inspect_f(&name, "{{.State.Pid}}"), pid.to_string());
    // a user stop is final: no restart
    h.run(&["stop", "-t", "1", &name]).ok();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(h.status_of(&name).as_deref(), Some("exited"));
}

#[test]
fn restart_on_failure_stops_after_max_retries() {
    let h = h();
    let name = uname("onfail");
    let _g = h.guard(&[&name]);
    h.run_d(
        &name,
        &["--restart", "on-failure:2"],
        &["sh", "-c", "echo run; exit 3"],
    )
    .ok();
    assert_eq!(
        h.inspect_f(&name, "{{.HostConfig.RestartPolicy.Name}}"),
        "on-failure"
    );
    assert_eq!(
        h.inspect_f(&name, "{{.HostConfig.RestartPolicy.MaximumRetryCount}}"),
        "2"
    );
    h.wait_until("on-failure:2 to give up", Duration::from_secs(30), || {
        h.run(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.RestartCount}}",
            &name,
        ])
        .out()
            == "exited 2"
    });
    // and it stays given up
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        h.inspect_f(
            &name,
            "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}"
        ),
        "exited 2 3"
    );
    // three runs, three log lines
    h.run(&["logs", &name]).ok().stdout_is("run\nrun\nrun\n");
    // success ends on-failure restarts at once
    let ok = uname("onfailok");
    let _g2 = h.guard(&[&ok]);
    h.run_d(&ok, &["--restart", "on-failure"], &["true"]).ok();
    h.run(&["wait", &ok]).ok();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        h.inspect_f(&ok, "{{.State.Status}} {{.RestartCount}}"),
        "exited 0"
    );
}

#[test]
fn restart_policy_validation() {
    let h = h();
    h.run(&["run", "-d", "--restart", "sometimes", &h.image, "true"])
        .code(125);
}
