//! Attaching to a container's stdio through its shim's attach socket
//! (stdin, TTY, resize), including attaches that arrive before the
//! container starts: those are handed a connection made before the
//! container's process runs, so none of its output is lost.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use berth_runtime::attach::AttachOptions;
use berth_runtime::{RuntimeError, ShimStarted};
use tokio::sync::oneshot;

use crate::error::{EngineError, Result};
use crate::record::Status;
use crate::Engine;

/// A live, attached connection to a shim's attach socket (the frame protocol
/// of [`berth_runtime::attach`]) for a container or an exec.
#[derive(Debug)]
pub struct StdioConn {
    /// The attached socket (flags already sent).
    pub stream: UnixStream,
    /// The process runs on a TTY: output is raw, not multiplexed.
    pub tty: bool,
    /// The client's stdin is forwarded.
    pub stdin: bool,
    /// The end of the client's stdin closes the process's stdin (Docker:
    /// `StdinOnce` without a TTY for a container, no TTY for an exec).
    pub close_stdin: bool,
    /// Detach key sequence (`ctrl-p,ctrl-q` style; empty = Docker's default).
    pub detach_keys: String,
    /// Set for an exec: report its exit with [`Engine::exec_exited`].
    pub exec_id: Option<String>,
    /// The container (ID) the process belongs to (for `detach` events).
    pub container_id: String,
}

/// The connection of an attach, once the container runs.
pub type PendingAttach =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<StdioConn>> + Send + 'static>>;

/// An attach waiting for its container to start.
struct Pending {
    opts: AttachOptions,
    tx: oneshot::Sender<UnixStream>,
    token: u64,
}

/// Attaches waiting for a start, by container ID. A process-wide table keyed
/// by the (random, unique) container ID.
fn pending() -> MutexGuard<'static, HashMap<String, Vec<Pending>>> {
    static PENDING: OnceLock<Mutex<HashMap<String, Vec<Pending>>>> = OnceLock::new();
    let m = PENDING.get_or_init(|| Mutex::new(HashMap::new()));
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn next_token() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Remove pending attach `token` of `id`; true if it was still waiting.
fn withdraw(id: &str, token: u64) -> bool {
    let mut map = pending();
    let Some(list) = map.get_mut(id) else {
        return false;
    };
    let before = list.len();
    list.retain(|p| p.token != token);
    let removed = list.len() != before;
    if list.is_empty() {
        map.remove(id);
    }
    removed
}

/// Withdraws a pending attach when dropped: the attach's future was dropped
/// (the client went away) or finished; a no-op once the entry was taken.
struct PendingGuard {
    id: String,
    token: u64,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        withdraw(&self.id, self.token);
    }
}

/// Forget every attach waiting for container `id` (it is being removed):
/// their futures end with an error.
pub(crate) fn drop_pending(id: &str) {
    pending().remove(id);
}

/// Attaches waiting for the container `id` to start (taken: the caller serves them).
pub(crate) struct Waiting(Vec<Pending>);

/// Take the attaches waiting for `id` to start.
pub(crate) fn take_pending(id: &str) -> Waiting {
    let mut list = pending().remove(id).unwrap_or_default();
    // Clients that went away while waiting.
    list.retain(|p| !p.tx.is_closed());
    Waiting(list)
}

/// Spawn the shim of `dir`, handing the first waiting attach a connection
/// made before the process runs and connecting the others right after.
/// Leftover exec directories of the previous run are removed first.
pub(crate) fn spawn_shim(
    exe: &Path,
    dir: &Path,
    exec_root: &Path,
    waiting: Waiting,
) -> std::result::Result<ShimStarted, RuntimeError> {
    // No exec survives its container's previous run: drop their leftovers.
    let execs = dir.join(berth_runtime::exec::EXEC_DIR);
    if execs.exists() {
        if let Err(e) = std::fs::remove_dir_all(&execs) {
            tracing::warn!("removing {}: {e}", execs.display());
        }
    }
    let mut list = waiting.0.into_iter();
    let Some(first) = list.next() else {
        return berth_runtime::spawn_shim(exe, dir, exec_root);
    };
    let (started, conn) = berth_runtime::spawn_shim_attached(exe, dir, exec_root, first.opts)?;
    let _ = first.tx.send(conn.into_stream());
    for p in list {
        match berth_runtime::attach::connect(dir, p.opts) {
            Ok(c) => {
                let _ = p.tx.send(c.into_stream());
            }
            Err(e) => tracing::warn!("attach after start: {e}"),
        }
    }
    Ok(started)
}

/// Parse Docker's `h`/`w` resize values.
pub fn parse_size(h: Option<&str>, w: Option<&str>) -> Result<(u16, u16)> {
    let one = |v: Option<&str>| -> Result<u16> {
        let v = v.unwrap_or("0");
        match v.parse::<i64>() {
            Ok(n) => Ok(n.clamp(0, i64::from(u16::MAX)) as u16),
            Err(e) => {
                let why = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        "value out of range"
                    }
                    _ => "invalid syntax",
                };
                Err(EngineError::invalid(format!(
                    "strconv.Atoi: parsing {v:?}: {why}"
                )))
            }
        }
    };
    Ok((one(h)?, one(w)?))
}

