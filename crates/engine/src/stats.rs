//! `GET /containers/{id}/stats`: samples of a container's cgroup counters
//! shaped as Docker's stats JSON (`types.StatsJSON` of API 1.41).
//!
//! berth extension: `memory_stats.peak`, the peak memory usage (bytes) of
//! the container since it started (v2 `memory.peak`, v1
//! `memory.max_usage_in_bytes`), present when the kernel keeps it.

use std::sync::Arc;

use berth_runtime::stats::ContainerStats;
use serde_json::{json, Map, Value};

use crate::container::Container;
use crate::error::Result;
use crate::record::{ContainerRecord, Status};
use crate::timefmt::rfc3339_nano;
use crate::{blocking, Engine};

/// Go's zero time, which dockerd prints for samples it does not have.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Successive stats samples of one container; each sample carries the
/// previous one as `precpu_stats` (what the docker CLI needs for CPU %).
pub struct StatsReader {
    engine: Arc<Engine>,
    c: Arc<Container>,
    prev: Option<ContainerStats>,
}

impl std::fmt::Debug for StatsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsReader")
            .field("id", &self.c.id)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A stats reader for a container (404 when there is no such container).
    pub fn stats_reader(self: &Arc<Self>, name: &str) -> Result<StatsReader> {
        Ok(StatsReader {
            engine: Arc::clone(self),
            c: self.lookup(name)?,
            prev: None,
        })
    }
}

impl StatsReader {
    /// Whether the container runs (its stats are real, not zeros).
    pub fn is_running(&self) -> bool {
        self.c.rec().state.status == Status::Running
    }

    /// Read one sample and return Docker's stats JSON with the previous
    /// sample (if any) as `precpu_stats`. A container that does not run
    /// gives dockerd's empty stats; a removed one a 404.
    pub async fn sample(&mut self) -> Result<Value> {
        let c = self.engine.lookup(&self.c.id)?;
        self.c = c;
        let rec = self.c.snapshot();
        if rec.state.status != Status::Running {
            self.prev = None;
            return Ok(empty_stats(&rec));
        }
        let path = berth_runtime::cgroup::cgroup_path(&rec.host_config.cgroup_parent, &rec.id);
        let pid = rec.state.pid;
        let cur =
            blocking(move || Ok(berth_runtime::stats(&path, (pid > 0).then_some(pid)))).await?;
        let cur = match cur {
            Ok(s) => s,
            // The container exited between the check and the read.
            Err(_) => {
                self.prev = None;
                return Ok(empty_stats(&rec));
            }
        };
        let out = stats_json(&rec, &cur, self.prev.as_ref());
        self.prev = Some(cur);
        Ok(out)
    }
}

/// dockerd's stats of a container that does not run.
fn empty_stats(rec: &ContainerRecord) -> Value {
    let blkio_keys = [
        "io_service_bytes_recursive",
        "io_serviced_recursive",
        "io_queue_recursive",
        "io_service_time_recursive",
        "io_wait_time_recursive",
        "io_merged_recursive",
        "io_time_recursive",
        "sectors_recursive",
    ];
    let blkio: Map<String, Value> = blkio_keys
        .iter()
        .map(|k| (k.to_string(), Value::Null))
        .collect();
    let cpu = json!({
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
    });
    json!({
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": blkio,
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu,
        "precpu_stats": cpu,
        "memory_stats": {},
        "name": format!("/{}", rec.name),
        "id": rec.id,
    })
}

fn cpu_json(s: &ContainerStats) -> Value {
    let mut usage = json!({
        "total_usage": s.cpu.total_usage,
        "usage_in_kernelmode": s.cpu.usage_in_kernelmode,
        "usage_in_usermode": s.cpu.usage_in_usermode,
    });
    if !s.cpu.percpu_usage.is_empty() {
        usage["percpu_usage"] = json!(s.cpu.percpu_usage);
    }
    json!({
        "cpu_usage": usage,
        "system_cpu_usage": s.cpu.system_cpu_usage,
        "online_cpus": s.cpu.online_cpus,
        "throttling_data": {
            "periods": s.cpu.throttling_periods,
            "throttled_periods": s.cpu.throttled_periods,
            "throttled_time": s.cpu.throttled_time,
        }
    })
}

