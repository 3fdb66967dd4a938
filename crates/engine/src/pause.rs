//! `docker pause` / `docker unpause`: freeze and thaw a running container
//! (the runtime's freezer), with dockerd's errors.

use std::sync::Arc;

use crate::container::Container;
use crate::error::{EngineError, Result};
use crate::record::Status;
use crate::{blocking, Engine};

/// Which of the two operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Pause,
    Unpause,
}

impl Engine {
    /// Freeze every process of a running container (`docker pause`).
    pub async fn pause(self: &Arc<Self>, name: &str) -> Result<()> {
        self.freeze_op(name, Op::Pause).await
    }

    /// Thaw a paused container (`docker unpause`).
    pub async fn unpause(self: &Arc<Self>, name: &str) -> Result<()> {
        self.freeze_op(name, Op::Unpause).await
    }

    async fn freeze_op(self: &Arc<Self>, name: &str, op: Op) -> Result<()> {
        let c = self.lookup(name)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, name)?;
        let st = c.rec().state.clone();
        match op {
            Op::Pause => {
                if st.status == Status::Restarting {
                    return Err(EngineError::conflict(format!(
                        "Container {} is restarting, wait until the container is running",
                        c.id
                    )));
                }
                if st.status != Status::Running {
                    return Err(EngineError::conflict(format!(
                        "Container {} is not running",
                        c.id
                    )));
                }
                if st.paused {
                    return Err(EngineError::conflict(format!(
                        "Container {} is already paused",
                        c.id
                    )));
                }
            }
            Op::Unpause => {
                if !st.is_paused() {
                    // dockerd answers this one with a 500.
                    return Err(EngineError::system(format!(
                        "Container {} is not paused",
                        c.id
                    )));
                }
            }
        }
        let dir = c.dir.clone();
        let id = c.id.clone();
        blocking(move || {
            let r = match op {
                Op::Pause => berth_runtime::pause(&dir),
                Op::Unpause => berth_runtime::unpause(&dir),
            };
            r.map_err(|e| {
                let verb = if op == Op::Pause { "pause" } else { "unpause" };
                EngineError::system(format!("Cannot {verb} container {id}: {e}"))
            })
        })
        .await?;
        if op == Op::Pause {
            // dockerd stops probing a paused container (and calls it unhealthy).
            self.health_close(&c);
        }
        c.update(|r| r.state.paused = op == Op::Pause)?;
        if op == Op::Unpause {
            self.health_open(&c);
        }
        let logged = match op {
            Op::Pause => self.log_pause(&c.id),
            Op::Unpause => self.log_unpause(&c.id),
        };
        if let Err(e) = logged {
            tracing::debug!("{op:?} event: {e}");
        }
        tracing::info!(id = %c.id, "container {:?}d", op);
        Ok(())
    }
}

/// After `sig` was sent to `c`: thaw it if it is paused and the signal is
/// SIGKILL or its stop signal, so that the signal is delivered (dockerd
/// does the same). Best effort; the cgroup write and the record's save run
/// off the async workers.
pub(crate) async fn thaw_after_signal(c: &Arc<Container>, sig: i32, stop_signal: &str) {
    if !c.rec().state.paused {
        return;
    }
    let stop = if stop_signal.is_empty() {
        libc::SIGTERM
    } else {
        crate::lifecycle::parse_signal(stop_signal).unwrap_or(libc::SIGTERM)
    };
    if sig != libc::SIGKILL && sig != stop {
        return;
    }
    let c = Arc::clone(c);
    let res = blocking(move || {
        if let Err(e) = berth_runtime::unpause(&c.dir) {
            tracing::warn!(id = %c.id, "cannot unpause container after signal: {e}");
            return Ok(());
        }
        if let Err(e) = c.update(|r| r.state.paused = false) {
            tracing::warn!(id = %c.id, "saving unpaused state: {e}");
        }
        Ok(())
    })
    .await;
    if let Err(e) = res {
        tracing::warn!("thawing after signal: {e}");
    }
}
