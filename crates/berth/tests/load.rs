//! Load: many running containers and many concurrent clients doing `ps`, `inspect`, `logs`,
//! `stats`, `exec` and `run --rm` for a while: no errors, the daemon's descriptors come back to
//! where they were and its memory stays bounded; then many created containers, for the memory
//! each one costs the daemon. Latencies (p50/p99 per call), RSS and descriptor counts are
//! printed (`-- --nocapture`); nothing asserts on time.
//!
//! Sizes: `BERTH_LOAD_CONTAINERS` (default 20), `BERTH_LOAD_CLIENTS` (8), `BERTH_LOAD_SECS`
//! (15), `BERTH_LOAD_CREATED` (100). The run: 200, 50, 300, 1000.
mod common;
use common::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn many_containers_and_clients() {
    if h().mode == Mode::Docker {
        eprintln!("load: measures berth's daemon; skipped in docker mode");
        return;
    }
    let n_containers = env("BERTH_LOAD_CONTAINERS", 20);
    let n_clients = env("BERTH_LOAD_CLIENTS", 8);
    let secs = env("BERTH_LOAD_SECS", 15);
    let n_created = env("BERTH_LOAD_CREATED", 100);
    let d = Daemon::with_busybox("load");
    let pid = d.pid().expect("daemon pid");
    let mut ids = Vec::new();
    for i in 0..n_containers {
        let out = d.run_d(
            &format!("load{i}"),
            &[],
            &[
                "sh",
                "-c",
                "while true; do echo tick $RANDOM; sleep 1; done",
            ],
        );
        out.ok();
        ids.push(out.stdout.trim().to_string());
    }
    let (fds_before, rss_before) = (fd_count(pid), status_kib(pid, "VmRSS:"));
    let lat: Mutex<BTreeMap<&'static str, Vec<Duration>>> = Mutex::new(BTreeMap::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let mut rss_mid = 0;
    std::thread::scope(|s| {
        for c in 0..n_clients {
            let (d, ids, lat, errors, stop) = (&d, &ids, &lat, &errors, &stop);
            s.spawn(move || {
                let mut k = c as usize;
                while !stop.load(Ordering::Relaxed) {
                    k = k.wrapping_mul(31).wrapping_add(7);
                    let id = &ids[k % ids.len()];
                    let t = Instant::now();
                    let (what, ok, detail): (&'static str, bool, String) = match k % 6 {
                        0 => {
                            let r = http(&d.sock, "GET /containers/json HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
                            ("ps", matches!(r, Ok((200, _))), format!("{r:?}"))
                        }
                        1 => {
                            let r = http(&d.sock, &format!("GET /containers/{id}/json HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"));
                            ("inspect", matches!(r, Ok((200, _))), format!("{r:?}"))
                        }
                        2 => {
                            let r = http(&d.sock, &format!("GET /containers/{id}/logs?stdout=1&tail=10 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"));
                            ("logs", matches!(r, Ok((200, _))), format!("{r:?}"))
                        }
                        3 => {
                            let r = http(&d.sock, &format!("GET /containers/{id}/stats?stream=0 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"));
                            ("stats", matches!(r, Ok((200, _))), format!("{r:?}"))
                        }
                        4 => {
                            let o = d.run(&["exec", id, "true"]);
                            ("exec", o.code == 0, o.describe())
                        }
                        _ => {
                            let o = d.run(&["run", "--rm", "--network", "none", "busybox:e2e", "true"]);
                            ("run --rm", o.code == 0, o.describe())
                        }
                    };
                    let took = t.elapsed();
                    if !ok {
                        errors.lock().expect("lock").push(format!("{what}: {detail}"));
                    }
                    lat.lock().expect("lock").entry(what).or_default().push(took);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(secs / 2));
        rss_mid = status_kib(pid, "VmRSS:");
        std::thread::sleep(Duration::from_secs(secs - secs / 2));
        stop.store(true, Ordering::Relaxed);
    });
    let rss_end = status_kib(pid, "VmRSS:");
    let errors = errors.into_inner().expect("lock");
    let mut report =
        format!("load: {n_containers} running containers, {n_clients} clients for {secs} s\n");
    for (what, mut v) in lat.into_inner().expect("lock") {
        v.sort();
        report += &format!(
            "  {what:<9} {:>6} calls  p50 {:>8.1?}  p99 {:>8.1?}\n",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99)
        );
    }
    wait_until(
        "descriptors back after the clients stopped",
        Duration::from_secs(30),
        || fd_count(pid) <= fds_before + 5,
    );
    report += &format!(
        "  daemon RSS {rss_before} KiB before, {rss_mid} KiB midway, {rss_end} KiB at the end (peak {} KiB); fds {fds_before} before, {} after\n",
        status_kib(pid, "VmHWM:"),
        fd_count(pid)
    );
    assert!(
        errors.is_empty(),
        "{report}{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );

    // Memory per created container.
    let rss0 = status_kib(pid, "VmRSS:");
    for i in 0..n_created {
        d.run(&[
            "create",
            "--name",
            &format!("idle{i}"),
            "busybox:e2e",
            "true",
        ])
        .ok();
    }
    let rss1 = status_kib(pid, "VmRSS:");
    report += &format!(
        "  {n_created} created containers: daemon RSS {rss0} -> {rss1} KiB, {:.1} KiB per container\n",
        (rss1.saturating_sub(rss0)) as f64 / n_created.max(1) as f64
    );
    println!("{report}");
    // Bounded: the daemon does not grow by more than 1 MiB per running or created container.
    assert!(
        rss1 < rss_before + 1024 * (n_containers + n_created) + 64 * 1024,
        "{report}"
    );
}
