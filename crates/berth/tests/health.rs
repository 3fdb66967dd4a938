//! Container healthchecks: `--health-*` flags and the image's HEALTHCHECK, probes that turn a
//! container `healthy` or `unhealthy`, timeouts, `State.Health` in inspect, `ps` STATUS and
//! `--filter health=`, `health_status` events, pause/stop/start, a daemon `kill -9` (probing goes
//! on, the state is kept), the create API with null fields, and the same image and probes run
//! on the reference dockerd giving the same status sequence and inspect shape.
//!
//! The tests that do not compare with dockerd also run against it with `BERTH_E2E_CLI=docker`
//! (berth-only parts say so).
mod common;
use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// `State.Health` of `name` (`Value::Null` when absent).
fn health(h: &Harness, name: &str) -> Value {
    h.inspect_json(name)["State"]
        .get("Health")
        .cloned()
        .unwrap_or(Value::Null)
}

fn status(h: &Harness, name: &str) -> String {
    health(h, name)["Status"].as_str().unwrap_or("").to_string()
}

fn log_len(hv: &Value) -> usize {
    hv["Log"].as_array().map_or(0, Vec::len)
}

/// `ps -a --filter health=VALUE` names.
fn ps_health(h: &Harness, value: &str) -> Vec<String> {
    let filter = format!("health={value}");
    h.run(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])
        .ok()
        .lines()
}

/// The `ps` STATUS column of `name`.
fn ps_status(h: &Harness, name: &str) -> String {
    let filter = format!("name=^{name}$");
    h.run(&["ps", "-a", "--filter", &filter, "--format", "{{.Status}}"])
        .ok()
        .out()
}

/// A live `events --since NOW-5s --filter container=NAME --format {{.Action}}` of `exe`
/// against `host`, started before the container exists: it replays what happened since then
/// and streams the rest (the event ring is shared with the other tests, which probe every
/// 200 ms, so a later `--since ... --until` could find the early events evicted).
struct Events(std::process::Child);

impl Events {
    fn start(exe: &std::path::Path, host: &str, name: &str) -> Events {
        let filter = format!("container={name}");
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs().saturating_sub(5))
            .unwrap_or(0)
            .to_string();
        let child = std::process::Command::new(exe)
            .args(["-H", host, "events", "--since", &since, "--filter", &filter])
            .args(["--format", "{{.Action}}"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn events");
        Events(child)
    }

    fn of(h: &Harness, name: &str) -> Events {
        Events::start(&h.cli, &h.host, name)
    }

    /// Stop the stream; the actions seen.
    fn finish(mut self) -> Vec<String> {
        let _ = self.0.kill();
        let mut out = String::new();
        if let Some(mut o) = self.0.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut o, &mut out);
        }
        let _ = self.0.wait();
        out.lines().map(str::to_string).collect()
    }
}

