//! Resource usage of a running container, read from its cgroup (v1, v2 and
//! hybrid hosts), `/proc/stat` and the network namespace of its init; shaped
//! to fill Docker's stats JSON (`/containers/{id}/stats`).
//!
//! Docker's CLI shows memory usage without the page cache: use
//! [`MemoryStats::usage_without_cache`] (v1 `total_inactive_file`, v2
//! `inactive_file`, as Docker 20.10 does). CPU % is computed by the caller
//! from two samples: `(Δtotal_usage / Δsystem_cpu_usage) * online_cpus * 100`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cgroup::{controller_dir, is_unified, read_number};
use crate::error::RuntimeError;

/// Nanoseconds per clock tick of `/proc/stat` and `cpuacct.stat` (USER_HZ = 100).
const NANOS_PER_TICK: u64 = 10_000_000;

/// One sample of a container's resource usage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContainerStats {
    /// When it was read.
    pub read: DateTime<Utc>,
    /// CPU usage.
    pub cpu: CpuStats,
    /// Memory usage.
    pub memory: MemoryStats,
    /// Process count.
    pub pids: PidsStats,
    /// Block I/O.
    pub blkio: BlkioStats,
    /// Network interfaces of the container's namespace (without `lo`), by name.
    pub networks: BTreeMap<String, NetworkStats>,
}

/// CPU counters (nanoseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CpuStats {
    /// CPU time used by the container.
    pub total_usage: u64,
    /// Per CPU (v1 only; empty on v2, as in Docker).
    pub percpu_usage: Vec<u64>,
    /// Time in kernel mode.
    pub usage_in_kernelmode: u64,
    /// Time in user mode.
    pub usage_in_usermode: u64,
    /// The host's total CPU time (all CPUs, from `/proc/stat`).
    pub system_cpu_usage: u64,
    /// Number of online CPUs.
    pub online_cpus: u32,
    /// CFS periods elapsed.
    pub throttling_periods: u64,
    /// Periods in which the container was throttled.
    pub throttled_periods: u64,
    /// Total time throttled.
    pub throttled_time: u64,
}

/// Memory counters (bytes).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemoryStats {
    /// Usage including the page cache (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub usage: u64,
    /// The limit (the host's memory when unlimited, as Docker reports).
    pub limit: u64,
    /// Peak usage since the container started (v2 `memory.peak`, v1
    /// `memory.max_usage_in_bytes`); `None` when the kernel does not keep it.
    pub max_usage: Option<u64>,
    /// The reclaimable page cache Docker subtracts (v1 `total_inactive_file`,
    /// v2 `inactive_file`).
    pub inactive_file: u64,
    /// Times the limit was hit (v1 `memory.failcnt`, v2 `max` event count).
    pub failcnt: u64,
    /// All of `memory.stat`.
    pub stats: BTreeMap<String, u64>,
}

impl MemoryStats {
    /// Usage as Docker's CLI shows it: without the inactive page cache.
    pub fn usage_without_cache(&self) -> u64 {
        self.usage.saturating_sub(self.inactive_file)
    }
}

/// Process counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PidsStats {
    /// Processes (tasks) in the cgroup.
    pub current: u64,
    /// The limit (`None`: unlimited).
    pub limit: Option<u64>,
}

/// Block I/O byte counters, summed over devices.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlkioStats {
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Per device and operation, as Docker's `io_service_bytes_recursive`.
    pub entries: Vec<BlkioEntry>,
}

/// One device counter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read`, `Write`, ...
    pub op: String,
    /// Bytes.
    pub value: u64,
}

/// One network interface's counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Sent packets dropped.
    pub tx_dropped: u64,
}

/// Read the stats of cgroup `cgroup_path` (see [`crate::cgroup::cgroup_path`]);
/// network counters come from `/proc/<init_pid>/net/dev` when `init_pid` is
/// given. Missing files leave their fields at zero; a cgroup that does not
/// exist (no memory hierarchy directory) is an error.
pub fn stats(cgroup_path: &str, init_pid: Option<i32>) -> Result<ContainerStats, RuntimeError> {
    let memory_dir = controller_dir("memory", cgroup_path).ok_or_else(|| {
        RuntimeError::io(
            "stats",
            cgroup_path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })?;
    let mut s = ContainerStats {
        read: Utc::now(),
        ..ContainerStats::default()
    };
    let (system, online) =
        parse_proc_stat(&std::fs::read_to_string("/proc/stat").unwrap_or_default());
    s.cpu.system_cpu_usage = system;
    s.cpu.online_cpus = online;
    if is_unified() {
        read_v2(&memory_dir, &mut s);
    } else {
        read_v1(cgroup_path, &memory_dir, &mut s);
    }
    s.memory.limit = clamp_limit(s.memory.limit, host_memory());
    if let Some(pid) = init_pid {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) {
            s.networks = parse_net_dev(&text);
        }
    }
    Ok(s)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file).trim().parse().unwrap_or(0)
}

