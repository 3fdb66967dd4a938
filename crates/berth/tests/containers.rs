//! Container lifecycle and inspection commands: run -d, ps, logs, stop, start, rm, inspect,
//! names, rename, commit, top, diff, export, cp.
mod common;
use common::*;
use std::io::Read;
use std::time::Duration;

fn sleeper(h: &'static Harness, name: &str) -> String {
    let id = h.run_d(name, &[], &["sleep", "1000"]).ok().out();
    assert!(
        is_full_id(&id),
        "run -d must print the full 64-hex id, got {id:?}"
    );
    id
}

#[test]
fn run_d_ps_shows_it_up() {
    let h = h();
    let name = uname("up");
    let _g = h.guard(&[&name]);
    let id = sleeper(h, &name);
    let o = h.run(&["ps", "--filter", &format!("name={name}")]);
    let lines = o.ok().lines();
    assert_eq!(lines.len(), 2, "header + one row expected: {}", o.stdout);
    let header: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "{}",
        o.stdout
    );
    let row = &lines[1];
    assert!(
        row.starts_with(&id[..12]),
        "row should start with the short id: {row}"
    );
    assert!(row.contains("\"sleep 1000\""), "COMMAND column: {row}");
    assert!(row.contains(" Up "), "STATUS should be Up ...: {row}");
    assert!(row.trim_end().ends_with(&name), "NAMES column: {row}");
    assert!(
        row.contains(&h.image.replace(":latest", "")),
        "IMAGE column: {row}"
    );
    let st = h.inspect_json(&name);
    assert_eq!(st["State"]["Status"], "running");
    assert_eq!(st["State"]["Running"], true);
    assert!(
        st["State"]["Pid"].as_i64().unwrap_or(0) > 0,
        "State.Pid: {}",
        st["State"]
    );
    assert!(
        st["State"]["StartedAt"]
            .as_str()
            .unwrap_or("")
            .starts_with("20"),
        "StartedAt: {}",
        st["State"]
    );
    assert_eq!(st["Id"], id.as_str());
    assert_eq!(st["Name"], format!("/{name}"));
    assert_eq!(st["Config"]["Cmd"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(st["HostConfig"]["RestartPolicy"]["Name"], "no");
    assert_eq!(st["RestartCount"], 0);
    assert_eq!(st["Image"], h.image_id.as_str());
    // the image as the user typed it
    assert_eq!(st["Config"]["Image"], h.image.as_str());
    // the pid is a real process on the host running sleep
    let pid = st["State"]["Pid"].as_i64().unwrap_or(0);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(
        comm.trim(),
        "sleep",
        "State.Pid {pid} is not the container's process"
    );
}

#[test]
fn inspect_format_fields() {
    let h = h();
    let name = uname("insp");
    let _g = h.guard(&[&name]);
    h.run(&["run", "--name", &name, &h.image, "sh", "-c", "exit 5"])
        .code(5);
    assert_eq!(h.inspect_f(&name, "{{.State.Status}}"), "exited");
    assert_eq!(h.inspect_f(&name, "{{.State.ExitCode}}"), "5");
    assert_eq!(h.inspect_f(&name, "{{.State.Running}}"), "false");
    assert_eq!(h.inspect_f(&name, "{{.State.Pid}}"), "0");
    assert_eq!(h.inspect_f(&name, "{{.State.OOMKilled}}"), "false");
    assert_eq!(h.inspect_f(&name, "{{.Name}}"), format!("/{name}"));
    assert_eq!(h.inspect_f(&name, "{{.Config.Cmd}}"), "[sh -c exit 5]");
    assert_eq!(
        h.inspect_f(&name, "{{json .Config.Cmd}}"),
        "[\"sh\",\"-c\",\"exit 5\"]"
    );
    assert_eq!(
        h.inspect_f(&name, "{{.HostConfig.RestartPolicy.Name}}"),
        "no"
    );
    assert_eq!(h.inspect_f(&name, "{{.RestartCount}}"), "0");
    let fin = h.inspect_f(&name, "{{.State.FinishedAt}}");
    assert!(
        fin.starts_with("20") && fin.ends_with('Z'),
        "FinishedAt {fin:?}"
    );
    h.run(&["inspect", "e2e-no-such-container"])
        .code(1)
        .stderr_has("No such");
}

#[test]
fn logs_tail_timestamps_and_streams() {
    let h = h();
    let name = uname("logs");
    let _g = h.guard(&[&name]);
    h.run(&[
        "run",
        "--name",
        &name,
        &h.image,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo $i; done",
    ])
    .ok();
    h.run(&["logs", &name]).ok().stdout_is("1\n2\n3\n4\n5\n");
    h.run(&["logs", "--tail", "2", &name])
        .ok()
        .stdout_is("4\n5\n");
    h.run(&["logs", "--tail", "0", &name]).ok().stdout_is("");
    h.run(&["logs", "--tail", "all", &name])
        .ok()
        .stdout_is("1\n2\n3\n4\n5\n");
    let o = h.run(&["logs", "-t", "--tail", "2", &name]);
    let lines = o.ok().lines();
    assert_eq!(lines.len(), 2, "{}", o.stdout);
    for (l, want) in lines.iter().zip(["4", "5"]) {
        let (ts, rest) = l.split_once(' ').expect("timestamped line");
        assert_eq!(rest, want);
        assert!(
            ts.len() >= 20 && ts.ends_with('Z') && ts.contains('T'),
            "timestamp {ts:?}"
        );
    }
    // stdout and stderr keep their streams
    let both = uname("logs2");
    let _g2 = h.guard(&[&both]);
    h.run(&[
        "run",
        "--name",
        &both,
        &h.image,
        "sh",
        "-c",
        "echo out; echo oops >&2",
    ])
    .ok();
    h.run(&["logs", &both])
        .ok()
        .stdout_is("out\n")
        .stderr_has("oops\n");
    h.run(&["logs", "e2e-no-such-container"])
        .code(1)
        .stderr_has("No such container");
}

#[test]
fn logs_follow_ends_when_the_container_stops() {
    let h = h();
    let name = uname("follow");
    let _g = h.guard(&[&name]);
    h.run_d(
        &name,
        &[],
        &[
            "sh",
            "-c",
            "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done",
        ],
    )
    .ok();
    // some history before following, then more while following
    h.wait_until("3 lines logged", Duration::from_secs(20), || {
        h.run(&["logs", &name]).stdout.lines().count() >= 3
    });
    let mut child = h.spawn(&["logs", "-f", &name]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        matches!(child.try_wait(), Ok(None)),
        "logs -f exited while the container runs"
    );
    h.run(&["stop", "-t", "1", &name]).ok();
    let code = wait_timeout(&mut child, Duration::from_secs(20));
    if code.is_none() {
        let _ = child.kill();
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    assert_eq!(
        code,
        Some(0),
        "logs -f did not end after stop; output so far:\n{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 3, "logs -f output too short: {out}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(
            *l,
            format!("line{i}"),
            "logs -f out of order or lossy:\n{out}"
        );
    }
    // what -f printed is what the log holds
    let all = h.run(&["logs", &name]).ok().stdout.clone();
    assert_eq!(all, out);
}

#[test]
fn stop_start_rm() {
    let h = h();
    let name = uname("life");
    let _g = h.guard(&[&name]);
    let id = sleeper(h, &name);
    // sleep as pid 1 ignores SIGTERM: stop -t 1 kills it after the grace
    h.run(&["stop", "-t", "1", &name])
        .ok()
        .stdout_is(&format!("{name}\n"));
    assert_eq!(h.inspect_f(&name, "{{.State.Status}}"), "exited");
    assert_eq!(h.inspect_f(&name, "{{.State.ExitCode}}"), "137");
    let o = h.run(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(o.ok().out().starts_with("Exited (137) "), "{}", o.stdout);
    // not listed without -a
    assert!(h
        .run(&["ps", "-q", "--filter", &format!("name={name}")])
        .ok()
        .out()
        .is_empty());
    // start again
    h.run(&["start", &name])
        .ok()
        .stdout_is(&format!("{name}\n"));
    assert_eq!(h.inspect_f(&name, "{{.State.Status}}"), "running");
    // rm refuses a running container
    h.run(&["rm", &name]).code(1).stderr_has(&format!(
        "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
    ));
    h.run(&["rm", "-f", &name])
        .ok()
        .stdout_is(&format!("{name}\n"));
    h.run(&["inspect", &name]).code(1);
    h.run(&["stop", &name])
        .code(1)
        .stderr_has(&format!("No such container: {name}"));
}

#[test]
fn stop_sends_sigterm_first() {
    let h = h();
    let name = uname("term");
    let _g = h.guard(&[&name]);
    h.run_d(
        &name,
        &[],
        &[
            "sh",
            "-c",
            "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    )
    .ok();
    // stop only once the handler is installed
    h.wait_until("trap installed", Duration::from_secs(20), || {
        h.run(&["logs", &name]).stdout == "ready\n"
    });
    h.run(&["stop", "-t", "30", &name]).ok();
    assert_eq!(
        h.inspect_f(&name, "{{.State.ExitCode}}"),
        "0",
        "SIGTERM handler should have exited 0"
    );
    h.run(&["logs", &name]).ok().stdout_is("ready\ngot-term\n");
}

#[test]
fn kill_and_wait() {
    let h = h();
    let name = uname("kill");
    let _g = h.guard(&[&name]);
    sleeper(h, &name);
    h.run(&["kill", "-s", "TERM", &name]).ok();
    // pid 1 without a handler ignores TERM: still running
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(h.status_of(&name).as_deref(), Some("running"));
    h.run(&["kill", &name]).ok();
    h.run(&["wait", &name]).ok().stdout_is("137\n");
    h.run(&["kill", &name]).code(1).stderr_has("is not running");
}

#[test]
fn restart_command_gives_a_new_process() {
    let h = h();
    let name = uname("restartcmd");
    let _g = h.guard(&[&name]);
    sleeper(h, &name);
    let pid = h.inspect_f(&name, "{{.State.Pid}}");
    h.run(&["restart", "-t", "1", &name])
        .ok()
        .stdout_is(&format!("{name}\n"));
    assert_eq!(h.status_of(&name).as_deref(), Some("running"));
    assert_ne!(h.inspect_f(&name, "{{.State.Pid}}"), pid);
    // a user restart is not a policy restart
    assert_eq!(h.inspect_f(&name, "{{.RestartCount}}"), "0");
}

#[test]
fn logs_since_and_until() {
    let h = h();
    let name = uname("since");
    let _g = h.guard(&[&name]);
    h.run(&["run", "--name", &name, &h.image, "echo", "hello"])
        .ok();
    h.run(&["logs", "--since", "1h", &name])
        .ok()
        .stdout_is("hello\n");
    h.run(&["logs", "--since", "2000-01-01T00:00:00Z", &name])
        .ok()
        .stdout_is("hello\n");
    h.run(&["logs", "--until", "2000-01-01T00:00:00Z", &name])
        .ok()
        .stdout_is("");
    h.run(&["logs", "--since", "2999-01-01T00:00:00Z", &name])
        .ok()
        .stdout_is("");
}

#[test]
fn container_prune_removes_stopped_ones() {
    let h = h();
    let label = format!("e2e-prune={}", uname("prune"));
    let (stopped, running) = (uname("prunestopped"), uname("prunerunning"));
    let _g = h.guard(&[&stopped, &running]);
    h.run(&["run", "--name", &stopped, "-l", &label, &h.image, "true"])
        .ok();
    let rid = h
        .run_d(&running, &["-l", &label], &["sleep", "1000"])
        .ok()
        .out();
    let sid = h.inspect_f(&stopped, "{{.Id}}");
    // only this test's containers: filter on its label
    let o = h.run(&[
        "container",
        "prune",
        "-f",
        "--filter",
        &format!("label={label}"),
    ]);
    o.ok().stdout_has(&sid).stdout_has("Total reclaimed space:");
    assert!(
        !o.stdout.contains(&rid),
        "prune removed a running container: {}",
        o.stdout
    );
    h.run(&["inspect", &stopped]).code(1);
    assert_eq!(h.status_of(&running).as_deref(), Some("running"));
}

#[test]
fn rm_several_at_once_and_errors() {
    let h = h();
    let a = uname("rma");
    let b = uname("rmb");
    let _g = h.guard(&[&a, &b]);
    h.run(&["create", "--name", &a, &h.image, "true"]).ok();
    h.run(&["run", "--name", &b, &h.image, "true"]).ok();
    let o = h.run(&["rm", &a, "e2e-no-such-container", &b]);
    // docker removes what it can, reports the rest, exits 1
    o.code(1)
        .stderr_has("No such container: e2e-no-such-container");
    assert_eq!(o.lines(), vec![a.clone(), b.clone()], "{}", o.stdout);
    h.run(&["inspect", &a]).code(1);
    h.run(&["inspect", &b]).code(1);
}

#[test]
fn ps_flags() {
    let h = h();
    // -l and -n race with other tests' containers: filter on this test's own name prefix
    let base = uname("psflags");
    let only = format!("name={base}");
    let a = format!("{base}-a");
    let b = format!("{base}-b");
    let _g = h.guard(&[&a, &b]);
    h.run(&["run", "--name", &a, &h.image, "true"]).ok();
    let idb = sleeper(h, &b);
    // -q: short ids only
    let q = h.run(&["ps", "-q"]).ok().lines();
    assert!(
        q.iter()
            .all(|l| l.len() == 12 && l.bytes().all(|c| c.is_ascii_hexdigit())),
        "{q:?}"
    );
    assert!(q.contains(&idb[..12].to_string()));
    // --no-trunc -q: full ids
    let q = h.run(&["ps", "-q", "--no-trunc"]).ok().lines();
    assert!(q.contains(&idb), "{q:?}");
    // -a includes the exited one; without -a it is absent
    let fa = format!("name={a}");
    assert_eq!(
        h.run(&["ps", "-a", "--filter", &fa, "--format", "{{.Names}}"])
            .ok()
            .out(),
        a
    );
    assert_eq!(
        h.run(&["ps", "--filter", &fa, "--format", "{{.Names}}"])
            .ok()
            .out(),
        ""
    );
    // status filters
    let ex = h
        .run(&[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}",
        ])
        .ok()
        .lines();
    assert!(ex.contains(&a) && !ex.contains(&b), "{ex:?}");
    let run = h
        .run(&["ps", "--filter", "status=running", "--format", "{{.Names}}"])
        .ok()
        .lines();
    assert!(run.contains(&b) && !run.contains(&a), "{run:?}");
    // -l: the latest created container (b), -n 2: the two latest
    let mut gl = h.guard(&[]);
    let c = format!("{base}-c");
    gl.container(&c);
    h.run(&["create", "--name", &c, &h.image, "true"]).ok();
    assert_eq!(
        h.run(&["ps", "-l", "--filter", &only, "--format", "{{.Names}}"])
            .ok()
            .out(),
        c
    );
    let n2 = h
        .run(&["ps", "-n", "2", "--filter", &only, "--format", "{{.Names}}"])
        .ok()
        .lines();
    assert_eq!(n2, vec![c.clone(), b.clone()]);
    let all = h
        .run(&["ps", "-a", "--filter", &only, "--format", "{{.Names}}"])
        .ok()
        .lines();
    assert_eq!(all, vec![c.clone(), b.clone(), a.clone()], "newest first");
    // --format with several fields and table
    let f = h.run(&[
        "ps",
        "--filter",
        &format!("name={b}"),
        "--format",
        "{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}",
    ]);
    assert_eq!(
        f.ok().out(),
        format!("{}|{b}|{}|\"sleep 1000\"|running", &idb[..12], h.image)
    );
    let t = h
        .run(&[
            "ps",
            "--filter",
            &format!("name={b}"),
            "--format",
            "table {{.Names}}\t{{.State}}",
        ])
        .ok()
        .lines();
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(t[0].starts_with("NAMES") && t[0].contains("STATE"), "{t:?}");
    assert!(t[1].starts_with(&b) && t[1].ends_with("running"), "{t:?}");
    let created = h
        .run(&[
            "ps",
            "-a",
            "--filter",
            &format!("name={c}"),
            "--format",
            "{{.Status}}",
        ])
        .ok()
        .out();
    assert_eq!(created, "Created");
    // filter by id prefix
    let byid = h
        .run(&["ps", "--filter", &format!("id={}", &idb[..10]), "-q"])
        .ok()
        .out();
    assert_eq!(byid, idb[..12]);
}

#[test]
fn names_generated_prefix_and_duplicates() {
    let h = h();
    let id = h.run(&["create", &h.image, "true"]).ok().out();
    let mut g = h.guard(&[&id]);
    let name = h.inspect_f(&id, "{{.Name}}");
    let n = name.trim_start_matches('/');
    let parts: Vec<&str> = n.split('_').collect();
    assert!(
        name.starts_with('/')
            && parts.len() == 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase())),
        "generated name {name:?} is not adjective_surname"
    );
    // unique prefix of the id works everywhere
    assert_eq!(h.inspect_f(&id[..8], "{{.Id}}"), id);
    assert_eq!(h.inspect_f(n, "{{.Id}}"), id);
    // duplicate name
    let dup = uname("dup");
    g.container(&dup);
    let did = h
        .run(&["create", "--name", &dup, &h.image, "true"])
        .ok()
        .out();
    h.run(&["run", "--name", &dup, &h.image, "true"]).code(125).stderr_has(&format!(
        "Conflict. The container name \"/{dup}\" is already in use by container \"{did}\". You have to remove (or rename) that container to be able to reuse that name."
    ));
    // invalid name
    h.run(&["create", "--name", "bad name!", &h.image, "true"])
        .code(1)
        .stderr_has(
            "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        );
}

#[test]
fn ambiguous_prefix_is_an_error() {
    let h = h();
    let mut g = h.guard(&[]);
    // 17 containers: two of them share a first hex digit
    let mut ids: Vec<String> = Vec::new();
    let prefix = loop {
        let id = h.run(&["create", &h.image, "true"]).ok().out();
        g.container(&id);
        if let Some(other) = ids.iter().find(|o| o[..1] == id[..1]) {
            // the shortest prefix shared by these two
            let n = other
                .bytes()
                .zip(id.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            break id[..n].to_string();
        }
        ids.push(id);
        assert!(ids.len() <= 17, "pigeonhole failed?");
    };
    h.run(&["inspect", &prefix]).code(1).stderr_has(&format!(
        "Multiple IDs found with provided prefix: {prefix}"
    ));
    h.run(&["rm", &prefix])
        .code(1)
        .stderr_has("Multiple IDs found with provided prefix");
}

#[test]
fn rename_container() {
    let h = h();
    let old = uname("old");
    let new = uname("new");
    let _g = h.guard(&[&old, &new]);
    let id = sleeper(h, &old);
    h.run(&["rename", &old, &new]).ok();
    assert_eq!(h.inspect_f(&new, "{{.Name}}"), format!("/{new}"));
    assert_eq!(h.inspect_f(&new, "{{.Id}}"), id);
    h.run(&["inspect", &old]).code(1);
    // the old name is free again; renaming to a used name is refused
    h.run(&["create", "--name", &old, &h.image, "true"]).ok();
    h.run(&["rename", &new, &old])
        .fails()
        .stderr_has("is already in use");
}

#[test]
fn commit_then_run_the_new_image() {
    let h = h();
    let name = uname("commit");
    let img = uname("committed");
    let mut g = h.guard(&[&name]);
    g.image(&img);
    h.run(&[
        "run",
        "--name",
        &name,
        &h.image,
        "sh",
        "-c",
        "echo data > /committed.txt; rm /etc/group",
    ])
    .ok();
    let o = h.run(&[
        "commit",
        "-c",
        "CMD [\"echo\",\"committed\"]",
        "-m",
        "e2e message",
        "-a",
        "Ada",
        &name,
        &img,
    ]);
    let id = o.ok().out();
    assert!(
        id.starts_with("sha256:") && is_full_id(&id[7..]),
        "commit printed {id:?}"
    );
    h.run(&["run", "--rm", &img]).ok().stdout_is("committed\n");
    h.run(&["run", "--rm", &img, "cat", "/committed.txt"])
        .ok()
        .stdout_is("data\n");
    // the deletion is a whiteout in the new layer
    h.run(&["run", "--rm", &img, "test", "-e", "/etc/group"])
        .code(1);
    let v = h.inspect_json(&img);
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Comment"], "e2e message");
    assert_eq!(v["Author"], "Ada");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["echo", "committed"]));
    let base_layers = h.inspect_json(&h.image)["RootFS"]["Layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let layers = v["RootFS"]["Layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(layers.len(), base_layers.len() + 1, "commit adds one layer");
    assert_eq!(layers[..base_layers.len()], base_layers[..]);
}

#[test]
fn commit_a_running_container() {
    let h = h();
    let name = uname("commitrun");
    let img = uname("committedrun");
    let mut g = h.guard(&[&name]);
    g.image(&img);
    h.run_d(
        &name,
        &[],
        &["sh", "-c", "echo live > /live.txt; sleep 1000"],
    )
    .ok();
    h.wait_until("/live.txt written", Duration::from_secs(10), || {
        h.run(&["diff", &name]).stdout.contains("A /live.txt")
    });
    h.run(&["commit", &name, &img]).ok();
    assert_eq!(h.status_of(&name).as_deref(), Some("running"));
    h.run(&["run", "--rm", &img, "cat", "/live.txt"])
        .ok()
        .stdout_is("live\n");
}

#[test]
fn top_lists_the_containers_processes() {
    let h = h();
    let name = uname("top");
    let _g = h.guard(&[&name]);
    sleeper(h, &name);
    let o = h.run(&["top", &name]);
    let lines = o.ok().lines();
    assert!(
        lines[0].contains("PID") && lines[0].contains("CMD"),
        "{}",
        o.stdout
    );
    assert_eq!(lines.len(), 2, "one process expected: {}", o.stdout);
    assert!(lines[1].contains("sleep 1000"), "{}", o.stdout);
    let stopped = uname("topstopped");
    let _g2 = h.guard(&[&stopped]);
    h.run(&["create", "--name", &stopped, &h.image, "true"])
        .ok();
    h.run(&["top", &stopped])
        .fails()
        .stderr_has("is not running");
}

#[test]
fn diff_lists_changes() {
    let h = h();
    let name = uname("diff");
    let _g = h.guard(&[&name]);
    h.run(&[
        "run",
        "--name",
        &name,
        &h.image,
        "sh",
        "-c",
        "mkdir /added; touch /tmp/new; rm /etc/group; echo x >> /etc/passwd",
    ])
    .ok();
    let o = h.run(&["diff", &name]);
    let lines = o.ok().lines();
    for want in [
        "A /added",
        "C /tmp",
        "A /tmp/new",
        "C /etc",
        "D /etc/group",
        "C /etc/passwd",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "diff lacks {want:?}:\n{}",
            o.stdout
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains("/bin/busybox")),
        "unchanged files listed:\n{}",
        o.stdout
    );
}

#[test]
fn export_gives_the_merged_rootfs() {
    let h = h();
    let name = uname("export");
    let _g = h.guard(&[&name]);
    h.run(&[
        "run",
        "--name",
        &name,
        &h.image,
        "sh",
        "-c",
        "echo exported > /exported.txt",
    ])
    .ok();
    let o = h.run(&["export", &name]);
    o.ok();
    let names = tar_names(&o.raw);
    assert!(
        names.iter().any(|n| n == "bin/busybox"),
        "export lacks bin/busybox ({} entries)",
        names.len()
    );
    assert_eq!(
        tar_file(&o.raw, "exported.txt").as_deref(),
        Some(&b"exported\n"[..])
    );
    let dir = unique_tmp_dir("export");
    let f = dir.join("c.tar");
    h.run(&["export", "-o", path_str(&f), &name])
        .ok()
        .stdout_is("");
    let bytes = std::fs::read(&f).expect("read export -o");
    assert!(tar_names(&bytes).iter().any(|n| n == "bin/busybox"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cp_in_and_out() {
    let h = h();
    let name = uname("cp");
    let _g = h.guard(&[&name]);
    sleeper(h, &name);
    let dir = unique_tmp_dir("cp");
    let src = dir.join("notebook.ipynb");
    std::fs::write(&src, b"{\"cells\": []}\n").expect("write");
    h.run(&["cp", path_str(&src), &format!("{name}:/tmp/")])
        .ok();
    h.run(&["cp", path_str(&src), &format!("{name}:/tmp/renamed.ipynb")])
        .ok();
    // copy back out to a host dir and to a file
    let back = dir.join("back");
    std::fs::create_dir(&back).expect("mkdir");
    h.run(&[
        "cp",
        &format!("{name}:/tmp/notebook.ipynb"),
        path_str(&back),
    ])
    .ok();
    assert_eq!(
        std::fs::read(back.join("notebook.ipynb")).expect("copied out"),
        b"{\"cells\": []}\n"
    );
    let f2 = dir.join("r.ipynb");
    h.run(&["cp", &format!("{name}:/tmp/renamed.ipynb"), path_str(&f2)])
        .ok();
    assert_eq!(
        std::fs::read(&f2).expect("copied out"),
        b"{\"cells\": []}\n"
    );
    // a directory, out, as a tar stream on stdout
    let o = h.run(&["cp", &format!("{name}:/etc"), "-"]);
    o.ok();
    let names = tar_names(&o.raw);
    assert!(names.iter().any(|n| n == "etc/passwd"), "{names:?}");
    // missing source
    h.run(&["cp", &format!("{name}:/nonexistent"), path_str(&dir)])
        .fails()
        .stderr_has(&format!("No such container:path: {name}:/nonexistent"));
    // also from a stopped container
    h.run(&["stop", "-t", "0", &name]).ok();
    let f3 = dir.join("stopped.ipynb");
    h.run(&["cp", &format!("{name}:/tmp/notebook.ipynb"), path_str(&f3)])
        .ok();
    assert_eq!(
        std::fs::read(&f3).expect("copied out"),
        b"{\"cells\": []}\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cp_never_follows_symlinks_out_of_the_container() {
    let h = h();
    let name = uname("cpsym");
    let _g = h.guard(&[&name]);
    let marker = format!("berth-e2e-cp-marker-{}", std::process::id());
    h.run_d(&name, &[], &["sh", "-c", "ln -s /etc /tmp/hostetc; ln -s / /tmp/root; ln -s ../../../../../../tmp /tmp/up; sleep 1000"]).ok();
    h.wait_until("symlinks created", Duration::from_secs(10), || {
        h.run(&["diff", &name]).stdout.contains("A /tmp/up")
    });
    let container_passwd = std::fs::read(fixture("busybox.tar"))
        .ok()
        .and_then(|b| tar_file(&b, "etc/passwd"));
    let container_passwd = container_passwd.expect("fixture has etc/passwd");
    // out: through the symlink, we get the container's /etc/passwd
    let o = h.run(&["cp", &format!("{name}:/tmp/hostetc/passwd"), "-"]);
    o.ok();
    assert_eq!(
        tar_file(&o.raw, "passwd"),
        Some(container_passwd.clone()),
        "cp followed a symlink to the host"
    );
    let o = h.run(&["cp", &format!("{name}:/tmp/root/etc/passwd"), "-"]);
    o.ok();
    assert_eq!(tar_file(&o.raw, "passwd"), Some(container_passwd));
    // in: through symlinks, the file lands inside the container, never on the host
    let dir = unique_tmp_dir("cpsym");
    let src = dir.join(&marker);
    std::fs::write(&src, b"marker\n").expect("write");
    h.run(&["cp", path_str(&src), &format!("{name}:/tmp/hostetc/")])
        .ok();
    h.run(&["cp", path_str(&src), &format!("{name}:/tmp/root/tmp/")])
        .ok();
    h.run(&["cp", path_str(&src), &format!("{name}:/tmp/up/")])
        .ok();
    for host in [format!("/etc/{marker}"), format!("/tmp/{marker}")] {
        assert!(
            !std::path::Path::new(&host).exists(),
            "cp wrote {host} on the HOST"
        );
    }
    let o = h.run(&["cp", &format!("{name}:/etc/{marker}"), "-"]);
    assert_eq!(
        tar_file(&o.ok().raw, &marker).as_deref(),
        Some(&b"marker\n"[..])
    );
    let o = h.run(&["cp", &format!("{name}:/tmp/{marker}"), "-"]);
    assert_eq!(
        tar_file(&o.ok().raw, &marker).as_deref(),
        Some(&b"marker\n"[..])
    );
    let _ = std::fs::remove_dir_all(dir);
}
