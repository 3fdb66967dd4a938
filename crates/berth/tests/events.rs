//! `events`: the sequence and attributes of container and image events,
//! `--since`/`--until` replays, filters, `--format`, and a live stream that
//! `--until` ends. Run with `BERTH_E2E_CLI=docker` to check against dockerd.
mod common;
use common::*;
use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now plus `offset`, as the API's `seconds.nanoseconds`.
fn ts_in(offset: Duration) -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        + offset;
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// Now as the API's `seconds.nanoseconds`.
fn now_ts() -> String {
    ts_in(Duration::ZERO)
}

/// `events --since t0 --until t1 [--filter F]...`.
fn replay_args<'a>(t0: &'a str, t1: &'a str, filters: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["events", "--since", t0, "--until", t1];
    for f in filters {
        args.push("--filter");
        args.push(f);
    }
    args
}

/// `events --since t0 --until t1 [FILTERS] --format '{{json .}}'`, parsed.
fn events_json(t0: &str, t1: &str, filters: &[&str]) -> Vec<serde_json::Value> {
    let mut args = replay_args(t0, t1, filters);
    args.push("--format");
    args.push("{{json .}}");
    let out = h().run(&args);
    out.ok();
    out.lines()
        .iter()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("event line is not JSON ({e}): {l}"))
        })
        .collect()
}

