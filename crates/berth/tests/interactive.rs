//! Issue 3, client side: interactive containers (`run -it`, `-i`, detach keys,
//! `attach`, `start -ai`), `exec`, `stats`, `update`, `pause`, `port`, driven
//! through tmux for the TTY cases (`send-keys`, `capture-pane`).
//!
//! Modes:
//! - default: the berth CLI against the harness's berth daemon (every test runs).
//! - `BERTH_E2E_HOST=unix:///run/docker-oracle.sock`: the *berth CLI* against that daemon (the
//!   reference dockerd), to check the tests against Docker's behaviour.
//! - `BERTH_E2E_CLI=docker`: the docker CLI against dockerd (the common harness's docker mode).
mod common;
use common::*;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The harness: the berth CLI against `BERTH_E2E_HOST` when set, else the common one.
fn hh() -> &'static Harness {
    h_host()
}

/// A tmux session running one CLI command, followed by `echo EXIT=$?` so the exit status
/// shows on screen. Each session has a tmux server of its own (socket named after the
/// session): tests run in parallel, and a shared server exits under a test that is starting a
/// session when another test kills the last one.
struct Tmux {
    name: String,
}

fn tmux(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .expect("tmux is installed (scripts/install-deps.sh)")
}

/// Single-quote for sh.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Tmux {
    /// Start `cli -H host ARGS...` in a 120x40 terminal.
    fn start(h: &Harness, args: &[&str]) -> Tmux {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "it{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut line = format!("{} -H {}", sq(path_str(&h.cli)), sq(&h.host));
        for a in args {
            line.push(' ');
            line.push_str(&sq(a));
        }
        line.push_str("; echo EXIT=$?; sleep 600");
        let o = tmux(
            &name,
            &[
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "120",
                "-y",
                "40",
                &line,
            ],
        );
        assert!(
            o.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Tmux { name }
    }

    /// `send-keys` (tmux key names: `Enter`, `C-c`, ...).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        let o = tmux(&self.name, &args);
        assert!(o.status.success(), "tmux send-keys {keys:?}");
    }

    /// Type a line and press Enter.
    fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    /// Type `text` + Enter until `want` shows on screen: input typed before
    /// a fresh `attach` is connected may not reach the container, so the
    /// line is sent again (every 2 s, for 20 s at most) until it did.
    #[track_caller]
    fn line_until(&self, text: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.line(text);
            let retry = Instant::now() + Duration::from_secs(2);
            while Instant::now() < retry {
                let s = self.screen();
                if s.contains(want) {
                    return s;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {want:?}; screen:\n{}", self.screen());
            }
        }
    }

    /// The visible screen.
    fn screen(&self) -> String {
        let o = tmux(&self.name, &["capture-pane", "-p", "-t", &self.name]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Wait until the screen satisfies `f` (20 s at most).
    #[track_caller]
    fn wait(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until `text` is on screen.
    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        self.wait(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Wait for the command to end and return its exit status.
    #[track_caller]
    fn exit_code(&self) -> i32 {
        let s = self.wait("EXIT=", |s| s.contains("EXIT="));
        let rest = &s[s.find("EXIT=").map_or(0, |i| i + 5)..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or(-1)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = tmux(&self.name, &["kill-session", "-t", &self.name]);
    }
}

/// A busybox shell prompt.
const PROMPT: &str = "/ #";

/// Wait until a container has the given status.
fn wait_status(h: &Harness, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let st = h.status_of(name);
        if st.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: status {st:?}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn run_it_shell_echoes_and_ctrl_d_stops_it() {
    let h = hh();
    let name = uname("it-sh");
    let _g = h.guard(&[&name]);
    let t = Tmux::start(h, &["run", "-it", "--name", &name, &h.image, "sh"]);
    t.wait_for(PROMPT);
    t.line("echo hi-$((40+2)); stty size");
    // The echo of the typed line and the command's output.
    let s = t.wait_for("hi-42");
    assert!(s.contains("echo hi-$((40+2))"), "typed line echoed: {s}");
    // The container's TTY got the local window size.
    t.wait_for("40 120");
    t.keys(&["C-d"]);
    assert_eq!(t.exit_code(), 0, "{}", t.screen());
    wait_status(h, &name, "exited");
}

#[test]
fn run_it_ctrl_c_reaches_the_foreground_program() {
    let h = hh();
    let t = Tmux::start(
        h,
        &[
            "run",
            "-it",
            "--rm",
            &h.image,
            "sh",
            "-c",
            "trap 'echo got-int; exit 7' INT; echo ready; while true; do sleep 0.1; done",
        ],
    );
    t.wait_for("ready");
    t.keys(&["C-c"]);
    t.wait_for("got-int");
    assert_eq!(t.exit_code(), 7, "{}", t.screen());
}

#[test]
fn run_without_tty_proxies_ctrl_c() {
    let h = hh();
    let t = Tmux::start(
        h,
        &[
            "run",
            "--rm",
            &h.image,
            "sh",
            "-c",
            "trap 'echo got-int; exit 8' INT; echo ready; while true; do sleep 0.1; done",
        ],
    );
    t.wait_for("ready");
    t.keys(&["C-c"]);
    t.wait_for("got-int");
    assert_eq!(t.exit_code(), 8, "{}", t.screen());
}

#[test]
fn detach_keys_leave_it_running_and_attach_returns() {
    let h = hh();
    let name = uname("it-detach");
    let _g = h.guard(&[&name]);
    let t = Tmux::start(h, &["run", "-it", "--name", &name, &h.image, "sh"]);
    t.wait_for(PROMPT);
    t.keys(&["C-p", "C-q"]);
    // docker's `run` detaches silently with status 0.
    assert_eq!(t.exit_code(), 0, "{}", t.screen());
    assert!(!t.screen().contains("read escape sequence"));
    wait_status(h, &name, "running");

    let a = Tmux::start(h, &["attach", "--detach-keys", "ctrl-a,x", &name]);
    a.line_until("echo back-$((6*7))", "back-42");
    // A lone ctrl-a followed by another key is passed through, not a detach.
    a.keys(&["C-a", "x"]);
    // `attach` detaches with docker's message and status 1.
    a.wait_for("read escape sequence");
    assert_eq!(a.exit_code(), 1, "{}", a.screen());
    wait_status(h, &name, "running");

    // Attach again and end the shell: attach exits with its status.
    let b = Tmux::start(h, &["attach", &name]);
    b.line_until("echo ready-$((2+2))", "ready-4");
    b.line("exit 3");
    assert_eq!(b.exit_code(), 3, "{}", b.screen());
    wait_status(h, &name, "exited");
}

#[test]
fn create_it_then_start_ai() {
    let h = hh();
    let name = uname("it-start");
    let _g = h.guard(&[&name]);
    h.run(&["create", "-it", "--name", &name, &h.image, "sh"])
        .ok();
    let t = Tmux::start(h, &["start", "-ai", &name]);
    t.wait_for(PROMPT);
    t.line("echo started-$((1+1)); exit 5");
    t.wait_for("started-2");
    assert_eq!(t.exit_code(), 5, "{}", t.screen());
}

#[test]
fn exec_it_through_tmux() {
    let h = hh();
    let name = uname("it-exec");
    let _g = h.guard(&[&name]);
    h.run_d(&name, &[], &["sleep", "300"]).ok();
    let t = Tmux::start(h, &["exec", "-it", &name, "sh"]);
    t.wait_for(PROMPT);
    t.line("stty size; tty");
    t.wait_for("40 120");
    t.wait_for("/dev/pts/");
    t.line("exit 6");
    assert_eq!(t.exit_code(), 6, "{}", t.screen());
    // The container lives on.
    assert_eq!(h.status_of(&name).as_deref(), Some("running"));
}

#[test]
fn stdin_is_piped_without_tty() {
    let h = hh();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, "hi\nthere\n").unwrap();
    h.run_stdin(&["run", "-i", "--rm", &h.image, "cat"], &input)
        .ok()
        .stdout_is("hi\nthere\n");
    // wc sees the end of input (the CLI half-closes the connection).
    h.run_stdin(&["run", "-i", "--rm", &h.image, "wc", "-l"], &input)
        .ok()
        .stdout_has("2");
    // `-t` without a terminal on stdin is refused, as docker does.
    h.run_stdin(&["run", "-it", "--rm", &h.image, "true"], &input)
        .code(1)
        .stderr_has("the input device is not a TTY");
}

#[test]
fn exec_user_env_workdir_and_exit_codes() {
    let h = hh();
    let name = uname("it-exec2");
    let _g = h.guard(&[&name]);
    h.run_d(&name, &["-e", "FROM_RUN=1"], &["sleep", "300"])
        .ok();
    h.run(&[
        "exec",
        "-u",
        "1000:100",
        "-w",
        "/tmp",
        "-e",
        "A=b",
        &name,
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $A $FROM_RUN",
    ])
    .ok()
    .stdout_is("1000\n100\n/tmp\nb 1\n");
    h.run(&["exec", &name, "sh", "-c", "echo err >&2; exit 4"])
        .code(4)
        .stderr_has("err");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, "piped\n").unwrap();
    h.run_stdin(&["exec", "-i", &name, "cat"], &input)
        .ok()
        .stdout_is("piped\n");
    // A missing binary: the runtime's error and status 126, as dockerd.
    h.run(&["exec", &name, "nosuchcmd"])
        .code(126)
        .stdout_has("executable file not found");
    // Detached exec returns at once; its effect shows up.
    h.run(&["exec", "-d", &name, "sh", "-c", "echo x > /tmp/detached"])
        .ok()
        .stdout_is("");
    h.wait_until("detached exec ran", Duration::from_secs(10), || {
        h.run(&["exec", &name, "cat", "/tmp/detached"]).code == 0
    });
    // Not running / missing containers.
    h.run(&["stop", "-t", "0", &name]).ok();
    h.run(&["exec", &name, "true"])
        .code(1)
        .stderr_has("is not running");
    h.run(&["exec", &uname("it-missing"), "true"])
        .code(1)
        .stderr_has("No such container");
}

#[test]
fn stats_no_stream_columns() {
    let h = hh();
    let a = uname("it-st-a");
    let b = uname("it-st-b");
    let _g = h.guard(&[&a, &b]);
    h.run_d(&a, &[], &["sleep", "300"]).ok();
    h.run_d(&b, &["-m", "64m"], &["sleep", "300"]).ok();
    let o = h.run(&["stats", "--no-stream", &a, &b]);
    o.ok();
    let lines = o.lines();
    assert_eq!(lines.len(), 3, "{}", o.stdout);
    let cols: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cols,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    assert!(lines[1].contains(&a), "{}", o.stdout);
    assert!(lines[2].contains(&b), "{}", o.stdout);
    assert!(lines[2].contains("/ 64MiB"), "limit shown: {}", o.stdout);
    assert!(lines[1].contains('%'));
    let f = h.run(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}:{{.PIDs}}",
        &b,
    ]);
    f.ok().stdout_is(&format!("{b}:1\n"));
}

#[test]
fn update_pause_unpause() {
    let h = hh();
    let name = uname("it-upd");
    let _g = h.guard(&[&name]);
    h.run_d(&name, &[], &["sleep", "300"]).ok();
    h.run(&[
        "update",
        "-m",
        "96m",
        "--memory-swap",
        "192m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "40",
        &name,
    ])
    .ok()
    .stdout_is(&format!("{name}\n"));
    assert_eq!(
        h.inspect_f(&name, "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}"),
        "100663296 201326592 500000000 40"
    );
    h.run(&["update", &name])
        .code(1)
        .stderr_has("you must provide one or more flags");
    h.run(&["pause", &name])
        .ok()
        .stdout_is(&format!("{name}\n"));
    assert_eq!(h.status_of(&name).as_deref(), Some("paused"));
    h.run(&["unpause", &name]).ok();
    assert_eq!(h.status_of(&name).as_deref(), Some("running"));
}

#[test]
fn port_prints_nothing_when_none_published() {
    let h = hh();
    let name = uname("it-port");
    let _g = h.guard(&[&name]);
    h.run(&["create", "--name", &name, &h.image, "true"]).ok();
    h.run(&["port", &name]).ok().stdout_is("");
    h.run(&["port", &name, "80"])
        .code(1)
        .stderr_has(&format!("No public port '80/tcp' published for {name}"));
}

#[test]
fn resource_flags_reach_host_config() {
    let h = hh();
    let name = uname("it-res");
    let _g = h.guard(&[&name]);
    h.run(&[
        "create",
        "--name",
        &name,
        "-m",
        "512m",
        "--memory-swap",
        "1g",
        "--memory-reservation",
        "256m",
        "--cpus",
        "1.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "100",
        "--shm-size",
        "128m",
        "--ulimit",
        "nofile=1024:2048",
        "--oom-score-adj",
        "200",
        &h.image,
        "true",
    ])
    .ok();
    let v = h.inspect_json(&name);
    let hc = &v["HostConfig"];
    assert_eq!(hc["Memory"], 512 << 20);
    assert_eq!(hc["MemorySwap"], 1 << 30);
    assert_eq!(hc["MemoryReservation"], 256 << 20);
    assert_eq!(hc["NanoCpus"], 1_500_000_000i64);
    assert_eq!(hc["CpuShares"], 512);
    assert_eq!(hc["CpusetCpus"], "0");
    assert_eq!(hc["PidsLimit"], 100);
    assert_eq!(hc["ShmSize"], 128 << 20);
    assert_eq!(hc["OomScoreAdj"], 200);
    assert_eq!(hc["Ulimits"][0]["Name"], "nofile");
    assert_eq!(hc["Ulimits"][0]["Soft"], 1024);
    assert_eq!(hc["Ulimits"][0]["Hard"], 2048);
    h.run(&["create", "-m", "1x", &h.image])
        .code(125)
        .stderr_has("invalid argument \"1x\" for \"-m, --memory\" flag: invalid size: '1x'");
    h.run(&["create", "--ulimit", "bogus=1", &h.image])
        .code(125)
        .stderr_has("invalid ulimit type: bogus");
}