fn read_v1(cgroup_path: &str, memory: &Path, s: &mut ContainerStats) {
    let dir =
        |c: &str| controller_dir(c, cgroup_path).unwrap_or_else(|| PathBuf::from("/nonexistent"));
    let cpuacct = dir("cpuacct");
    s.cpu.total_usage = num(&cpuacct, "cpuacct.usage");
    s.cpu.percpu_usage = read(&cpuacct, "cpuacct.usage_percpu")
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let acct = parse_flat(&read(&cpuacct, "cpuacct.stat"));
    s.cpu.usage_in_usermode = acct
        .get("user")
        .copied()
        .unwrap_or(0)
        .saturating_mul(NANOS_PER_TICK);
    s.cpu.usage_in_kernelmode = acct
        .get("system")
        .copied()
        .unwrap_or(0)
        .saturating_mul(NANOS_PER_TICK);
    let cpu = parse_flat(&read(&dir("cpu"), "cpu.stat"));
    s.cpu.throttling_periods = cpu.get("nr_periods").copied().unwrap_or(0);
    s.cpu.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
    s.cpu.throttled_time = cpu.get("throttled_time").copied().unwrap_or(0);

    s.memory.usage = num(memory, "memory.usage_in_bytes");
    s.memory.limit = read_number(&memory.join("memory.limit_in_bytes")).unwrap_or(0);
    s.memory.max_usage = read_number(&memory.join("memory.max_usage_in_bytes"));
    s.memory.failcnt = num(memory, "memory.failcnt");
    s.memory.stats = parse_flat(&read(memory, "memory.stat"));
    s.memory.inactive_file = s
        .memory
        .stats
        .get("total_inactive_file")
        .copied()
        .unwrap_or(0);

    let pids = dir("pids");
    s.pids.current = num(&pids, "pids.current");
    s.pids.limit = read_number(&pids.join("pids.max"));

    let blkio = dir("blkio");
    let mut text = read(&blkio, "blkio.throttle.io_service_bytes_recursive");
    if text.trim().is_empty() {
        text = read(&blkio, "blkio.io_service_bytes_recursive");
    }
    s.blkio = parse_blkio_v1(&text);
}

fn read_v2(dir: &Path, s: &mut ContainerStats) {
    let cpu = parse_flat(&read(dir, "cpu.stat"));
    let usec = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
    s.cpu.total_usage = usec("usage_usec");
    s.cpu.usage_in_usermode = usec("user_usec");
    s.cpu.usage_in_kernelmode = usec("system_usec");
    s.cpu.throttling_periods = cpu.get("nr_periods").copied().unwrap_or(0);
    s.cpu.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
    s.cpu.throttled_time = usec("throttled_usec");

    s.memory.usage = num(dir, "memory.current");
    s.memory.limit = read_number(&dir.join("memory.max")).unwrap_or(0);
    s.memory.max_usage = read_number(&dir.join("memory.peak"));
    s.memory.stats = parse_flat(&read(dir, "memory.stat"));
    s.memory.inactive_file = s.memory.stats.get("inactive_file").copied().unwrap_or(0);
    s.memory.failcnt = parse_flat(&read(dir, "memory.events"))
        .get("max")
        .copied()
        .unwrap_or(0);

    s.pids.current = num(dir, "pids.current");
    s.pids.limit = read_number(&dir.join("pids.max"));
    s.blkio = parse_io_stat_v2(&read(dir, "io.stat"));
}

