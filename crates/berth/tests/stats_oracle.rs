//! `stats --no-stream` for two named containers, side by side with the reference dockerd
//! (`../shared/tools/docker-oracle start`): the same header, one row per container, and for the
//! same workload a memory usage within a few percent of what dockerd reports.
//!
//! Runs only in berth mode; fails when the reference dockerd is not reachable (CI starts it).
mod common;
use common::*;
use std::time::{Duration, Instant};

fn oracle_host() -> String {
    std::env::var("BERTH_E2E_ORACLE").unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into())
}

/// The berth CLI against `host` (berth's own daemon or the reference dockerd).
fn berth_on(host: &str, args: &[&str]) -> Out {
    let mut full = vec!["-H", host];
    full.extend_from_slice(args);
    run_cmd(&berth_exe(), &full, &[], None, CMD_TIMEOUT)
}

/// Parses a `MEM USAGE` figure such as `48.27MiB` into bytes.
fn parse_mem(s: &str) -> f64 {
    let s = s.trim();
    let split = s
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or_else(|| panic!("no unit in {s:?}"));
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .unwrap_or_else(|_| panic!("bad number in {s:?}"));
    let mult = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unknown unit {other:?} in {s:?}"),
    };
    n * mult
}

/// Starts the workload (48 MB written to /dev/shm, which the memory cgroup charges) as two named
/// containers on `host`, waits until both finished writing, and returns `stats --no-stream`.
fn workload_stats(host: &str, image: &str, names: [&str; 2]) -> Vec<String> {
    for n in names {
        let _ = berth_on(host, &["rm", "-f", n]);
        berth_on(
            host,
            &[
                "run",
                "-d",
                "--name",
                n,
                "-m",
                "256m",
                image,
                "sh",
                "-c",
                "dd if=/dev/zero of=/dev/shm/x bs=1M count=48 2>/dev/null; touch /tmp/done; sleep 120",
            ],
        )
        .ok();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in names {
        while berth_on(host, &["exec", n, "test", "-e", "/tmp/done"]).code != 0 {
            assert!(Instant::now() < deadline, "{n} on {host} never finished dd");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let mut args = vec!["stats", "--no-stream"];
    args.extend(names);
    let lines = berth_on(host, &args).ok().lines();
    for n in names {
        let _ = berth_on(host, &["rm", "-f", n]);
    }
    lines
}

/// Splits a stats row on runs of 2+ spaces (the table's column separator).
fn columns(row: &str) -> Vec<String> {
    row.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn stats_no_stream_matches_dockerd() {
    let h = h();
    if h.berth_only("stats_no_stream_matches_dockerd") {
        return;
    }
    let oracle = oracle_host();
    let ping = berth_on(&oracle, &["version", "--format", "{{.Server.Version}}"]);
    assert!(
        ping.code == 0,
        "the reference dockerd ({oracle}) is not reachable; start it with \
         ../shared/tools/docker-oracle start: {ping:?}"
    );
    // The same busybox image on both daemons.
    let image = "berth-e2e-stats/busybox:1";
    berth_on(
        &oracle,
        &["import", path_str(&fixture("busybox.tar")), image],
    )
    .ok();
    h.run(&["import", path_str(&fixture("busybox.tar")), image])
        .ok();

    let tag = uname("st");
    let names = [format!("{tag}-a"), format!("{tag}-b")];
    let names = [names[0].as_str(), names[1].as_str()];
    let ours = workload_stats(&h.host, image, names);
    let theirs = workload_stats(&oracle, image, names);
    let _ = berth_on(&oracle, &["rmi", image]);
    let _ = h.run(&["rmi", image]);

    eprintln!(
        "berth:\n{}\ndockerd:\n{}",
        ours.join("\n"),
        theirs.join("\n")
    );
    assert_eq!(ours.len(), 3, "header + two rows from berth: {ours:#?}");
    assert_eq!(
        theirs.len(),
        3,
        "header + two rows from dockerd: {theirs:#?}"
    );
    assert_eq!(columns(&ours[0]), columns(&theirs[0]), "stats header");
    for (o, t) in ours[1..].iter().zip(&theirs[1..]) {
        let (oc, tc) = (columns(o), columns(t));
        assert_eq!(oc.len(), tc.len(), "columns of\n{o}\n{t}");
        assert_eq!(oc[1], tc[1], "NAME column");
        // MEM USAGE / LIMIT: "48.3MiB / 256MiB"
        let (ou, ol) = oc[3].split_once(" / ").expect("berth MEM USAGE / LIMIT");
        let (tu, tl) = tc[3].split_once(" / ").expect("dockerd MEM USAGE / LIMIT");
        assert_eq!(ol, tl, "memory limit");
        let (ou, tu) = (parse_mem(ou), parse_mem(tu));
        let diff = (ou - tu).abs() / tu;
        assert!(
            diff < 0.05,
            "memory usage differs by {:.1}%: berth {o:?} vs dockerd {t:?}",
            diff * 100.0
        );
        // PIDS: same process tree (sh + sleep).
        assert_eq!(oc.last(), tc.last(), "PIDS of\n{o}\n{t}");
    }
}
