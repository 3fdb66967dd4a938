//! The engine's persistent container record (`<data-root>/containers/<id>/config.v2.json`).

use std::path::Path;

use berth_spec::api::{ContainerConfig, HostConfig};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// File name of the record inside the container directory.
pub const RECORD_FILE: &str = "config.v2.json";

/// Lifecycle status of a container, named as Docker names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started.
    #[default]
    Created,
    /// Its init process runs.
    Running,
    /// Waiting for the restart policy's back-off delay.
    Restarting,
    /// Exited.
    Exited,
    /// Being removed.
    Removing,
    /// Broken (its files are gone or unreadable).
    Dead,
}

impl Status {
    /// Docker's word for the status (`State.Status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
        }
    }
}

/// The run state of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunState {
    /// Lifecycle status.
    pub status: Status,
    /// Host PID of the container's init (0 when not running).
    pub pid: i32,
    /// PID of the shim (0 when not running).
    pub shim_pid: i32,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// Whether the last run was OOM-killed.
    pub oom_killed: bool,
    /// Error of the last start, if any.
    pub error: String,
    /// When the last run started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the last run finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// The user stopped it (disables restart policies until the next start).
    pub manually_stopped: bool,
    /// Number of restarts done by the restart policy.
    pub restart_count: i64,
    /// Its processes are frozen (`docker pause`); meaningful while running.
    pub paused: bool,
    /// Health of a container with a healthcheck, once started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::HealthState>,
}

impl RunState {
    /// Whether the container runs and is paused.
    pub fn is_paused(&self) -> bool {
        self.paused && self.status == Status::Running
    }

    /// Docker's `State.Status`: `paused` for a paused running container.
    pub fn status_str(&self) -> &'static str {
        if self.is_paused() {
            "paused"
        } else {
            self.status.as_str()
        }
    }
}

/// Everything the engine knows about a container, persisted as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerRecord {
    /// 64 hex chars.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Executable (first of entrypoint + cmd).
    pub path: String,
    /// Remaining arguments.
    pub args: Vec<String>,
    /// Image ID (`sha256:...`).
    pub image_id: String,
    /// The image as the user named it.
    pub image_name: String,
    /// Merged container config.
    pub config: ContainerConfig,
    /// Host config as given (normalised).
    pub host_config: HostConfig,
    /// Run state.
    pub state: RunState,
    /// Mounts resolved at create (binds, volumes, tmpfs).
    pub mounts: Vec<crate::mounts::MountRecord>,
    /// Networks, endpoints and published ports.
    pub network: crate::network::record::ContainerNet,
}

impl ContainerRecord {
    /// Load a record from a container directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(RECORD_FILE);
        let bytes = std::fs::read(&path)
            .map_err(|e| EngineError::io(format!("read {}", path.display()), e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| EngineError::system(format!("parse {}: {e}", path.display())))
    }

    /// Persist the record atomically into `dir`: temp file, fsync, rename
    /// (as dockerd writes `config.v2.json`). A crash at any instant, power
    /// loss included, leaves the old record or the complete new one, never a
    /// partial one. The directory is not synced: after a power loss the
    /// rename may be lost, which leaves the previous record, and every state
    /// the record goes through can be re-derived at restore (from `state.json`,
    /// the durable `exit.json` and whether the shim lives). That saves a
    /// directory fsync (milliseconds) on every start and exit.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.save_with(dir, berth_runtime::Durability::FileSynced)
    }

    /// Persist the record atomically against a crash of the daemon, without
    /// an fsync: for run state that a reboot makes meaningless anyway (the
    /// network namespaces and veths of a start live in `/run` and the kernel).
    pub fn save_unsynced(&self, dir: &Path) -> Result<()> {
        self.save_with(dir, berth_runtime::Durability::Atomic)
    }

    fn save_with(&self, dir: &Path, durability: berth_runtime::Durability) -> Result<()> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| EngineError::system(format!("serialize container record: {e}")))?;
        berth_runtime::write_file(&dir.join(RECORD_FILE), &bytes, durability)?;
        Ok(())
    }

    /// The short (12-char) ID.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = ContainerRecord {
            id: "a".repeat(64),
            name: "web".into(),
            ..Default::default()
        };
        rec.state.status = Status::Running;
        rec.state.pid = 42;
        rec.save(dir.path()).unwrap();
        let back = ContainerRecord::load(dir.path()).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.short_id(), "aaaaaaaaaaaa");
    }
}
