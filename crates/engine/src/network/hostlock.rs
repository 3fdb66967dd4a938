//! One lock for the whole host around "choose a subnet, bring its bridge
//! up": several berth daemons (other data roots, tests) may start networks
//! at the same time, and the subnet a daemon picks is only visible to the
//! others once its bridge carries the address.

use std::fs::File;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::error::{EngineError, Result};

/// The lock file, in the host's `/run` whatever the daemon's exec root.
const LOCK_PATH: &str = "/run/berth-networks.lock";

/// Holds the host-wide network lock until dropped.
pub(crate) struct HostLock {
    _lock: Flock<File>,
}

/// Wait for the host-wide network lock (on the blocking pool).
pub(crate) async fn acquire() -> Result<HostLock> {
    crate::blocking(|| {
        let path = Path::new(LOCK_PATH);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| EngineError::io(format!("open {LOCK_PATH}"), e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| EngineError::system(format!("lock {LOCK_PATH}: {e}")))?;
        Ok(HostLock { _lock: lock })
    })
    .await
}