/// `key value` lines.
fn parse_flat(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// Total CPU time in nanoseconds and the number of CPUs, from `/proc/stat`.
fn parse_proc_stat(text: &str) -> (u64, u32) {
    let mut total = 0;
    let mut cpus = 0;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        match it.next() {
            Some("cpu") => {
                // user nice system idle iowait irq softirq steal
                total = it
                    .take(8)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .fold(0u64, u64::saturating_add)
                    .saturating_mul(NANOS_PER_TICK);
            }
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus)
}

/// v1 `blkio.*io_service_bytes*`: `8:0 Read 4096` lines (and `Total n`).
fn parse_blkio_v1(text: &str) -> BlkioStats {
    let mut b = BlkioStats::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [dev, op, value] = f.as_slice() else {
            continue;
        };
        let Some((major, minor)) = dev.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor), Ok(value)) =
            (major.parse(), minor.parse(), value.parse::<u64>())
        else {
            continue;
        };
        match *op {
            "Read" => b.read_bytes = b.read_bytes.saturating_add(value),
            "Write" => b.write_bytes = b.write_bytes.saturating_add(value),
            _ => {}
        }
        b.entries.push(BlkioEntry {
            major,
            minor,
            op: op.to_string(),
            value,
        });
    }
    b
}

/// v2 `io.stat`: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...` lines.
fn parse_io_stat_v2(text: &str) -> BlkioStats {
    let mut b = BlkioStats::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((major, minor)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse::<u64>() else {
                continue;
            };
            let op = match k {
                "rbytes" => {
                    b.read_bytes = b.read_bytes.saturating_add(value);
                    "Read"
                }
                "wbytes" => {
                    b.write_bytes = b.write_bytes.saturating_add(value);
                    "Write"
                }
                _ => continue,
            };
            b.entries.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    b
}

/// `/proc/<pid>/net/dev`, without `lo`.
fn parse_net_dev(text: &str) -> BTreeMap<String, NetworkStats> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() < 16 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            },
        );
    }
    out
}

/// Total memory of the host in bytes (`/proc/meminfo` MemTotal).
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb.saturating_mul(1024))
        .unwrap_or(0)
}

/// The memory limit as dockerd reports it: no limit (0, v1's huge value or
/// v2's `max`) or one above the host's memory is the host's memory.
fn clamp_limit(limit: u64, host: u64) -> u64 {
    if host > 0 && (limit == 0 || limit > host) {
        host
    } else {
        limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped_to_host_memory() {
        assert_eq!(clamp_limit(0, 8 << 30), 8 << 30);
        assert_eq!(clamp_limit(9_223_372_036_854_771_712, 8 << 30), 8 << 30);
        assert_eq!(clamp_limit(512 << 20, 8 << 30), 512 << 20);
        assert_eq!(clamp_limit(512 << 20, 0), 512 << 20);
    }

    #[test]
    fn parsers() {
        let (total, cpus) = parse_proc_stat(
            "cpu  10 1 5 100 2 0 1 0 0 0\ncpu0 5 0 2 50 1 0 0 0 0 0\ncpu1 5 1 3 50 1 0 1 0 0 0\nintr 5\n",
        );
        assert_eq!((total, cpus), (119 * NANOS_PER_TICK, 2));
        // Absurd counters saturate instead of overflowing (a panic in debug).
        let (total, _) = parse_proc_stat(&format!("cpu {} {} 0 0\n", u64::MAX, u64::MAX));
        assert_eq!(total, u64::MAX);
        let b = parse_blkio_v1(&format!("8:0 Read {}\n8:16 Read {}\n", u64::MAX, 5));
        assert_eq!(b.read_bytes, u64::MAX);
        let b =
            parse_blkio_v1("8:0 Read 4096\n8:0 Write 512\n8:0 Sync 1\n8:16 Read 4\nTotal 4613\n");
        assert_eq!(
            (b.read_bytes, b.write_bytes, b.entries.len()),
            (4100, 512, 4)
        );
        let b = parse_io_stat_v2("8:0 rbytes=100 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!((b.read_bytes, b.write_bytes, b.entries.len()), (100, 20, 2));
        let n = parse_net_dev(
            "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1500 12 1 2 0 0 0 0 700 7 3 4 0 0 0 0\n",
        );
        assert_eq!(n.len(), 1);
        assert_eq!(
            n["eth0"],
            NetworkStats {
                rx_bytes: 1500,
                rx_packets: 12,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 700,
                tx_packets: 7,
                tx_errors: 3,
                tx_dropped: 4
            }
        );
        let m = parse_flat("cache 5\ntotal_inactive_file 3\nbad\n");
        assert_eq!(m.len(), 2);
        let mem = MemoryStats {
            usage: 10,
            inactive_file: 3,
            ..MemoryStats::default()
        };
        assert_eq!(mem.usage_without_cache(), 7);
    }
}
