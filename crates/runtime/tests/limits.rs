//! Resource limits, `update`, stats, OOM visibility and pause on real
//! containers (busybox rootfs), read back from the host's cgroup files.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_runtime::cgroup::{cgroup_path, controller_dir};
use berth_runtime::oom::read_events;
use berth_runtime::{read_exit, read_state, signal, Resources, Ulimit};
use common::*;

fn cg_file(f: &Fixture, controller: &str, file: &str) -> String {
    let path = cgroup_path(&f.spec.cgroup_parent, &f.spec.id);
    let dir: PathBuf = controller_dir(controller, &path)
        .unwrap_or_else(|| panic!("no {controller} cgroup for {path}"));
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

fn unified() -> bool {
    berth_runtime::cgroup::is_unified()
}

fn stop(f: &Fixture) {
    let state = read_state(&f.dir).unwrap().unwrap();
    signal(&state, libc::SIGKILL).unwrap();
    wait_exit(f);
}

#[test]
fn limits_reach_the_cgroup_and_update_changes_them() {
    require_env!();
    let mut f = fixture(&["sh", "-c", "ulimit -n; ulimit -Hn; sleep 100"]);
    f.spec.memory = 64 << 20;
    f.spec.memory_reservation = 32 << 20;
    f.spec.nano_cpus = 1_500_000_000;
    f.spec.cpu_shares = 512;
    f.spec.cpuset_cpus = "0".into();
    f.spec.pids_limit = 50;
    f.spec.ulimits = vec![Ulimit {
        name: "nofile".into(),
        soft: 1000,
        hard: 2000,
    }];
    start(&f).unwrap();
    if unified() {
        assert_eq!(
            cg_file(&f, "memory", "memory.max"),
            (64u64 << 20).to_string()
        );
        assert_eq!(cg_file(&f, "cpu", "cpu.max"), "150000 100000");
        assert_eq!(cg_file(&f, "pids", "pids.max"), "50");
    } else {
        assert_eq!(
            cg_file(&f, "memory", "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            cg_file(&f, "memory", "memory.memsw.limit_in_bytes"),
            (128u64 << 20).to_string()
        );
        assert_eq!(
            cg_file(&f, "memory", "memory.soft_limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert_eq!(cg_file(&f, "cpu", "cpu.cfs_quota_us"), "150000");
        assert_eq!(cg_file(&f, "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(cg_file(&f, "cpu", "cpu.shares"), "512");
        assert_eq!(cg_file(&f, "pids", "pids.max"), "50");
    }
    assert_eq!(cg_file(&f, "cpuset", "cpuset.cpus"), "0");
    // Ulimits inside.
    let deadline = Instant::now() + Duration::from_secs(5);
    while output(&f).lines().count() < 2 {
        assert!(Instant::now() < deadline, "no ulimit output");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(output(&f), "1000\n2000\n");

    // docker update: memory and CPU of the running container.
    berth_runtime::update_resources(
        &f.dir,
        &Resources {
            memory: 128 << 20,
            memory_swap: 256 << 20,
            cpu_quota: 50_000,
            cpu_period: 100_000,
            pids_limit: 99,
            ..Resources::default()
        },
    )
    .unwrap();
    if unified() {
        assert_eq!(
            cg_file(&f, "memory", "memory.max"),
            (128u64 << 20).to_string()
        );
        assert_eq!(cg_file(&f, "cpu", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(
            cg_file(&f, "memory", "memory.limit_in_bytes"),
            (128u64 << 20).to_string()
        );
        assert_eq!(
            cg_file(&f, "memory", "memory.memsw.limit_in_bytes"),
            (256u64 << 20).to_string()
        );
        assert_eq!(cg_file(&f, "cpu", "cpu.cfs_quota_us"), "50000");
        // Unchanged.
        assert_eq!(cg_file(&f, "cpu", "cpu.shares"), "512");
    }
    assert_eq!(cg_file(&f, "pids", "pids.max"), "99");
    // Recorded for a restart.
    let saved = berth_runtime::ContainerSpec::load(&f.dir).unwrap();
    assert_eq!(
        (saved.memory, saved.nano_cpus, saved.cpu_quota),
        (128 << 20, 0, 50_000)
    );
    assert_eq!(saved.cpu_shares, 512);
    // A memory-only update keeps the swap limit (docker update --memory).
    berth_runtime::update_resources(
        &f.dir,
        &Resources {
            memory: 96 << 20,
            ..Resources::default()
        },
    )
    .unwrap();
    if !unified() {
        assert_eq!(
            cg_file(&f, "memory", "memory.limit_in_bytes"),
            (96u64 << 20).to_string()
        );
        assert_eq!(
            cg_file(&f, "memory", "memory.memsw.limit_in_bytes"),
            (256u64 << 20).to_string()
        );
    }
    let saved = berth_runtime::ContainerSpec::load(&f.dir).unwrap();
    assert_eq!((saved.memory, saved.memory_swap), (96 << 20, 256 << 20));
    stop(&f);
}

#[test]
fn ulimit_above_hard_limit_is_a_clear_error() {
    require_env!();
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    if hard == libc::RLIM_INFINITY {
        return;
    }
    let mut f = fixture(&["true"]);
    f.spec.ulimits = vec![Ulimit {
        name: "nofile".into(),
        soft: 10,
        hard: hard as i64 + 1,
    }];
    let e = start(&f).unwrap_err();
    assert!(e.to_string().contains("above the maximum"), "{e}");
}

#[test]
fn stats_of_a_running_container() {
    require_env!();
    // Burn some CPU, hold 20 MB in memory (a file in /dev/shm), keep running.
    let mut f = fixture(&[
        "sh",
        "-c",
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; head -c 20000000 /dev/zero > /dev/shm/blob; echo ready; sleep 100",
    ]);
    f.spec.memory = 256 << 20;
    f.spec.pids_limit = 40;
    start(&f).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !output(&f).contains("ready") {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let state = read_state(&f.dir).unwrap().unwrap();
    let path = cgroup_path(&f.spec.cgroup_parent, &f.spec.id);
    let s = berth_runtime::stats(&path, Some(state.init_pid)).unwrap();
    assert!(s.cpu.total_usage > 1_000_000, "{:?}", s.cpu);
    assert!(s.cpu.system_cpu_usage > s.cpu.total_usage);
    assert!(s.cpu.online_cpus >= 1);
    if !unified() {
        assert_eq!(s.cpu.percpu_usage.len() as u32, s.cpu.online_cpus);
    }
    assert_eq!(s.memory.limit, 256 << 20);
    assert!(
        s.memory.usage_without_cache() > 15_000_000,
        "{:?}",
        s.memory
    );
    assert!(
        s.memory.max_usage.unwrap_or(0) >= 20_000_000,
        "{:?}",
        s.memory.max_usage
    );
    assert_eq!(s.pids.limit, Some(40));
    assert!(s.pids.current >= 1);
    // --network none: only lo, which is not reported.
    assert!(s.networks.is_empty());
    // Serializes (the engine maps it to Docker's JSON).
    serde_json::to_string(&s).unwrap();
    stop(&f);
    assert!(berth_runtime::stats(&path, None).is_err());
}

/// Wait for `oom.jsonl` to have `n` events.
fn wait_oom_events(dir: &Path, n: usize) -> Vec<berth_runtime::oom::OomEvent> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ev = read_events(dir).unwrap();
        if ev.len() >= n {
            return ev;
        }
        assert!(
            Instant::now() < deadline,
            "oom events: {ev:?}; shim.log: {}",
            std::fs::read_to_string(dir.join("shim.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn oom_kill_of_init_is_recorded() {
    require_env!();
    // The shell itself (PID 1) grows a 200 MB string: it is the victim.
    let mut f = fixture(&[
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    f.spec.memory = 64 << 20;
    start(&f).unwrap();
    let exit = wait_exit(&f);
    assert_eq!(exit.exit_code, 137);
    assert!(exit.oom_killed);
    let ev = wait_oom_events(&f.dir, 1);
    assert!(ev.iter().any(|e| e.init_died), "{ev:?}");
    assert_eq!(ev[0].memory_limit, Some(64 << 20));
    assert!(ev[0].memory_peak.unwrap_or(0) > 60 << 20, "{ev:?}");
    assert!(!output(&f).contains("survived"));
}

#[test]
fn oom_kill_of_a_child_is_recorded_while_init_lives() {
    require_env!();
    // A child shell allocates 200 MB and is killed; PID 1 reports and lives on.
    let mut f = fixture(&[
        "sh",
        "-c",
        "sh -c 'x=$(head -c 200000000 /dev/zero | tr \"\\0\" a)'; echo child=$?; sleep 100",
    ]);
    f.spec.memory = 64 << 20;
    start(&f).unwrap();
    let ev = wait_oom_events(&f.dir, 1);
    assert!(!ev[0].init_died, "{ev:?}");
    assert!(ev[0].oom_kill >= 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !output(&f).contains("child=") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(read_exit(&f.dir).unwrap().is_none(), "init died");
    stop(&f);
    // The container was OOM-killed at some point: exit.json says so too.
    assert!(read_exit(&f.dir).unwrap().unwrap().oom_killed);
}

#[test]
fn pause_and_unpause() {
    require_env!();
    let f = fixture(&["sh", "-c", "while :; do echo tick; sleep 0.05; done"]);
    start(&f).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    berth_runtime::pause(&f.dir).unwrap();
    assert!(berth_runtime::is_paused(&f.dir).unwrap());
    std::thread::sleep(Duration::from_millis(100));
    let frozen = output(&f).len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(output(&f).len(), frozen, "output while paused");
    berth_runtime::unpause(&f.dir).unwrap();
    assert!(!berth_runtime::is_paused(&f.dir).unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while output(&f).len() == frozen {
        assert!(Instant::now() < deadline, "no output after unpause");
        std::thread::sleep(Duration::from_millis(10));
    }
    stop(&f);
}
