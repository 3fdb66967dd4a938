//! berth-daemon: the Docker Engine API (v1.41) over a unix socket, in front
//! of [`berth_engine::Engine`]. This crate only translates HTTP to engine
//! calls; it holds no container logic.

#![recursion_limit = "256"]
#![warn(missing_docs)]

mod attach;
mod body;
mod build;
mod containers;
mod envcap;
mod error;
mod events;
mod exec;
mod images;
mod networks;
mod pull_all;
mod query;
mod registry;
mod respond;
mod router;
mod server;
mod stats;
mod swarm;
mod system;
mod update;
mod volumes;

use std::path::PathBuf;
use std::sync::Arc;

pub use error::{ApiError, DaemonError};
pub use server::{run, serve};

/// Shared state of the HTTP handlers.
pub struct Ctx {
    /// The engine.
    pub engine: Arc<berth_engine::Engine>,
}

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Unix socket path to listen on.
    pub socket: PathBuf,
    /// Data root.
    pub data_root: PathBuf,
    /// Exec root (`berth.pid`, runtime state).
    pub exec_root: PathBuf,
    /// The `berth` executable used for shims.
    pub shim_exe: PathBuf,
    /// Where the daemon's log goes, if known (reported by `/info`).
    pub daemon_log: Option<PathBuf>,
    /// Registry settings (insecure registries, mirrors, concurrency).
    pub registry: berth_engine::RegistrySettings,
}

/// Set up `tracing` to stderr at `level` (`error`, `warn`, `info`, `debug`, `trace`);
/// `RUST_LOG` overrides. Safe to call once.
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