fn actions(evs: &[serde_json::Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["Action"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn attr<'a>(e: &'a serde_json::Value, k: &str) -> &'a str {
    e["Actor"]["Attributes"][k].as_str().unwrap_or("")
}

#[test]
fn container_lifecycle_events_in_order_with_attributes() {
    let h = h();
    let name = uname("ev");
    let _g = h.guard(&[&name]);
    let t0 = now_ts();
    let id = h
        .run(&[
            "create",
            "--name",
            &name,
            "--label",
            "e2e.events=yes",
            &h.image,
            "sleep",
            "100",
        ])
        .ok()
        .out();
    h.run(&["start", &name]).ok();
    // sleep as PID 1 ignores SIGTERM: stop sends 15, then 9 after 1 s.
    h.run(&["stop", "-t", "1", &name]).ok();
    h.run(&["rm", &name]).ok();
    let t1 = now_ts();

    let evs = events_json(&t0, &t1, &["type=container", &format!("container={name}")]);
    assert_eq!(
        actions(&evs),
        ["create", "start", "kill", "kill", "die", "stop", "destroy"],
        "{evs:#?}"
    );
    for e in &evs {
        assert_eq!(e["Type"], "container");
        assert_eq!(e["Actor"]["ID"], id.as_str());
        assert_eq!(e["id"], id.as_str(), "legacy id");
        assert_eq!(e["status"], e["Action"], "legacy status");
        assert_eq!(e["from"], h.image.as_str(), "legacy from");
        assert_eq!(e["scope"], "local");
        assert_eq!(attr(e, "name"), name);
        assert_eq!(attr(e, "image"), h.image);
        assert_eq!(attr(e, "e2e.events"), "yes");
        let nano = e["timeNano"].as_i64().expect("timeNano");
        assert_eq!(e["time"].as_i64(), Some(nano / 1_000_000_000));
    }
    assert_eq!(attr(&evs[2], "signal"), "15");
    assert_eq!(attr(&evs[3], "signal"), "9");
    assert_eq!(attr(&evs[4], "exitCode"), "137");

    // Filters: by event (several values), by label, by ID prefix.
    let die_stop = events_json(
        &t0,
        &t1,
        &[&format!("container={name}"), "event=die", "event=stop"],
    );
    assert_eq!(actions(&die_stop), ["die", "stop"]);
    let by_label = events_json(&t0, &t1, &["label=e2e.events=yes", "event=create"]);
    assert!(
        by_label.iter().any(|e| e["Actor"]["ID"] == id.as_str()),
        "{by_label:#?}"
    );
    assert!(events_json(
        &t0,
        &t1,
        &["label=e2e.events=no", &format!("container={name}")]
    )
    .is_empty());
    let by_id = events_json(
        &t0,
        &t1,
        &[&format!("container={}", &id[..12]), "event=start"],
    );
    assert_eq!(actions(&by_id), ["start"]);

    // The default format: local time with nanoseconds, attributes sorted.
    let by_name = format!("container={name}");
    let out = h.run(&replay_args(&t0, &t1, &[&by_name, "event=create"]));
    let line = out.ok().out();
    let (time, rest) = line.split_once(' ').expect("a time then the event");
    // 2006-01-02T15:04:05.000000000 then Z or +07:00
    assert!(time.len() == 30 || time.len() == 35, "{line}");
    assert_eq!(time.as_bytes()[10], b'T', "{line}");
    assert_eq!(time.as_bytes()[19], b'.', "{line}");
    assert!(time[20..29].chars().all(|c| c.is_ascii_digit()), "{line}");
    assert_eq!(
        rest,
        format!(
            "container create {id} (e2e.events=yes, image={}, name={name})",
            h.image
        )
    );

    // Templates with Go field names.
    let mut args = replay_args(&t0, &t1, &[&by_name, "event=die"]);
    args.extend([
        "--format",
        "{{.Status}} {{.Type}} {{.ID}} {{.Actor.Attributes.exitCode}}",
    ]);
    let out = h.run(&args);
    assert_eq!(out.ok().out(), format!("die container {id} 137"));
}

#[test]
fn image_events_for_import_tag_and_rmi() {
    let h = h();
    let repo = uname("evimg");
    let r1 = format!("{repo}:1");
    let r2 = format!("{repo}:2");
    let mut g = h.guard(&[]);
    g.image(&r1);
    g.image(&r2);
    // A rootfs of its own, so that the image ID is not shared with others.
    let dir = unique_tmp_dir("evimg");
    std::fs::create_dir_all(dir.join("r")).expect("mkdir rootfs");
    std::fs::write(dir.join("r/marker"), &repo).expect("write marker");
    let tar = dir.join("rootfs.tar");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir.join("r"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(st.success(), "tar failed");
    let t0 = now_ts();
    let id = h.run(&["import", path_str(&tar), &r1]).ok().out();
    h.run(&["tag", &r1, &r2]).ok();
    h.run(&["rmi", &r2]).ok();
    h.run(&["rmi", &r1]).ok();
    let t1 = now_ts();

    let evs = events_json(&t0, &t1, &["type=image", &format!("image={id}")]);
    assert_eq!(
        actions(&evs),
        ["tag", "import", "tag", "untag", "untag", "delete"],
        "{evs:#?}"
    );
    let names: Vec<&str> = evs.iter().map(|e| attr(e, "name")).collect();
    assert_eq!(names, [r1.as_str(), &id, &r2, &id, &id, &id]);
    for e in &evs {
        assert_eq!(e["Actor"]["ID"], id.as_str());
        assert_eq!(e["id"], id.as_str());
        assert_eq!(e["status"], e["Action"]);
        assert!(e.get("from").is_none(), "image events have no from: {e}");
    }
    // `image=` also matches the repository name without its tag.
    let by_repo = events_json(&t0, &t1, &["type=image", &format!("image={repo}")]);
    assert_eq!(actions(&by_repo), ["tag", "tag"], "{by_repo:#?}");
}

#[test]
fn live_stream_ends_at_until() {
    let h = h();
    let name = uname("evlive");
    let _g = h.guard(&[&name]);
    let until = ts_in(Duration::from_secs(8));
    // `--since` too: on a slow machine, what happens before the
    // subscription arrives is replayed, not lost.
    let since = now_ts();
    let mut child = h.spawn(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("container={name}"),
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    // No need to wait for the subscription to reach the daemon: with
    // `--since`, events from before it are replayed.
    h.run(&["create", "--name", &name, &h.image, "true"]).ok();
    h.run(&["rm", &name]).ok();
    let code = wait_timeout(&mut child, Duration::from_secs(30));
    if code.is_none() {
        let _ = child.kill();
        panic!("events --until did not end the stream");
    }
    assert_eq!(code, Some(0));
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut out)
        .expect("read events output");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [format!("create {name}"), format!("destroy {name}")]
    );
}

#[test]
fn bad_since_and_filter_are_errors() {
    let h = h();
    h.run(&["events", "--since", "yesterday"]).fails();
    h.run(&["events", "--filter", "nonsense"]).fails();
}

#[test]
fn restart_kill_and_force_remove_sequences() {
    let h = h();
    let a = uname("evrs");
    let b = uname("evpol");
    let _g = h.guard(&[&a, &b]);
    let t0 = now_ts();
    h.run_d(&a, &[], &["sleep", "100"]).ok();
    h.run(&["restart", "-t", "1", &a]).ok();
    h.run(&["kill", "-s", "USR1", &a]).ok();
    h.run(&["rm", "-f", &a]).ok();
    h.run_d(&b, &["--restart", "on-failure:1"], &["sh", "-c", "exit 2"])
        .ok();
    h.wait_until(
        "the policy restart is done",
        Duration::from_secs(20),
        || {
            h.run(&["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", &b])
                .out()
                == "exited 1"
        },
    );
    let t1 = now_ts();

    let evs = events_json(&t0, &t1, &["type=container", &format!("container={a}")]);
    assert_eq!(
        actions(&evs),
        [
            "create", "start", "kill", "kill", "die", "stop", "start", "restart", "kill", "kill",
            "die", "destroy"
        ],
        "{evs:#?}"
    );
    let signals: Vec<&str> = evs
        .iter()
        .filter(|e| e["Action"] == "kill")
        .map(|e| attr(e, "signal"))
        .collect();
    assert_eq!(signals, ["15", "9", "10", "9"]);

    let evs = events_json(&t0, &t1, &["type=container", &format!("container={b}")]);
    assert_eq!(
        actions(&evs),
        ["create", "start", "die", "start", "die"],
        "{evs:#?}"
    );
    assert!(evs
        .iter()
        .filter(|e| e["Action"] == "die")
        .all(|e| attr(e, "exitCode") == "2"));
}

#[test]
fn events_api_on_the_wire() {
    let h = h();
    let sock = sock_of(&h.host);
    let name = uname("evapi");
    let _g = h.guard(&[&name]);
    let t0 = now_ts();
    h.run(&["create", "--name", &name, &h.image, "true"]).ok();
    let t1 = now_ts();
    // Legacy filter form `{"k":["v"]}`, versioned path, past events only.
    let filters = format!(r#"{{"container":["{name}"],"type":["container"]}}"#);
    let path = format!(
        "/v1.41/events?since={t0}&until={t1}&filters={}",
        filters
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace('[', "%5B")
            .replace(']', "%5D")
            .replace(':', "%3A")
            .replace(',', "%2C")
    );
    let (code, body) = http(
        &sock,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .expect("GET /events");
    assert_eq!(code, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 1, "{body}");
    let ev: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON event");
    assert_eq!(ev["Action"], "create");
    assert_eq!(ev["Actor"]["Attributes"]["name"], name.as_str());
    // Go's field order: the legacy fields first.
    assert!(
        lines[0].starts_with(r#"{"status":"create","id":""#),
        "{body}"
    );

    let (code, body) = http(
        &sock,
        "GET /events?since=5&until=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .expect("GET /events");
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("`since` time (5) cannot be after `until` time (2)"),
        "{body}"
    );
}

#[test]
fn exec_pause_and_unpause_events() {
    let h = h();
    let name = uname("evx");
    let _g = h.guard(&[&name]);
    h.run(&run_d_args(&name, &[], &h.image, &["sleep", "100"]))
        .ok();
    let t0 = now_ts();
    h.run(&["exec", &name, "sh", "-c", "exit 3"]).code(3);
    h.run(&["pause", &name]).ok();
    h.run(&["unpause", &name]).ok();
    // The exec's exit is recorded asynchronously: read the window up to
    // "now" again until its exec_die is in it (30 s at most).
    let filter = format!("container={name}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let evs = loop {
        let evs = events_json(&t0, &now_ts(), &["type=container", &filter]);
        if actions(&evs).iter().any(|a| a == "exec_die") {
            break evs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exec_die event within 30 s: {evs:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        actions(&evs),
        [
            "exec_create: sh -c exit 3",
            "exec_start: sh -c exit 3",
            "exec_die",
            "pause",
            "unpause"
        ],
        "{evs:#?}"
    );
    let exec_id = attr(&evs[0], "execID").to_string();
    assert!(!exec_id.is_empty(), "execID attribute: {evs:#?}");
    assert_eq!(attr(&evs[1], "execID"), exec_id);
    assert_eq!(attr(&evs[2], "execID"), exec_id);
    assert_eq!(attr(&evs[2], "exitCode"), "3");
    for e in &evs {
        assert_eq!(attr(e, "name"), name, "{e:#}");
    }
}