#[test]
fn a_probe_turns_the_container_healthy_and_reports_everywhere() {
    let h = h();
    let name = uname("hready");
    let _g = h.guard(&[&name]);
    let events = Events::of(h, &name);
    h.run_d(
        &name,
        &[
            "--health-cmd",
            "echo probing; test -f /tmp/ready",
            "--health-interval",
            "200ms",
            "--health-retries",
            "1000",
        ],
        &["sleep", "1000"],
    )
    .ok();
    assert_eq!(
        h.inspect_json(&name)["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo probing; test -f /tmp/ready"],
                           "Interval": 200_000_000i64, "Retries": 1000})
    );
    // A few failed probes: still starting, every failure counted.
    h.wait_until("two failed probes", WAIT, || {
        health(h, &name)["FailingStreak"].as_i64().unwrap_or(0) >= 2
    });
    let hv = health(h, &name);
    assert_eq!(hv["Status"], "starting", "{hv}");
    assert!(ps_status(h, &name).ends_with("(health: starting)"));
    assert!(ps_health(h, "starting").contains(&name));
    let first = &hv["Log"][0];
    assert_eq!(first["ExitCode"], 1, "{hv}");
    assert_eq!(first["Output"], "probing\n", "{hv}");
    let (start, end) = (
        first["Start"].as_str().unwrap_or_default(),
        first["End"].as_str().unwrap_or_default(),
    );
    for t in [start, end] {
        assert!(
            chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z'),
            "{t}"
        );
    }
    assert!(start <= end, "{start} > {end}");

    h.run(&["exec", &name, "touch", "/tmp/ready"]).ok();
    h.wait_until("healthy", WAIT, || status(h, &name) == "healthy");
    let hv = health(h, &name);
    assert_eq!(hv["FailingStreak"], 0, "{hv}");
    let log = hv["Log"].as_array().cloned().unwrap_or_default();
    assert!(!log.is_empty() && log.len() <= 5, "{hv}");
    assert_eq!(log[log.len() - 1]["ExitCode"], 0, "{hv}");
    let ps = ps_status(h, &name);
    assert!(
        ps.starts_with("Up ") && ps.ends_with("(healthy)"),
        "ps STATUS {ps:?}"
    );
    assert!(ps_health(h, "healthy").contains(&name));
    assert!(!ps_health(h, "starting").contains(&name));
    assert!(!ps_health(h, "none").contains(&name));
    // The log keeps the last five probes.
    h.wait_until("five probes logged", WAIT, || {
        log_len(&health(h, &name)) == 5
    });
    assert_eq!(log_len(&health(h, &name)), 5);

    let actions = events.finish();
    let health_events: Vec<&String> = actions
        .iter()
        .filter(|a| a.starts_with("health_status"))
        .collect();
    assert_eq!(
        health_events,
        vec!["health_status: healthy"],
        "events: {actions:?}"
    );
    // Probes are execs, as dockerd reports them.
    assert!(
        actions
            .iter()
            .any(|a| a == "exec_create: /bin/sh -c echo probing; test -f /tmp/ready"),
        "{actions:?}"
    );
    assert!(actions.iter().any(|a| a == "exec_die"), "{actions:?}");
}

#[test]
fn failing_probes_make_it_unhealthy_after_the_retries() {
    let h = h();
    let name = uname("hfail");
    let _g = h.guard(&[&name]);
    let events = Events::of(h, &name);
    h.run_d(
        &name,
        &[
            "--health-cmd",
            "echo out; echo err >&2; exit 3",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
        ],
        &["sleep", "1000"],
    )
    .ok();
    h.wait_until("unhealthy", WAIT, || status(h, &name) == "unhealthy");
    let hv = health(h, &name);
    assert!(hv["FailingStreak"].as_i64().unwrap_or(0) >= 2, "{hv}");
    let entry = &hv["Log"][0];
    assert_eq!(entry["ExitCode"], 3, "{hv}");
    let output = entry["Output"].as_str().unwrap_or_default();
    assert!(
        output.contains("out\n") && output.contains("err\n") && output.len() == 8,
        "{output:?}"
    );
    assert!(ps_status(h, &name).ends_with("(unhealthy)"));
    assert!(ps_health(h, "unhealthy").contains(&name));
    let actions = events.finish();
    assert!(
        actions.iter().any(|a| a == "health_status: unhealthy"),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| a == "health_status: healthy"),
        "{actions:?}"
    );
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_fails() {
    let h = h();
    let name = uname("htimeout");
    let _g = h.guard(&[&name]);
    h.run_d(
        &name,
        &[
            "--health-cmd",
            "sleep 77",
            "--health-interval",
            "3s",
            "--health-timeout",
            "300ms",
        ],
        &["sleep", "1000"],
    )
    .ok();
    h.wait_until("a timed-out probe", WAIT, || {
        log_len(&health(h, &name)) >= 1
    });
    let hv = health(h, &name);
    let entry = &hv["Log"][0];
    assert_eq!(entry["ExitCode"], -1, "{hv}");
    assert_eq!(
        entry["Output"], "Health check exceeded timeout (300ms)",
        "{hv}"
    );
    assert_eq!(hv["Status"], "starting", "{hv}");
    assert_eq!(hv["FailingStreak"], 1, "{hv}");
    if h.berth_only("probe killed at its timeout (dockerd 20.10 leaves it running)") {
        return;
    }
    // The killed probe is gone before its result is recorded (the next one
    // starts 3 s later).
    let top = h.run(&["top", &name]).ok().stdout.clone();
    assert!(!top.contains("sleep 77"), "the probe still runs:\n{top}");
}

