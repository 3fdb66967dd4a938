//! Crash consistency: random mixes of operations while the daemon is `kill -9`ed at random
//! moments (and, now and then, the shim of a random container and CLI calls mid-stream); after
//! every kill the daemon comes back (restarted by the next CLI call, as a user's would be) and
//! the invariants below are checked. Every object is fully there or fully absent, nothing is
//! orphaned, running containers are running and controllable, the store verifies.
//!
//! `BERTH_CRASH_KILLS` sets the number of daemon kills (default 8, CI's short run);
//! `BERTH_CRASH_SEED` the seed. The figures are printed (`-- --nocapture`).
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn get(d: &Daemon, path: &str) -> (u16, Value) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
    match http(&d.sock, &req) {
        Ok((code, body)) => (code, serde_json::from_str(&body).unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

fn daemon_pids(d: &Daemon) -> Vec<u32> {
    pids_with(&[" daemon ", &d.data_root.to_string_lossy()])
}

/// One random operation through the CLI (failures are expected: the daemon may be dead).
fn random_op(d: &Daemon, rng: &mut Rng, round: u64, worker: u64) {
    let tag = format!("r{round}w{worker}n{}", rng.below(4));
    let c = format!("c{tag}");
    let v = format!("v{}", rng.below(3));
    let n = format!("n{}", rng.below(2));
    let quick = |args: &[&str]| {
        let _ = run_cmd(
            &berth_exe(),
            &[&["-H", &d.host], args].concat(),
            &[],
            None,
            Duration::from_secs(60),
        );
    };
    match rng.below(16) {
        0 | 1 => quick(&[
            "run",
            "-d",
            "--name",
            &c,
            "-v",
            &format!("{v}:/data"),
            "busybox:e2e",
            "sh",
            "-c",
            "echo start >> /data/log; while true; do echo tick; sleep 1; done",
        ]),
        2 => quick(&[
            "run",
            "-d",
            "--name",
            &c,
            "--network",
            &n,
            "busybox:e2e",
            "sleep",
            "300",
        ]),
        3 => quick(&["create", "--name", &c, "busybox:e2e", "true"]),
        4 => quick(&["start", &c]),
        5 => quick(&["stop", "-t", "1", &c]),
        6 => quick(&["rm", "-f", &c]),
        7 => quick(&["rename", &c, &format!("{c}x")]),
        8 => quick(&["commit", &c, &format!("crash/{tag}:1")]),
        9 => quick(&["exec", &c, "sh", "-c", "echo hi > /tmp/x"]),
        10 => quick(&["network", "create", &n]),
        11 => quick(&["network", "rm", &n]),
        12 => quick(&["volume", "create", &v]),
        13 => quick(&["volume", "rm", &v]),
        14 => quick(&["tag", "busybox:e2e", &format!("crash/{tag}:t")]),
        _ => quick(&["rmi", &format!("crash/{tag}:t")]),
    }
}

/// Checks every invariant once the daemon answers again; returns how many checks ran.
fn check_invariants(d: &Daemon, round: u64, rng: &mut Rng) -> u64 {
    let mut checks = 0u64;
    let mut check = |ok: bool, what: String| {
        checks += 1;
        assert!(
            ok,
            "round {round}: {what}\ndaemon log tail:\n{}",
            tail(&d.log_text())
        );
    };
    // The daemon is back (restarted by a CLI call if no worker's call did it).
    let ps = d.run(&["ps", "-aq", "--no-trunc"]);
    check(
        ps.code == 0,
        format!("ps after the restart: {}", ps.describe()),
    );
    check(
        daemon_pids(d).len() == 1,
        format!("daemons on the data root: {:?}", daemon_pids(d)),
    );

    let (code, list) = get(d, "/containers/json?all=1");
    check(code == 200, format!("GET /containers/json: {code}"));
    let mut ids = BTreeSet::new();
    let mut running = BTreeSet::new();
    let mut execs = 0;
    for c in list.as_array().cloned().unwrap_or_default() {
        let id = c["Id"].as_str().unwrap_or_default().to_string();
        let (code, insp) = get(d, &format!("/containers/{id}/json"));
        check(code == 200, format!("inspect {id}: {code}"));
        if insp["State"]["Running"].as_bool() == Some(true) {
            let pid = insp["State"]["Pid"].as_u64().unwrap_or(0);
            check(
                pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
                format!("{id} is listed running but its pid {pid} is gone"),
            );
            if execs < 2 && rng.below(2) == 0 {
                execs += 1;
                let out = d.run(&["exec", &id, "true"]);
                check(
                    out.code == 0,
                    format!("exec in running {id}: {}", out.describe()),
                );
            }
            running.insert(id.clone());
        } else {
            check(
                insp["State"]["Status"].as_str() != Some("running"),
                format!("{id}: Running false but status running"),
            );
        }
        let logs = d.run(&["logs", "--tail", "1", &id]);
        check(logs.code == 0, format!("logs of {id}: {}", logs.describe()));
        ids.insert(id);
    }
    // Fully there or fully absent: container directories are exactly the listed containers.
    let dirs: BTreeSet<String> = std::fs::read_dir(d.data_root.join("containers"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    check(
        dirs == ids,
        format!("container dirs {dirs:?} vs listed {ids:?}"),
    );
    // No orphan shims or mounts.
    let root = d.data_root.to_string_lossy().into_owned();
    for pid in pids_with(&[" shim ", &root]) {
        let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        check(
            running.iter().any(|id| cmd.contains(id.as_str())),
            format!("shim {pid} runs for no running container: {cmd:?}"),
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for m in mounts.lines().filter_map(|l| l.split(' ').nth(4)) {
        if let Some(rest) = m.strip_prefix(&format!("{root}/containers/")) {
            let id = rest.split('/').next().unwrap_or_default();
            check(
                running.contains(id),
                format!("mount {m} of a container that is not running"),
            );
        }
    }
    // Images: listed ones inspect; the store's blobs match their digests; layers are complete.
    let (code, images) = get(d, "/images/json?all=1");
    check(code == 200, format!("GET /images/json: {code}"));
    for i in images.as_array().cloned().unwrap_or_default() {
        let id = i["Id"].as_str().unwrap_or_default().to_string();
        let (code, _) = get(d, &format!("/images/{id}/json"));
        check(code == 200, format!("inspect image {id}: {code}"));
    }
    let blobs = d.data_root.join("image/blobs/sha256");
    for e in std::fs::read_dir(&blobs)
        .map(|r| r.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        use sha2::Digest;
        let got = hex::encode(sha2::Sha256::digest(&bytes));
        check(got == name, format!("blob {name} hashes to {got}"));
    }
    let layers = d.data_root.join("image/layers");
    for e in std::fs::read_dir(&layers)
        .map(|r| r.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        check(
            e.path().join("diff").is_dir() && e.path().join("size").is_file(),
            format!("incomplete layer directory {}", e.path().display()),
        );
    }
    // Volumes and networks: listed ones inspect; networks on disk are the listed ones.
    let (code, vols) = get(d, "/volumes");
    check(code == 200, format!("GET /volumes: {code}"));
    for v in vols["Volumes"].as_array().cloned().unwrap_or_default() {
        let mp = v["Mountpoint"].as_str().unwrap_or_default().to_string();
        check(
            Path::new(&mp).is_dir(),
            format!("volume mountpoint {mp} missing"),
        );
    }
    let (code, nets) = get(d, "/networks");
    check(code == 200, format!("GET /networks: {code}"));
    let listed: BTreeSet<String> = nets
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| n["Id"].as_str().unwrap_or_default().to_string())
        .collect();
    for e in std::fs::read_dir(d.data_root.join("network"))
        .map(|r| r.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".json") {
            check(
                listed.contains(id),
                format!("network record {id} not listed"),
            );
        }
    }
    checks
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[test]
fn daemon_kill9_at_random_moments_loses_nothing() {
    if h().mode == Mode::Docker {
        eprintln!("crash harness: berth daemon only; skipped");
        return;
    }
    let kills: u64 = std::env::var("BERTH_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("BERTH_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x00c0_ffee_1234_5678);
    eprintln!("crash harness: {kills} kills, seed {seed}");
    let d = Daemon::with_busybox("crash");
    let mut rng = Rng(seed);
    let checks = AtomicU64::new(0);
    let (mut shim_kills, mut cli_kills) = (0u64, 0u64);
    let started = Instant::now();
    for round in 0..kills {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..3u64 {
                let stop = &stop;
                let d = &d;
                let mut wrng = Rng(seed ^ (round << 8) ^ (w + 1));
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        random_op(d, &mut wrng, round, w);
                    }
                });
            }
            // A CLI call streaming when things die.
            let mut follower = std::process::Command::new(berth_exe())
                .args(["-H", &d.host, "events"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn events");
            std::thread::sleep(Duration::from_millis(100 + rng.below(900)));
            if rng.below(3) == 0 {
                let shims = pids_with(&[" shim ", &d.data_root.to_string_lossy()]);
                if !shims.is_empty() {
                    signal(shims[rng.below(shims.len() as u64) as usize], libc::SIGKILL);
                    shim_kills += 1;
                }
            }
            let _ = follower.kill();
            let _ = follower.wait();
            cli_kills += 1;
            d.kill9();
            for pid in daemon_pids(&d) {
                signal(pid, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(rng.below(300)));
            stop.store(true, Ordering::Relaxed);
        });
        checks.fetch_add(check_invariants(&d, round, &mut rng), Ordering::Relaxed);
    }
    eprintln!(
        "crash harness: {kills} daemon kills, {shim_kills} shim kills, {cli_kills} CLI streams killed, {} invariant checks, 0 violations, {:?}",
        checks.load(Ordering::Relaxed),
        started.elapsed()
    );
    // Clean up what the last daemon (started by a CLI call, not owned by the harness) holds.
    let ids = d.run(&["ps", "-aq"]).lines();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        let _ = d.run(&args);
    }
    for pid in daemon_pids(&d) {
        signal(pid, libc::SIGTERM);
    }
}