fn empty_cpu_json() -> Value {
    json!({
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
    })
}

/// Docker's stats JSON for sample `cur` (and `prev` as `precpu_stats`).
pub(crate) fn stats_json(
    rec: &ContainerRecord,
    cur: &ContainerStats,
    prev: Option<&ContainerStats>,
) -> Value {
    let mut memory = json!({
        "usage": cur.memory.usage,
        "stats": cur.memory.stats,
        "limit": cur.memory.limit,
    });
    if let Some(max) = cur.memory.max_usage {
        memory["max_usage"] = json!(max);
        // berth extension: the peak since the container started.
        memory["peak"] = json!(max);
    }
    if cur.memory.failcnt > 0 {
        memory["failcnt"] = json!(cur.memory.failcnt);
    }
    let mut pids = json!({"current": cur.pids.current});
    if let Some(limit) = cur.pids.limit {
        pids["limit"] = json!(limit);
    }
    let entries: Vec<Value> = cur
        .blkio
        .entries
        .iter()
        .map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}))
        .collect();
    let mut out = json!({
        "read": rfc3339_nano(&cur.read),
        "preread": prev.map(|p| rfc3339_nano(&p.read)).unwrap_or_else(|| ZERO_TIME.into()),
        "pids_stats": pids,
        "blkio_stats": {
            "io_service_bytes_recursive": entries,
            "io_serviced_recursive": [],
            "io_queue_recursive": [],
            "io_service_time_recursive": [],
            "io_wait_time_recursive": [],
            "io_merged_recursive": [],
            "io_time_recursive": [],
            "sectors_recursive": [],
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(cur),
        "precpu_stats": prev.map(cpu_json).unwrap_or_else(empty_cpu_json),
        "memory_stats": memory,
        "name": format!("/{}", rec.name),
        "id": rec.id,
    });
    // Host and none networks: dockerd omits `networks` (no interface of its own).
    let own_network = !matches!(rec.host_config.network_mode.as_str(), "host" | "none")
        && !cur.networks.is_empty();
    if own_network {
        let nets: Map<String, Value> = cur
            .networks
            .iter()
            .map(|(name, n)| {
                (
                    name.clone(),
                    json!({
                        "rx_bytes": n.rx_bytes, "rx_packets": n.rx_packets,
                        "rx_errors": n.rx_errors, "rx_dropped": n.rx_dropped,
                        "tx_bytes": n.tx_bytes, "tx_packets": n.tx_packets,
                        "tx_errors": n.tx_errors, "tx_dropped": n.tx_dropped,
                    }),
                )
            })
            .collect();
        out["networks"] = Value::Object(nets);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_matches_docker() {
        let rec = ContainerRecord {
            id: "a".repeat(64),
            name: "x".into(),
            ..Default::default()
        };
        let mut cur = ContainerStats::default();
        cur.memory.usage = 100;
        cur.memory.limit = 1000;
        cur.memory.max_usage = Some(150);
        cur.cpu.total_usage = 5;
        cur.cpu.percpu_usage = vec![2, 3];
        cur.pids.current = 1;
        let v = stats_json(&rec, &cur, None);
        assert_eq!(v["name"], "/x");
        assert_eq!(v["preread"], ZERO_TIME);
        assert_eq!(v["memory_stats"]["usage"], 100);
        assert_eq!(v["memory_stats"]["peak"], 150);
        assert_eq!(v["cpu_stats"]["cpu_usage"]["percpu_usage"], json!([2, 3]));
        assert_eq!(v["pids_stats"], json!({"current": 1}));
        assert!(v.get("networks").is_none());
        let v2 = stats_json(&rec, &cur, Some(&cur));
        assert_eq!(v2["precpu_stats"]["cpu_usage"]["total_usage"], 5);
        let e = empty_stats(&rec);
        assert_eq!(e["read"], ZERO_TIME);
        assert_eq!(e["memory_stats"], json!({}));
    }
}
