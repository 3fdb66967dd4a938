//! `GET /containers/{id}/stats` (Docker's stats JSON, streamed as one
//! object per line), `POST /containers/{id}/update` and pause/unpause.

use std::collections::BTreeMap;

use hyper::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::query::{encode, Query};
use crate::transport::RawStream;

/// CPU counters of one sample.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    /// Cumulated usage.
    pub cpu_usage: CpuUsage,
    /// Cumulated host CPU time (ns), all CPUs.
    pub system_cpu_usage: u64,
    /// CPUs online.
    pub online_cpus: u32,
}

/// `cpu_stats.cpu_usage`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// Total CPU time consumed (ns).
    pub total_usage: u64,
    /// Per-CPU time (ns), cgroup v1 only.
    pub percpu_usage: Option<Vec<u64>>,
}

/// `memory_stats`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    /// Current usage (bytes, page cache included).
    pub usage: u64,
    /// Docker's v1 field: the highest usage recorded (cgroup v1
    /// `memory.max_usage_in_bytes`).
    pub max_usage: Option<u64>,
    /// berth's extension: peak usage since the container started.
    pub peak: Option<u64>,
    /// The limit (bytes; the host's memory when unlimited).
    pub limit: u64,
    /// Raw controller counters (`total_inactive_file` on v1,
    /// `inactive_file` on v2, ...).
    pub stats: BTreeMap<String, u64>,
}

/// One network interface's counters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// One blkio entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Total` (v1) or `read`/`write` (v2).
    pub op: String,
    /// Bytes.
    pub value: u64,
}

/// `blkio_stats`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    /// Bytes per device and operation.
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
}

/// `pids_stats`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    /// Processes/threads in the container.
    pub current: u64,
    /// The limit, when any.
    pub limit: Option<u64>,
}

/// One stats sample (Docker's `types.StatsJSON`, the fields the CLI uses).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Sample time (RFC 3339).
    pub read: String,
    /// Previous sample time.
    pub preread: String,
    /// Container name (`/name`).
    pub name: String,
    /// Container ID.
    pub id: String,
    /// CPU now.
    pub cpu_stats: CpuStats,
    /// CPU at the previous sample.
    pub precpu_stats: CpuStats,
    /// Memory.
    pub memory_stats: MemoryStats,
    /// Networks by interface.
    pub networks: Option<BTreeMap<String, NetworkStats>>,
    /// Block I/O.
    pub blkio_stats: BlkioStats,
    /// PIDs.
    pub pids_stats: PidsStats,
}

/// A stream of stats samples (newline-delimited JSON objects).
pub struct StatsStream {
    body: RawStream,
    buf: Vec<u8>,
    done: bool,
}

impl StatsStream {
    /// The next sample; `None` when the daemon ends the stream.
    pub async fn next(&mut self) -> Result<Option<Stats>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(serde_json::from_slice(&line)?));
            }
            if self.done {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.buf);
                return Ok(Some(serde_json::from_slice(&rest)?));
            }
            match self.body.next_chunk().await? {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None => self.done = true,
            }
        }
    }
}

/// Body of `POST /containers/{id}/update`: only the fields set are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConfig {
    /// CPU shares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<i64>,
    /// Memory limit (bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    /// Memory plus swap (bytes, -1 unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// Soft memory limit (bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    /// CPUs in billionths.
    #[serde(rename = "NanoCpus", skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<i64>,
    /// CPUs allowed (`0-3`, `0,1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// PIDs limit (-1 or 0 unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// Restart policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<berth_spec::api::RestartPolicy>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UpdateResponse {
    #[serde(rename = "Warnings")]
    warnings: Option<Vec<String>>,
}

impl Client {
    /// `GET /containers/{id}/stats?stream=1|0`.
    pub async fn container_stats(&self, id: &str, stream: bool) -> Result<StatsStream> {
        let mut q = Query::new();
        q.push("stream", if stream { "1" } else { "0" });
        let body = self
            .stream(
                Method::GET,
                &q.apply(&format!("/containers/{}/stats", encode(id))),
            )
            .await?;
        Ok(StatsStream {
            body,
            buf: Vec::new(),
            done: false,
        })
    }

    /// `POST /containers/{id}/update`: the daemon's warnings.
    pub async fn container_update(&self, id: &str, config: &UpdateConfig) -> Result<Vec<String>> {
        let resp: UpdateResponse = self
            .post_json(&format!("/containers/{}/update", encode(id)), config)
            .await?;
        Ok(resp.warnings.unwrap_or_default())
    }

    /// `POST /containers/{id}/pause`.
    pub async fn container_pause(&self, id: &str) -> Result<()> {
        self.call(Method::POST, &format!("/containers/{}/pause", encode(id)))
            .await?;
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub async fn container_unpause(&self, id: &str) -> Result<()> {
        self.call(Method::POST, &format!("/containers/{}/unpause", encode(id)))
            .await?;
        Ok(())
    }
}

impl From<StatsStream> for RawStream {
    fn from(s: StatsStream) -> Self {
        s.body
    }
}

/// Decode one stats object (for tests and callers holding raw JSON).
pub fn parse_stats(json: &[u8]) -> Result<Stats> {
    serde_json::from_slice(json).map_err(ClientError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_docker_v1_stats() {
        let s = parse_stats(
            br#"{"read":"2024-01-01T00:00:00Z","name":"/web","id":"abc",
            "cpu_stats":{"cpu_usage":{"total_usage":200,"percpu_usage":[100,100]},"system_cpu_usage":1000,"online_cpus":2},
            "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":500},
            "memory_stats":{"usage":1000,"max_usage":1500,"limit":4000,"stats":{"total_inactive_file":200}},
            "networks":{"eth0":{"rx_bytes":10,"tx_bytes":20}},
            "blkio_stats":{"io_service_bytes_recursive":[{"major":8,"minor":0,"op":"Read","value":4096}]},
            "pids_stats":{"current":3}}"#,
        )
        .unwrap();
        assert_eq!(s.name, "/web");
        assert_eq!(s.cpu_stats.online_cpus, 2);
        assert_eq!(s.memory_stats.max_usage, Some(1500));
        assert_eq!(s.memory_stats.stats["total_inactive_file"], 200);
        assert_eq!(s.networks.unwrap()["eth0"].tx_bytes, 20);
        assert_eq!(s.pids_stats.current, 3);
    }

    #[test]
    fn decodes_stopped_container_stats() {
        // dockerd sends nulls and empty objects for a stopped container.
        let s = parse_stats(br#"{"read":"0001-01-01T00:00:00Z","pids_stats":{},"blkio_stats":{"io_service_bytes_recursive":null},"memory_stats":{},"cpu_stats":{"cpu_usage":{"total_usage":0}}}"#).unwrap();
        assert_eq!(s.memory_stats.usage, 0);
        assert!(s.blkio_stats.io_service_bytes_recursive.is_none());
    }

    #[test]
    fn update_sends_only_set_fields() {
        let u = UpdateConfig {
            memory: Some(64 << 20),
            pids_limit: Some(10),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            r#"{"Memory":67108864,"PidsLimit":10}"#
        );
    }
}