impl Engine {
    /// Attach to the stdio of container `name` through its shim: now when it
    /// runs, at its next start when it is created, exited or restarting (the
    /// attach is registered before this returns, so a start requested after
    /// it serves it). The returned future yields the connection. `stdin`
    /// requires `OpenStdin` to have any effect, as with Docker.
    pub fn attach_stdio(
        self: &Arc<Self>,
        name: &str,
        opts: AttachOptions,
        detach_keys: &str,
    ) -> Result<PendingAttach> {
        let c = self.lookup(name)?;
        let (status, tty, open_stdin, once) = {
            let r = c.rec();
            (
                r.state.status,
                r.config.tty,
                r.config.open_stdin,
                r.config.stdin_once,
            )
        };
        let opts = AttachOptions {
            stdin: opts.stdin && open_stdin,
            ..opts
        };
        let keys = detach_keys.to_string();
        let container_id = c.id.clone();
        let wrap = move |stream: UnixStream| StdioConn {
            container_id,
            stream,
            tty,
            stdin: opts.stdin,
            close_stdin: once && !tty,
            detach_keys: keys,
            exec_id: None,
        };
        let dir = c.dir.clone();
        let connect_now = move || async move {
            crate::blocking(move || {
                berth_runtime::attach::connect(&dir, opts)
                    .map(|c| c.into_stream())
                    .map_err(|e| EngineError::system(format!("attach: {e}")))
            })
            .await
        };
        match status {
            Status::Running => return Ok(Box::pin(async move { Ok(wrap(connect_now().await?)) })),
            Status::Removing | Status::Dead => {
                return Err(EngineError::conflict(format!(
                    "You cannot attach to a {} container, start it first",
                    status.as_str()
                )))
            }
            _ => {}
        }
        // Created, exited or restarting: wait for the next start.
        let mut events = c.events.subscribe();
        let starts = events.borrow().starts;
        let token = next_token();
        let (tx, rx) = oneshot::channel();
        pending()
            .entry(c.id.clone())
            .or_default()
            .push(Pending { opts, tx, token });
        let guard = PendingGuard {
            id: c.id.clone(),
            token,
        };
        let not_started = || EngineError::system("the container did not start");
        Ok(Box::pin(async move {
            let _guard = guard;
            // A start that began before the registration did not see it.
            if c.rec().state.status == Status::Running && withdraw(&c.id, token) {
                return Ok(wrap(connect_now().await?));
            }
            let started = async {
                let _ = events.wait_for(|e| e.starts > starts || e.removed).await;
            };
            tokio::pin!(rx);
            tokio::select! {
                r = &mut rx => r.map(wrap).map_err(|_| not_started()),
                _ = started => {
                    if withdraw(&c.id, token) {
                        if c.rec().state.status == Status::Running {
                            return Ok(wrap(connect_now().await?));
                        }
                        return Err(not_started());
                    }
                    rx.await.map(wrap).map_err(|_| not_started())
                }
            }
        }))
    }

    /// `POST /containers/{id}/resize`: set the TTY size of a running container.
    pub async fn resize(self: &Arc<Self>, name: &str, rows: u16, cols: u16) -> Result<()> {
        let c = self.lookup(name)?;
        let (status, tty) = {
            let r = c.rec();
            (r.state.status, r.config.tty)
        };
        if status != Status::Running {
            return Err(EngineError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if tty {
            resize_dir(c.dir.clone(), rows, cols).await?;
        }
        // dockerd logs it after any successful resize (containerd accepts
        // a resize of a process without a TTY and does nothing).
        if let Err(e) = self.log_resize(&c.id, u32::from(rows), u32::from(cols)) {
            tracing::debug!("resize event: {e}");
        }
        Ok(())
    }
}

/// Send a resize through a short connection to the shim serving `dir`.
pub(crate) async fn resize_dir(dir: std::path::PathBuf, rows: u16, cols: u16) -> Result<()> {
    crate::blocking(move || {
        let opts = AttachOptions {
            stdin: false,
            stdout: false,
            stderr: false,
        };
        let mut conn = berth_runtime::attach::connect(&dir, opts)
            .map_err(|e| EngineError::system(format!("resize: {e}")))?;
        conn.resize(rows, cols)
            .map_err(|e| EngineError::system(format!("resize: {e}")))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size(Some("30"), Some("100")).unwrap(), (30, 100));
        assert_eq!(parse_size(None, None).unwrap(), (0, 0));
        assert_eq!(
            parse_size(Some("a"), Some("1")).unwrap_err().message,
            "strconv.Atoi: parsing \"a\": invalid syntax"
        );
    }

    #[test]
    fn pending_attaches_can_be_withdrawn() {
        let (tx, _rx) = oneshot::channel();
        let id = crate::create::new_id();
        pending().entry(id.clone()).or_default().push(Pending {
            opts: AttachOptions::all(),
            tx,
            token: 7,
        });
        assert!(!withdraw(&id, 8));
        assert!(withdraw(&id, 7));
        assert!(take_pending(&id).0.is_empty());
    }

    #[test]
    fn dropped_guard_withdraws_and_removal_forgets() {
        let id = crate::create::new_id();
        let (tx, _rx) = oneshot::channel();
        pending().entry(id.clone()).or_default().push(Pending {
            opts: AttachOptions::all(),
            tx,
            token: 1,
        });
        drop(PendingGuard {
            id: id.clone(),
            token: 1,
        });
        assert!(!pending().contains_key(&id));
        let (tx, rx) = oneshot::channel();
        pending().entry(id.clone()).or_default().push(Pending {
            opts: AttachOptions::all(),
            tx,
            token: 2,
        });
        drop_pending(&id);
        assert!(!pending().contains_key(&id));
        assert!(rx.blocking_recv().is_err());
    }
}