#[test]
fn output_is_cut_at_4096_bytes_and_invalid_utf8_replaced() {
    let h = h();
    let name = uname("hout");
    let _g = h.guard(&[&name]);
    h.run_d(
        &name,
        &[
            "--health-cmd",
            r#"printf '\377x'; head -c 5000 /dev/zero | tr '\0' a"#,
            "--health-interval",
            "200ms",
        ],
        &["sleep", "1000"],
    )
    .ok();
    h.wait_until("healthy", WAIT, || status(h, &name) == "healthy");
    let hv = health(h, &name);
    let out = hv["Log"][0]["Output"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let want = format!("\u{fffd}x{}...", "a".repeat(4094));
    assert_eq!(out, want);
}

#[test]
fn probes_run_as_the_containers_user_environment_and_workdir() {
    let h = h();
    let name = uname("hident");
    let _g = h.guard(&[&name]);
    h.run_d(
        &name,
        &[
            "-u",
            "1000",
            "-w",
            "/tmp",
            "-e",
            "FOO=bar",
            "--health-cmd",
            "id -u; pwd; echo $FOO",
            "--health-interval",
            "200ms",
        ],
        &["sleep", "1000"],
    )
    .ok();
    h.wait_until("healthy", WAIT, || status(h, &name) == "healthy");
    assert_eq!(health(h, &name)["Log"][0]["Output"], "1000\n/tmp\nbar\n");
}

#[test]
fn start_period_failures_do_not_count_until_a_success() {
    let h = h();
    let name = uname("hperiod");
    let _g = h.guard(&[&name]);
    h.run_d(
        &name,
        &[
            "--health-cmd",
            "test -f /tmp/ready",
            "--health-interval",
            "200ms",
            "--health-retries",
            "1",
            "--health-start-period",
            "60s",
        ],
        &["sleep", "1000"],
    )
    .ok();
    h.wait_until("two failed probes", WAIT, || {
        log_len(&health(h, &name)) >= 2
    });
    let hv = health(h, &name);
    // Failures within the start period are logged, not counted.
    assert_eq!(hv["Status"], "starting", "{hv}");
    assert_eq!(hv["FailingStreak"], 0, "{hv}");
    assert_eq!(hv["Log"][0]["ExitCode"], 1, "{hv}");
    h.run(&["exec", &name, "touch", "/tmp/ready"]).ok();
    h.wait_until("healthy", WAIT, || status(h, &name) == "healthy");
    // A success ended the start period: the next failure counts (retries 1).
    h.run(&["exec", &name, "rm", "/tmp/ready"]).ok();
    h.wait_until("unhealthy", WAIT, || status(h, &name) == "unhealthy");
    let streak = health(h, &name)["FailingStreak"].as_i64().unwrap_or(0);
    assert!(streak >= 1, "streak {streak}");
}

#[test]
fn image_healthcheck_is_inherited_merged_or_disabled() {
    let h = h();
    let img = uname("himg");
    let dir = unique_tmp_dir("himg");
    let dockerfile = format!(
        "FROM {}\nHEALTHCHECK --interval=200ms --timeout=5s --retries=2 CMD exit 4\n",
        h.image
    );
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("write Dockerfile");
    let (plain, merged, none) = (uname("hinh"), uname("hmrg"), uname("hnone"));
    let mut g = h.guard(&[&plain, &merged, &none]);
    g.image(&img);
    h.run_env(
        &["build", "-q", "-t", &img, path_str(&dir)],
        &[],
        None,
        CMD_TIMEOUT,
    )
    .ok();
    let run = |name: &str, opts: &[&str]| {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(opts);
        args.extend_from_slice(&[img.as_str(), "sleep", "1000"]);
        h.run(&args).ok();
    };
    run(&plain, &[]);
    run(
        &merged,
        &["--health-retries", "5", "--health-cmd", "exit 0"],
    );
    run(&none, &["--no-healthcheck"]);

    let cfg = |name: &str| h.inspect_json(name)["Config"]["Healthcheck"].clone();
    assert_eq!(
        cfg(&plain),
        serde_json::json!({"Test": ["CMD-SHELL", "exit 4"], "Interval": 200_000_000i64,
                           "Timeout": 5_000_000_000i64, "Retries": 2})
    );
    assert_eq!(
        cfg(&merged),
        serde_json::json!({"Test": ["CMD-SHELL", "exit 0"], "Interval": 200_000_000i64,
                           "Timeout": 5_000_000_000i64, "Retries": 5})
    );
    assert_eq!(
        cfg(&none),
        serde_json::json!({"Test": ["NONE"], "Interval": 200_000_000i64,
                           "Timeout": 5_000_000_000i64, "Retries": 2})
    );
    h.wait_until("the image's probe fails twice", WAIT, || {
        status(h, &plain) == "unhealthy"
    });
    assert_eq!(health(h, &plain)["Log"][0]["ExitCode"], 4);
    h.wait_until("the merged probe succeeds", WAIT, || {
        status(h, &merged) == "healthy"
    });
    // --no-healthcheck: no health at all.
    assert_eq!(health(h, &none), Value::Null);
    assert!(ps_health(h, "none").contains(&none));
    let ps = ps_status(h, &none);
    assert!(ps.starts_with("Up ") && !ps.contains('('), "{ps:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pause_stop_and_start_as_dockerd() {
    let h = h();
    let name = uname("hlife");
    let _g = h.guard(&[&name]);
    // A container created but never started has no health yet.
    let mut args = vec!["create", "--name", &name];
    args.extend_from_slice(&["--health-cmd", "true", "--health-interval", "200ms"]);
    args.extend_from_slice(&[h.image.as_str(), "sleep", "1000"]);
    h.run(&args).ok();
    assert_eq!(health(h, &name), Value::Null);
    assert!(ps_health(h, "none").contains(&name));
    h.run(&["start", &name]).ok();
    h.wait_until("healthy", WAIT, || status(h, &name) == "healthy");

    // Paused: no probing, and dockerd calls it unhealthy.
    h.run(&["pause", &name]).ok();
    assert_eq!(status(h, &name), "unhealthy");
    assert!(ps_status(h, &name).ends_with("(Paused)"));
    h.run(&["unpause", &name]).ok();
    h.wait_until("healthy after unpause", WAIT, || {
        status(h, &name) == "healthy"
    });

    // Stopped: unhealthy, the log kept; ps shows the exit only.
    h.run(&["stop", "-t", "0", &name]).ok();
    let hv = health(h, &name);
    assert_eq!(hv["Status"], "unhealthy", "{hv}");
    let logged = log_len(&hv);
    assert!(logged >= 1, "{hv}");
    let ps = ps_status(h, &name);
    assert!(
        ps.starts_with("Exited (") && !ps.contains("health"),
        "{ps:?}"
    );

    // Started again: starting (streak 0, the log kept), then healthy.
    h.run(&["start", &name]).ok();
    let hv = health(h, &name);
    assert!(
        hv["Status"] == "starting" || hv["Status"] == "healthy",
        "{hv}"
    );
    assert_eq!(hv["FailingStreak"], 0, "{hv}");
    assert!(log_len(&hv) >= logged, "{hv}");
    h.wait_until("healthy after start", WAIT, || {
        status(h, &name) == "healthy"
    });
}

#[test]
fn flag_and_api_errors_are_dockers() {
    let h = h();
    let create = |opts: &[&str]| {
        let mut args = vec!["create"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&[h.image.as_str(), "true"]);
        h.run(&args)
    };
    create(&["--no-healthcheck", "--health-cmd", "true"])
        .code(125)
        .stderr_has("--no-healthcheck conflicts with --health-* options.");
    create(&["--no-healthcheck", "--health-interval", "1s"])
        .code(125)
        .stderr_has("--no-healthcheck conflicts with --health-* options.");
    create(&["--health-interval", "1"]).code(125).stderr_has(
        "invalid argument \"1\" for \"--health-interval\" flag: time: missing unit in duration \"1\"",
    );
    create(&["--health-retries", "x"]).code(125).stderr_has(
        "invalid argument \"x\" for \"--health-retries\" flag: strconv.ParseInt: parsing \"x\": invalid syntax",
    );
    create(&["--health-timeout", "-1s"])
        .code(125)
        .stderr_has("--health-timeout cannot be negative.");
    create(&["--health-retries", "-1"])
        .code(125)
        .stderr_has("--health-retries cannot be negative.");
    // The daemon's checks.
    h.run(&["run", "--health-timeout", "100us", h.image.as_str(), "true"])
        .code(125)
        .stderr_has("Error response from daemon: Timeout in Healthcheck cannot be less than 1ms");
    h.run(&[
        "run",
        "--health-interval",
        "999us",
        h.image.as_str(),
        "true",
    ])
    .code(125)
    .stderr_has("Interval in Healthcheck cannot be less than 1ms");
    h.run(&["ps", "--filter", "health=bogus"])
        .code(1)
        .stderr_has("Unrecognised filter value for health: bogus");

    let sock = sock_of(&h.host);
    let post = |body: &str| {
        let req = format!(
            "POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        http(&sock, &req).expect("POST /containers/create")
    };
    for (field, value, msg) in [
        (
            "Interval",
            "5",
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            "Timeout",
            "-5",
            "Timeout in Healthcheck cannot be less than 1ms",
        ),
        (
            "StartPeriod",
            "999999",
            "StartPeriod in Healthcheck cannot be less than 1ms",
        ),
        ("Retries", "-1", "Retries in Healthcheck cannot be negative"),
    ] {
        let body = format!(
            r#"{{"Image":"{}","Cmd":["true"],"Healthcheck":{{"Test":["CMD","true"],"{field}":{value}}}}}"#,
            h.image
        );
        let (code, text) = post(&body);
        assert_eq!(code, 400, "{field}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(v["message"], msg, "{text}");
    }
}

#[test]
fn create_accepts_null_healthcheck_fields() {
    let h = h();
    let name = uname("hnull");
    let _g = h.guard(&[&name]);
    let body = format!(
        r#"{{"Image":"{}","Cmd":["sleep","1000"],"Healthcheck":{{"Test":null,"Interval":null,"Timeout":null,"Retries":null,"StartPeriod":null}}}}"#,
        h.image
    );
    let req = format!(
        "POST /v1.41/containers/create?name={name} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (code, text) = http(&sock_of(&h.host), &req).expect("POST /containers/create");
    assert_eq!(code, 201, "{text}");
    h.run(&["start", &name]).ok();
    let v = h.inspect_json(&name);
    // An empty test inherits the image's (none): nothing is probed.
    assert_eq!(v["Config"]["Healthcheck"], serde_json::json!({}));
    assert_eq!(v["State"].get("Health"), None);
}

#[test]
fn daemon_kill9_keeps_probing_and_the_health_state() {
    let h = h();
    if h.berth_only("health across a daemon restart") {
        return;
    }
    let d = Daemon::with_busybox("hrestart");
    d.run_d(
        "hkeep",
        &[
            "--health-cmd",
            "exit 1",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
        ],
        &["sleep", "1000"],
    )
    .ok();
    let streak = |d: &Daemon| -> i64 {
        d.run(&["inspect", "-f", "{{.State.Health.FailingStreak}}", "hkeep"])
            .ok()
            .out()
            .parse()
            .unwrap_or(-1)
    };
    wait_until("three failures", WAIT, || streak(&d) >= 3);
    d.kill9();
    d.start();
    let after_restart = streak(&d);
    // The state was reloaded (not reset to starting/0) ...
    assert!(after_restart >= 3, "streak after restart {after_restart}");
    let st = d
        .run(&["inspect", "-f", "{{.State.Health.Status}}", "hkeep"])
        .ok()
        .out();
    assert_eq!(st, "unhealthy");
    // ... and probing goes on.
    wait_until("probes after the restart", WAIT, || {
        streak(&d) >= after_restart + 8
    });
    let ps = d
        .run(&[
            "ps",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}}",
        ])
        .ok()
        .out();
    assert_eq!(ps, "hkeep");
    // Finished probes leave nothing behind: the exec directories are those of the probe
    // in flight now and at most one the daemon's kill interrupted (its shim finishes it).
    let id = d.run(&["inspect", "-f", "{{.Id}}", "hkeep"]).ok().out();
    let exec_dirs = d.data_root.join("containers").join(&id).join("exec");
    let count = std::fs::read_dir(&exec_dirs).map_or(0, |r| r.count());
    assert!(
        count <= 3,
        "{count} exec directories in {}",
        exec_dirs.display()
    );
    d.run(&["rm", "-f", "hkeep"]).ok();
}

fn docker_exe() -> PathBuf {
    PathBuf::from(std::env::var("BERTH_E2E_DOCKER").unwrap_or_else(|_| "/usr/bin/docker".into()))
}

/// The docker CLI against `host`.
fn docker(host: &str, args: &[&str]) -> Out {
    run_cmd(
        &docker_exe(),
        args,
        &[("DOCKER_HOST", host)],
        None,
        CMD_TIMEOUT,
    )
}

/// The key structure of a JSON value (objects: sorted keys with their shapes; arrays: the
/// shape of their first element; scalars: their type).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => Value::String("string".into()),
        Value::Number(_) => Value::String("number".into()),
        Value::Bool(_) => Value::String("bool".into()),
        Value::Null => Value::Null,
    }
}

/// What one daemon shows for the two probes: the health status right after
/// the start, the `health_status` events in order, and the inspect shapes.
struct Observed {
    first_status: Vec<String>,
    events: Vec<Vec<String>>,
    health_shape: Value,
    config: Vec<Value>,
    created_health: Value,
}

fn observe(host: &str, image: &str, tag: &str) -> Observed {
    let ready = format!("{tag}-ready");
    let failing = format!("{tag}-failing");
    let created = format!("{tag}-created");
    let d = |args: &[&str]| docker(host, args);
    let inspect = |name: &str| -> Value {
        let o = d(&["inspect", name]);
        o.ok();
        serde_json::from_str::<Value>(&o.stdout).unwrap_or(Value::Null)[0].clone()
    };
    let status = |name: &str| {
        inspect(name)["State"]["Health"]["Status"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    d(&[
        "create",
        "--name",
        &created,
        "--health-cmd",
        "true",
        image,
        "sleep",
        "1000",
    ])
    .ok();
    let created_health = inspect(&created)["State"]
        .get("Health")
        .cloned()
        .unwrap_or(Value::Null);
    let run = |name: &str, cmd: &str, retries: &str| {
        d(&[
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            cmd,
            "--health-interval",
            "1s",
            "--health-retries",
            retries,
            image,
            "sleep",
            "1000",
        ])
        .ok();
    };
    let exe = docker_exe();
    let ready_events = Events::start(&exe, host, &ready);
    let failing_events = Events::start(&exe, host, &failing);
    run(&ready, "test -f /tmp/ready", "1000");
    run(&failing, "echo no; exit 1", "2");
    let first_status = vec![status(&ready), status(&failing)];
    wait_until("a failed probe", WAIT, || {
        inspect(&ready)["State"]["Health"]["FailingStreak"]
            .as_i64()
            .unwrap_or(0)
            >= 1
    });
    d(&["exec", &ready, "touch", "/tmp/ready"]).ok();
    wait_until("healthy", WAIT, || status(&ready) == "healthy");
    wait_until("unhealthy", WAIT, || status(&failing) == "unhealthy");
    let only_health = |e: Events| -> Vec<String> {
        e.finish()
            .into_iter()
            .filter(|a| a.starts_with("health_status"))
            .collect()
    };
    let events = vec![only_health(ready_events), only_health(failing_events)];
    let health_shape = shape(&inspect(&failing)["State"]["Health"]);
    let config = vec![
        inspect(&ready)["Config"]["Healthcheck"].clone(),
        inspect(&failing)["Config"]["Healthcheck"].clone(),
    ];
    d(&["rm", "-f", &ready, &failing, &created]).ok();
    Observed {
        first_status,
        events,
        health_shape,
        config,
        created_health,
    }
}

#[test]
fn berth_and_dockerd_agree_on_the_same_probes() {
    let h = h();
    if h.berth_only("health comparison with dockerd") {
        return;
    }
    let oracle = std::env::var("BERTH_E2E_ORACLE")
        .unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into());
    let ping = docker(&oracle, &["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(
        ping.code, 0,
        "the reference dockerd is not reachable at {oracle}: start it with `eval \"$(../shared/tools/docker-oracle start)\"` (CI does): {ping:?}"
    );
    let img = format!("{}:v1", uname("hcmp"));
    let bb = fixture("busybox.tar");
    docker(&oracle, &["import", path_str(&bb), &img]).ok();
    docker(&h.host, &["import", path_str(&bb), &img]).ok();
    let tag = uname("hcmp");
    let result = std::panic::catch_unwind(|| {
        let berth = observe(&h.host, &img, &tag);
        let dockerd = observe(&oracle, &img, &tag);
        (berth, dockerd)
    });
    let _ = docker(&oracle, &["rmi", "-f", &img]);
    let _ = docker(&h.host, &["rmi", "-f", &img]);
    let (berth, dockerd) = match result {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e),
    };
    assert_eq!(berth.first_status, vec!["starting", "starting"]);
    assert_eq!(berth.first_status, dockerd.first_status);
    assert_eq!(
        berth.events,
        vec![
            vec!["health_status: healthy".to_string()],
            vec!["health_status: unhealthy".to_string()]
        ]
    );
    assert_eq!(berth.events, dockerd.events);
    assert_eq!(berth.health_shape, dockerd.health_shape);
    assert_eq!(berth.config, dockerd.config);
    assert_eq!(berth.created_health, Value::Null);
    assert_eq!(berth.created_health, dockerd.created_health);
}

/// docker-py (Debian's python3-docker) drives healthchecks as its integration tests do: a
/// shell-string test, an exec-form test, probes that pass, fail, and pass only after the start
/// period; the `Healthcheck` it sends leaves unset fields out or `null`.
#[test]
fn docker_py_healthchecks() {
    let h = h();
    let dir = unique_tmp_dir("hpy");
    let script = dir.join("healthcheck.py");
    std::fs::write(
        &script,
        r#"
import sys, time
import docker

api = docker.APIClient(base_url=sys.argv[1], version="1.41")
image = sys.argv[2]
SECOND = 1000000000
made = []

def create(**hc):
    c = api.create_container(image, "sleep 1000", healthcheck=hc)
    made.append(c)
    return c

def wait_for(c, want):
    status = None
    for _ in range(300):
        status = api.inspect_container(c)["State"].get("Health", {}).get("Status")
        if status == want:
            return
        time.sleep(0.1)
    raise SystemExit("expected %s, got %s" % (want, status))

try:
    c = create(test='echo "hello world"')
    got = api.inspect_container(c)["Config"]["Healthcheck"]["Test"]
    assert got == ["CMD-SHELL", 'echo "hello world"'], got
    c = create(test=["CMD", "echo", "hello", "world"])
    got = api.inspect_container(c)["Config"]["Healthcheck"]["Test"]
    assert got == ["CMD", "echo", "hello", "world"], got
    ok = create(test="true", interval=SECOND // 5, timeout=SECOND, retries=1)
    bad = create(test="false", interval=SECOND // 5, timeout=SECOND, retries=1)
    late = create(
        test="echo x >> /counter && test $(wc -l < /counter) -ge 3",
        interval=SECOND // 5, timeout=SECOND, retries=1, start_period=3 * SECOND,
    )
    for c in (ok, bad, late):
        api.start(c)
    wait_for(ok, "healthy")
    wait_for(bad, "unhealthy")
    wait_for(late, "healthy")
    print("docker-py healthchecks ok")
finally:
    for c in made:
        api.remove_container(c, force=True)
"#,
    )
    .expect("write the script");
    // BERTH_E2E_PYTHON picks another interpreter (and with it another docker-py).
    let python = std::env::var("BERTH_E2E_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = run_cmd(
        std::path::Path::new(&python),
        &[path_str(&script), &h.host, &h.image],
        &[],
        None,
        CMD_TIMEOUT,
    );
    out.ok().stdout_has("docker-py healthchecks ok");
    let _ = std::fs::remove_dir_all(dir);
}
