//! One container in memory: its record, an operation lock and its event channel.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::error::Result;
use crate::record::ContainerRecord;

/// What waiters observe: the number of exits seen and whether it is removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Events {
    /// Incremented at every exit of the container's process.
    pub exits: u64,
    /// Exit code of the latest exit.
    pub last_exit: i64,
    /// Incremented at every start.
    pub starts: u64,
    /// Set once the container is removed.
    pub removed: bool,
}

/// A container known to the engine.
pub(crate) struct Container {
    /// Full ID.
    pub id: String,
    /// `<data-root>/containers/<id>`.
    pub dir: PathBuf,
    rec: Mutex<ContainerRecord>,
    /// Serialises lifecycle operations (start, stop, remove, restart).
    pub op: tokio::sync::Mutex<()>,
    /// Exit/removal notifications.
    pub events: watch::Sender<Events>,
    /// Bumped to cancel a pending policy restart (user stop/start/remove).
    pub generation: AtomicU64,
    /// Restart-policy bookkeeping: restarts since the last user start, last back-off delay.
    policy: Mutex<(i64, Option<Duration>)>,
    /// The health monitor, while one runs.
    pub health: crate::health::MonitorSlot,
}

impl Container {
    /// A container handle around `rec`, stored in `dir`.
    pub fn new(rec: ContainerRecord, dir: PathBuf) -> Self {
        let restarts = rec.state.restart_count;
        let (tx, _) = watch::channel(Events {
            last_exit: rec.state.exit_code,
            ..Events::default()
        });
        Container {
            id: rec.id.clone(),
            dir,
            rec: Mutex::new(rec),
            op: tokio::sync::Mutex::new(()),
            events: tx,
            generation: AtomicU64::new(0),
            policy: Mutex::new((restarts, None)),
            health: Default::default(),
        }
    }

    /// Lock the record (never hold across `.await`).
    pub fn rec(&self) -> MutexGuard<'_, ContainerRecord> {
        match self.rec.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Modify the record and persist it atomically.
    pub fn update<R>(&self, f: impl FnOnce(&mut ContainerRecord) -> R) -> Result<R> {
        let mut rec = self.rec();
        let out = f(&mut rec);
        rec.save(&self.dir)?;
        Ok(out)
    }

    /// [`Container::update`] saved without an fsync (see
    /// [`ContainerRecord::save_unsynced`]).
    pub fn update_unsynced<R>(&self, f: impl FnOnce(&mut ContainerRecord) -> R) -> Result<R> {
        let mut rec = self.rec();
        let out = f(&mut rec);
        rec.save_unsynced(&self.dir)?;
        Ok(out)
    }

    /// Modify the record in memory only, for a change that need not survive
    /// a crash (restore re-derives it).
    pub fn modify<R>(&self, f: impl FnOnce(&mut ContainerRecord) -> R) -> R {
        f(&mut self.rec())
    }

    /// A snapshot of the record.
    pub fn snapshot(&self) -> ContainerRecord {
        self.rec().clone()
    }

    /// Current generation.
    pub fn gen(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Cancel pending restarts; returns the new generation.
    pub fn bump_gen(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn policy_lock(&self) -> MutexGuard<'_, (i64, Option<Duration>)> {
        match self.policy.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Forget restart-policy history (a user start).
    pub fn reset_policy(&self) {
        *self.policy_lock() = (0, None);
    }

    /// Restarts done by the policy since the last user start.
    pub fn policy_restarts(&self) -> i64 {
        self.policy_lock().0
    }

    /// Count one policy restart.
    pub fn count_policy_restart(&self) {
        self.policy_lock().0 += 1;
    }

    /// The back-off delay before the next policy restart.
    pub fn next_delay(&self, ran_for: Duration) -> Duration {
        let mut p = self.policy_lock();
        let d = crate::restart::next_delay(p.1, ran_for);
        p.1 = Some(d);
        d
    }

    /// The json-file log path.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}-json.log", self.id))
    }
}
