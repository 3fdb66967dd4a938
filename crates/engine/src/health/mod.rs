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

/// At a (re)start, in the update that records it: a container with a
/// healthcheck is `starting` again with a streak of 0 (its log is kept).
pub(crate) fn reset_for_start(r: &mut crate::record::ContainerRecord) {
    if config::probe_of(&r.config).is_some() {
        r.state.health.get_or_insert_with(Default::default).reset();
    }
}
