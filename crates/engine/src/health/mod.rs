//! Container healthchecks as dockerd runs them: the config (validation,
//! merge, defaults), the per-container monitor, the probes (execs) and the
//! health state shown by inspect, `ps` and events.

pub(crate) mod config;
mod monitor;
mod output;
mod probe;
pub(crate) mod state;

pub(crate) use monitor::MonitorSlot;
pub use state::{HealthState, HealthStatus, ProbeResult};
