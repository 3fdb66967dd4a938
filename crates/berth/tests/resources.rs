//! Resources, `update`, `stats`, `pause`/`unpause` and OOM kills made
//! visible (issue 3, points 5-8). The docker CLI (`/usr/bin/docker`, API
//! 1.41) drives the daemon under test (berth's, or dockerd under
//! `BERTH_E2E_CLI=docker`), so every expectation is also checked against
//! Docker; the berth-specific parts (the OOM line in the log, cgroup
//! read-back under `/sys/fs/cgroup/*/berth`) are skipped in docker mode.
mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

/// Allocates ~200 MB inside `sh` (the command substitution holds it).
const ALLOC: &str = r#"x=$(head -c 200000000 /dev/zero | tr "\0" a); echo done"#;

/// Runs the docker CLI against the daemon under test.
fn docker(h: &Harness, args: &[&str]) -> Out {
    let mut full = vec!["-H", h.host.as_str()];
    full.extend_from_slice(args);
    run_cmd(Path::new("/usr/bin/docker"), &full, &[], None, CMD_TIMEOUT)
}

fn sock(h: &Harness) -> std::path::PathBuf {
    sock_of(&h.host)
}

fn get(h: &Harness, path: &str) -> (u16, String) {
    http(
        &sock(h),
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .expect("http request")
}

fn post(h: &Harness, path: &str, body: &str) -> (u16, String) {
    http(
        &sock(h),
        &format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .expect("http request")
}

/// The v1 cgroup directory of a berth container for `controller`.
fn cgroup_file(id: &str, controller: &str, file: &str) -> String {
    let p = format!("/sys/fs/cgroup/{controller}/berth/{id}/{file}");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {p}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn create_validates_resources_like_dockerd() {
    let h = h();
    let name = uname("val");
    let _g = h.guard(&[&name]);
    let cases: &[(&[&str], &str)] = &[
        (&["-m", "4m"], "Minimum memory limit allowed is 6MB"),
        (
            &["-m", "64m", "--memory-swap", "32m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            &["--memory-swap", "64m"],
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            &["--cpus", "0.5", "--cpu-quota", "5000"],
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        (
            &["--cpu-quota", "100"],
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ),
        (
            &["--oom-score-adj", "2000"],
            "Invalid value 2000, range for oom score adj is [-1000, 1000]",
        ),
        (
            &["--cpuset-cpus", "x"],
            "Invalid value x for cpuset cpus: invalid format: x",
        ),
    ];
    for (opts, msg) in cases {
        let mut args = vec!["create", "--name", name.as_str()];
        args.extend_from_slice(opts);
        args.extend([h.image.as_str(), "true"]);
        docker(h, &args)
            .code(1)
            .stderr_has(&format!("Error response from daemon: {msg}"));
    }
    let ncpu = std::thread::available_parallelism().unwrap().get();
    let too_many = format!("{}", ncpu + 1);
    docker(
        h,
        &["create", "--cpus", &too_many, h.image.as_str(), "true"],
    )
    .code(1)
    .stderr_has(&format!(
        "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
    ));

    docker(
        h,
        &[
            "create",
            "--name",
            &name,
            "-m",
            "256m",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "50",
            "--ulimit",
            "nofile=100:200",
            &h.image,
            "true",
        ],
    )
    .ok();
    let hc = &h.inspect_json(&name)["HostConfig"];
    assert_eq!(hc["Memory"], 268435456);
    assert_eq!(hc["MemorySwap"], 536870912, "twice the memory by default");
    assert_eq!(hc["CpuShares"], 512);
    assert_eq!(hc["PidsLimit"], 50);
    assert_eq!(hc["ShmSize"], 67108864, "64 MB /dev/shm by default");
    assert_eq!(
        hc["Ulimits"],
        serde_json::json!([{"Name": "nofile", "Soft": 100, "Hard": 200}])
    );
}

#[test]
fn limits_reach_the_cgroup_and_the_process() {
    let h = h();
    if h.berth_only("limits_reach_the_cgroup_and_the_process") {
        return;
    }
    let name = uname("lim");
    let _g = h.guard(&[&name]);
    let id = docker(
        h,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "-m",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "30",
            "--ulimit",
            "nofile=100:200",
            &h.image,
            "sleep",
            "100",
        ],
    )
    .ok()
    .out();
    assert_eq!(
        cgroup_file(&id, "memory", "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(cgroup_file(&id, "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cgroup_file(&id, "pids", "pids.max"), "30");
    h.run(&["exec", &name, "sh", "-c", "ulimit -n; ulimit -Hn"])
        .ok()
        .stdout_is("100\n200\n");
}

#[test]
fn oom_kill_of_init_is_visible() {
    let h = h();
    let name = uname("oom");
    let _g = h.guard(&[&name]);
    let run = docker(
        h,
        &[
            "run", "--name", &name, "-m", "64m", &h.image, "sh", "-c", ALLOC,
        ],
    );
    run.code(137);
    assert!(!run.stdout.contains("done"), "{}", run.stdout);
    assert_eq!(
        h.inspect_f(&name, "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    let ps = docker(
        h,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Status}}",
        ],
    );
    assert!(ps.ok().out().starts_with("Exited (137)"), "{}", ps.stdout);
    if h.is_berth() {
        let line = format!("berth: container {name} was killed: memory limit 64MiB reached (peak ");
        // The foreground run shows it (as stderr), and so does `logs`.
        run.stderr_has(&line);
        docker(h, &["logs", &name]).ok().stderr_has(&line);
        h.run(&["logs", &name])
            .ok()
            .stderr_has("Raise it with --memory.");
    }
}

#[test]
fn oom_kill_of_a_child_keeps_the_container() {
    let h = h();
    let name = uname("oomc");
    let _g = h.guard(&[&name]);
    let script = format!("sh -c '{ALLOC}'; echo survived; sleep 1");
    let run = docker(
        h,
        &[
            "run", "--name", &name, "-m", "64m", &h.image, "sh", "-c", &script,
        ],
    );
    run.ok().stdout_has("survived");
    assert_eq!(h.inspect_f(&name, "{{.State.ExitCode}}"), "0");
    if h.is_berth() {
        let line =
            format!("berth: a process in container {name} was killed: memory limit 64MiB reached");
        run.stderr_has(&line)
            .stderr_has("The container is still running.");
        docker(h, &["logs", &name]).ok().stderr_has(&line);
    }
}

#[test]
fn update_changes_a_running_container() {
    let h = h();
    let name = uname("upd");
    let _g = h.guard(&[&name]);
    let id = docker(
        h,
        &[
            "run", "-d", "--name", &name, "-m", "256m", &h.image, "sleep", "100",
        ],
    )
    .ok()
    .out();
    docker(h, &["update", "-m", "600m", &name])
        .code(1)
        .stderr_has(&format!(
            "Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        ));
    docker(h, &["update", "-m", "4m", &name])
        .code(1)
        .stderr_has("Minimum memory limit allowed is 6MB");
    docker(
        h,
        &[
            "update",
            "-m",
            "300m",
            "--pids-limit",
            "20",
            "--restart",
            "on-failure:3",
            &name,
        ],
    )
    .ok()
    .stdout_is(&format!("{name}\n"));
    assert_eq!(
        h.inspect_f(
            &name,
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "314572800 536870912 20 on-failure:3"
    );
    let (code, body) = post(
        h,
        &format!("/v1.41/containers/{name}/update"),
        r#"{"CpuShares": 256}"#,
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["Warnings"].is_null() || v["Warnings"] == serde_json::json!([]),
        "{body}"
    );
    if h.is_berth() {
        assert_eq!(
            cgroup_file(&id, "memory", "memory.limit_in_bytes"),
            "314572800"
        );
        assert_eq!(cgroup_file(&id, "pids", "pids.max"), "20");
        assert_eq!(cgroup_file(&id, "cpu", "cpu.shares"), "256");
    }
}

#[test]
fn pause_and_unpause() {
    let h = h();
    let name = uname("pause");
    let _g = h.guard(&[&name]);
    let id = docker(h, &["create", "--name", &name, &h.image, "sleep", "100"])
        .ok()
        .out();
    docker(h, &["pause", &name])
        .code(1)
        .stderr_has(&format!("Container {id} is not running"));
    docker(h, &["start", &name]).ok();
    docker(h, &["pause", &name]).ok();
    docker(h, &["pause", &name])
        .code(1)
        .stderr_has(&format!("Container {id} is already paused"));
    assert_eq!(
        h.inspect_f(
            &name,
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"
        ),
        "paused true true"
    );
    let ps = docker(
        h,
        &[
            "ps",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.State}}|{{.Status}}",
        ],
    );
    let out = ps.ok().out();
    assert!(
        out.starts_with("paused|Up ") && out.ends_with(" (Paused)"),
        "{out}"
    );
    if h.is_berth() {
        assert_eq!(cgroup_file(&id, "freezer", "freezer.state"), "FROZEN");
    }
    docker(h, &["rm", &name])
        .code(1)
        .stderr_has("You cannot remove a paused container");
    docker(h, &["unpause", &name]).ok();
    assert_eq!(
        h.inspect_f(&name, "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );
    docker(h, &["unpause", &name])
        .code(1)
        .stderr_has(&format!("Container {id} is not paused"));
    // A paused container can be stopped: the signal is delivered once thawed.
    docker(h, &["pause", &name]).ok();
    docker(h, &["stop", "-t", "1", &name]).ok();
    assert_eq!(
        h.inspect_f(
            &name,
            "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}"
        ),
        "exited false 137"
    );
}

#[test]
fn stats_json_and_docker_stats() {
    let h = h();
    let name = uname("stats");
    let _g = h.guard(&[&name]);
    docker(
        h,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "-m",
            "256m",
            "--network",
            "none",
            &h.image,
            "sh",
            "-c",
            "dd if=/dev/zero of=/dev/shm/x bs=1M count=32 2>/dev/null; sleep 100",
        ],
    )
    .ok();
    h.wait_until("the file in /dev/shm", Duration::from_secs(10), || {
        h.run(&["exec", &name, "ls", "/dev/shm/x"]).code == 0
    });
    let (code, body) = get(h, &format!("/v1.41/containers/{name}/stats?stream=0"));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["name"], format!("/{name}"));
    assert_eq!(v["id"].as_str().map(str::len), Some(64));
    // stream=0 (without one-shot) takes two samples: precpu is the first,
    // read earlier than the second.
    assert_ne!(v["preread"], "0001-01-01T00:00:00Z", "precpu filled");
    let time = |k: &str| {
        let t = v[k].as_str().unwrap_or_else(|| panic!("{k}: {v}"));
        chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{k} {t:?}: {e}"))
    };
    assert!(time("preread") < time("read"), "preread before read: {v}");
    let pre_system = v["precpu_stats"]["system_cpu_usage"].as_u64();
    let system = v["cpu_stats"]["system_cpu_usage"].as_u64();
    assert!(
        matches!((pre_system, system), (Some(p), Some(s)) if p > 0 && p < s),
        "precpu's system usage is an earlier sample: {v}"
    );
    assert!(v["precpu_stats"]["online_cpus"].as_u64() >= Some(1), "{v}");
    let cpu = &v["cpu_stats"];
    assert!(
        cpu["cpu_usage"]["total_usage"].as_u64().unwrap() > 0,
        "{cpu}"
    );
    assert!(cpu["system_cpu_usage"].as_u64().unwrap() > 0);
    assert!(cpu["online_cpus"].as_u64().unwrap() >= 1);
    assert!(v["precpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .is_some());
    let mem = &v["memory_stats"];
    assert_eq!(mem["limit"], 268435456);
    let usage = mem["usage"].as_u64().unwrap();
    assert!(
        (32 << 20..100 << 20).contains(&usage),
        "32 MiB in /dev/shm count: usage {usage}"
    );
    assert!(
        mem["stats"]["total_inactive_file"].as_u64().is_some(),
        "{mem}"
    );
    assert_eq!(v["pids_stats"]["current"], 1);
    assert!(v["blkio_stats"]["io_service_bytes_recursive"].is_array());
    assert!(v.get("networks").is_none(), "--network none: no networks");
    if h.is_berth() {
        assert!(
            mem["peak"].as_u64().unwrap() >= usage,
            "berth's peak: {mem}"
        );
    }
    // one-shot: no wait, no precpu.
    let (code, body) = get(
        h,
        &format!("/v1.41/containers/{name}/stats?stream=0&one-shot=1"),
    );
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["preread"], "0001-01-01T00:00:00Z");

    let row = docker(
        h,
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}}|{{.MemUsage}}|{{.PIDs}}",
            &name,
        ],
    );
    let out = row.ok().out();
    let parts: Vec<&str> = out.split('|').collect();
    assert_eq!(parts[0], name, "{out}");
    assert!(parts[1].ends_with(" / 256MiB"), "{out}");
    let used: f64 = parts[1]
        .split("MiB")
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("MEM USAGE in MiB: {out}"));
    assert!((32.0..40.0).contains(&used), "about 32 MiB used: {out}");
    assert_eq!(parts[2], "1");

    // A stopped container: dockerd's zeros, at once.
    docker(h, &["kill", &name]).ok();
    let (code, body) = get(h, &format!("/v1.41/containers/{name}/stats?stream=0"));
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["read"], "0001-01-01T00:00:00Z");
    assert_eq!(v["memory_stats"], serde_json::json!({}));
    let (code, _) = get(h, "/v1.41/containers/nosuch-x2/stats?stream=0");
    assert_eq!(code, 404);
}
