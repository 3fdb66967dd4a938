//! berth-engine: containers (create, start, stop, restart policies, live
//! restore, logs, files) and images (through `berth-store`), with no HTTP in it.
//!
//! Every operation returns an [`EngineError`] whose kind maps to the HTTP
//! status dockerd answers with, and whose message is dockerd's.

#![warn(missing_docs)]

mod attach;
mod build;
mod container;
mod create;
mod df;
pub mod envcap;
mod error;
mod events;
mod exec;
mod exitwatch;
mod files;
mod files_mounts;
mod freeze;
mod health;
mod images;
mod init;
mod inspect;
mod lifecycle;
mod list;
mod logs;
mod merge;
mod mounts;
mod network;
mod oom;
mod pause;
mod record;
mod registry;
mod resolve;
mod resources;
mod restart;
mod restore;
mod stats;
mod status;
mod timefmt;
mod top;
mod update;
mod volumes;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub use attach::{parse_size, PendingAttach, StdioConn};
pub use berth_registry::{AuthConfig, PlatformSpec};
pub use berth_runtime::attach as attach_protocol;
pub use berth_runtime::attach::AttachOptions;
pub use berth_store::Store;
pub use build::{BuildMessage, BuildOptions};
pub use df::DiskUsage;
pub use error::{EngineError, ErrorKind, Result};
pub use events::{
    build_event, parse_event_time, parse_go_duration, EventBus, EventFilter, Subscription,
    EVENTS_KEPT,
};
pub use exec::{ExecConfig, ExecInspect, ExecProcessConfig, ExecStarted};
pub use files::{ArchiveStat, ByteSender};
pub use health::{HealthState, HealthStatus, ProbeResult};
pub use lifecycle::{parse_signal, WaitCondition};
pub use list::ListOptions;
pub use logs::{LogChunk, LogOptions, LogStream};
pub use mounts::MountRecord;
pub use network::NetworkListOptions;
pub use record::{ContainerRecord, RunState, Status};
pub use registry::{
    PreparedPull, PreparedPush, PullOutcome, PullRequest, PushRequest, RegistrySettings,
};
pub use stats::StatsReader;
pub use timefmt::{parse_api_time, rfc3339_nano};

use container::Container;

/// Where the engine keeps its state and how it runs shims.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Data root (`/var/lib/berth`): `image/` (store) and `containers/`.
    pub data_root: PathBuf,
    /// Exec root (`/run/berth`): runtime state.
    pub exec_root: PathBuf,
    /// The `berth` executable, re-executed as `berth shim ...`.
    pub shim_exe: PathBuf,
    /// The daemon's log file, when known (reported by `/info`).
    pub daemon_log: Option<PathBuf>,
}

/// The engine: all containers of one data root plus its image store.
pub struct Engine {
    cfg: EngineConfig,
    store: Arc<Store>,
    containers: Mutex<BTreeMap<String, Arc<Container>>>,
    /// Unique ID of this engine instance (`/info` ID).
    engine_id: String,
    /// Events of every operation (`GET /events`).
    bus: events::EventBus,
    /// Named and anonymous volumes (`<data-root>/volumes`).
    volumes: Arc<berth_volume::VolumeStore>,
    /// Held by container create from mount resolution until the container
    /// is registered, and by volume rm/prune from the in-use check to the
    /// removal (see `volumes.rs`).
    volume_use: tokio::sync::Mutex<()>,
    /// Networks, endpoints, published ports, DNS servers.
    net: network::NetState,
    /// The registry client and its settings.
    registry: registry::RegistryState,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The image store.
    pub fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

    /// A stable ID of this data root (shown as `ID` by `/info`).
    pub fn engine_id(&self) -> &str {
        &self.engine_id
    }

    /// `<data-root>/containers`.
    pub(crate) fn containers_dir(&self) -> PathBuf {
        self.cfg.data_root.join("containers")
    }

    /// The container map (short critical sections only; never across `.await`).
    pub(crate) fn map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Container>>> {
        match self.containers.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Resolve a container by name, full ID or unique ID prefix.
    pub(crate) fn lookup(&self, name_or_id: &str) -> Result<Arc<Container>> {
        let map = self.map();
        let recs: Vec<(String, String)> = map
            .values()
            .map(|c| (c.id.clone(), c.rec().name.clone()))
            .collect();
        let id = resolve::resolve(
            name_or_id,
            recs.iter().map(|(i, n)| (i.as_str(), n.as_str())),
        )?;
        map.get(&id)
            .cloned()
            .ok_or_else(|| EngineError::not_found(format!("No such container: {name_or_id}")))
    }

    /// Resolve a container reference to its full ID.
    pub fn resolve_container(&self, name_or_id: &str) -> Result<String> {
        Ok(self.lookup(name_or_id)?.id.clone())
    }

    /// Counts of containers: (total, running, paused, stopped).
    pub fn container_counts(&self) -> (usize, usize, usize, usize) {
        let map = self.map();
        let total = map.len();
        let running = map
            .values()
            .filter(|c| matches!(c.rec().state.status, Status::Running | Status::Restarting))
            .count();
        let paused = map.values().filter(|c| c.rec().state.is_paused()).count();
        (total, running - paused, paused, total - running)
    }
}

/// Put the runtime's per-container state (`<exec_root>/runtime`) on a tmpfs
/// unless it already is (see [`berth_runtime::prepare_exec_root`]); call once
/// at daemon start, before [`Engine::open`]. Returns whether a tmpfs was
/// mounted, to pass [`release_runtime_state`] at shutdown.
pub fn prepare_runtime_state(exec_root: &std::path::Path) -> Result<bool> {
    berth_runtime::prepare_exec_root(exec_root)
        .map_err(|e| EngineError::system(format!("preparing the runtime state: {e}")))
}

/// Unmount the tmpfs [`prepare_runtime_state`] mounted, if no container state
/// is left in it. Best effort.
pub fn release_runtime_state(exec_root: &std::path::Path) {
    berth_runtime::release_exec_root(exec_root);
}

/// Run blocking work on tokio's blocking pool, mapping a panic/cancel to a 500.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(EngineError::system(format!("background task failed: {e}"))),
    }
}
