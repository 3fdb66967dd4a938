//! The health monitor of a running container: one task that sleeps the
//! interval, probes, records the result and sends `health_status` events,
//! until its container stops, is paused or removed (dockerd's
//! `monitor`/`updateHealthMonitor`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::config::{probe_of, Probe};
use super::state::{HealthStatus, ProbeResult};
use crate::container::Container;
use crate::record::Status;
use crate::Engine;

/// Distinguishes monitors, so that a late result of a closed one is dropped.
static NEXT_MONITOR: AtomicU64 = AtomicU64::new(1);

/// The running monitor of a container, if any: its number and the sender
/// whose drop stops it.
#[derive(Debug, Default)]
pub(crate) struct MonitorSlot(Mutex<Option<(u64, watch::Sender<bool>)>>);

impl MonitorSlot {
    fn lock(&self) -> MutexGuard<'_, Option<(u64, watch::Sender<bool>)>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

impl Engine {
    /// Monitor `c` if it runs, is not paused, has a healthcheck and no
    /// monitor yet (unpause, daemon restart: the health state is kept).
    pub(crate) fn health_open(self: &Arc<Self>, c: &Arc<Container>) {
        let probe = {
            let r = c.rec();
            if r.state.status != Status::Running || r.state.paused {
                return;
            }
            match probe_of(&r.config) {
                Some(p) => p,
                None => return,
            }
        };
        let mut slot = c.health.lock();
        if slot.is_some() {
            return;
        }
        c.modify(|r| {
            r.state.health.get_or_insert_with(Default::default);
        });
        let (tx, rx) = watch::channel(false);
        let id = NEXT_MONITOR.fetch_add(1, Ordering::Relaxed);
        *slot = Some((id, tx));
        drop(slot);
        tokio::spawn(monitor(Arc::clone(self), Arc::clone(c), id, rx, probe));
    }

    /// Stop monitoring `c` (exit, pause, removal). As dockerd, a container
    /// whose monitor stops is `unhealthy` until a probe says otherwise. The
    /// record is changed in memory only: every caller saves it next.
    pub(crate) fn health_close(&self, c: &Container) {
        let mut slot = c.health.lock();
        if slot.take().is_some() {
            c.modify(|r| {
                if let Some(h) = r.state.health.as_mut() {
                    h.status = HealthStatus::Unhealthy;
                }
            });
        }
    }

    /// Record the result of monitor `monitor_id` (dropped when that monitor
    /// was closed meanwhile); `health_status` event when the status changed.
    fn health_result(&self, c: &Container, monitor_id: u64, probe: &Probe, result: ProbeResult) {
        let slot = c.health.lock();
        if slot.as_ref().map(|(id, _)| *id) != Some(monitor_id) {
            return;
        }
        let changed = c.update_unsynced(|r| {
            let started = r.state.started_at;
            r.state.health.get_or_insert_with(Default::default).apply(
                result,
                probe.retries,
                probe.start_period,
                started,
            )
        });
        drop(slot);
        match changed {
            Ok(Some(status)) => {
                self.container_event(c, &format!("health_status: {}", status.as_str()), &[]);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(id = %c.id, "saving health state: {e}"),
        }
    }
}

/// Probe `c` every `probe.interval` (counted from the end of the previous
/// probe) until `stop`'s sender is dropped.
async fn monitor(
    engine: Arc<Engine>,
    c: Arc<Container>,
    id: u64,
    mut stop: watch::Receiver<bool>,
    probe: Probe,
) {
    tracing::debug!(id = %c.id, "health monitor started");
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(probe.interval) => {}
        }
        match engine.run_probe(&c, &probe, &mut stop).await {
            Some(result) => engine.health_result(&c, id, &probe, result),
            None => break,
        }
    }
    tracing::debug!(id = %c.id, "health monitor stopped");
}
