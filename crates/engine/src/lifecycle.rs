//! Start, stop, kill, restart, remove, rename and wait; exit handling with
//! restart policies and auto-removal.

use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::{ContainerSpec, NetworkMode, ShimState};
use berth_spec::api::WaitResponse;
use chrono::Utc;

use crate::container::Container;
use crate::error::{EngineError, ErrorKind, Result};
use crate::merge::runtime_env;
use crate::record::{ContainerRecord, Status};
use crate::{blocking, Engine};

/// Prefix of a removed container's directory awaiting deletion.
pub(crate) const TRASH_PREFIX: &str = ".removed-";

/// The `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Return at once when not running, else at the next exit.
    NotRunning,
    /// Return at the next exit.
    NextExit,
    /// Return when the container is removed.
    Removed,
}

impl WaitCondition {
    /// Parse the API's value; like dockerd, anything unknown means `not-running`.
    pub fn parse(s: &str) -> Self {
        match s {
            "next-exit" => WaitCondition::NextExit,
            "removed" => WaitCondition::Removed,
            _ => WaitCondition::NotRunning,
        }
    }
}

/// Parse a signal given as a name (`KILL`, `SIGKILL`, `kill`) or a number.
pub fn parse_signal(s: &str) -> Result<i32> {
    let bad = || EngineError::invalid(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        if n <= 0 || n > 64 {
            return Err(bad());
        }
        return Ok(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| bad())
}

/// Write `spec.json` (temp + rename). Not fsynced: it is rewritten at every
/// start and only read by the shim right away (through the page cache).
fn write_spec(dir: &std::path::Path, spec: &ContainerSpec) -> Result<()> {
    let bytes = serde_json::to_vec(spec)
        .map_err(|e| EngineError::system(format!("serialize container spec: {e}")))?;
    berth_runtime::write_file(
        &dir.join(berth_runtime::SPEC_FILE),
        &bytes,
        berth_runtime::Durability::Atomic,
    )?;
    Ok(())
}

fn is_running(status: Status) -> bool {
    matches!(status, Status::Running | Status::Restarting)
}

/// Docker's wording of a failed start, keeping the substrings the docker CLI maps to 126/127.
fn start_error(msg: &str, path: &str) -> (EngineError, i64) {
    let lower = msg.to_ascii_lowercase();
    let text = format!("OCI runtime create failed: {msg}: unknown");
    let lpath = path.to_ascii_lowercase();
    if lower.contains("permission denied") {
        return (EngineError::invalid(text), 126);
    }
    if (lower.contains(&lpath) || lower.contains("exec"))
        && (lower.contains("no such file or directory")
            || lower.contains("executable file not found"))
    {
        return (EngineError::invalid(text), 127);
    }
    if lower.contains("not a directory") {
        return (EngineError::invalid(text), 127);
    }
    if lower.contains("unable to find user") {
        return (EngineError::invalid(text), 128);
    }
    (EngineError::system(text), 128)
}

impl Engine {
    /// 404 if `c` (looked up as `name`) was removed by another request
    /// while this one waited for `c.op`: its directory is gone.
    pub(crate) fn ensure_registered(&self, c: &Container, name: &str) -> Result<()> {
        if self.map().contains_key(&c.id) {
            Ok(())
        } else {
            Err(EngineError::not_found(format!("No such container: {name}")))
        }
    }

    fn shim_state(c: &Container, rec: &ContainerRecord) -> ShimState {
        ShimState {
            id: c.id.clone(),
            container_dir: c.dir.clone(),
            shim_pid: rec.state.shim_pid,
            init_pid: rec.state.pid,
            started_at: rec.state.started_at.unwrap_or_else(Utc::now),
        }
    }

    /// The runtime spec for a container.
    fn build_spec(
        &self,
        c: &Container,
        rec: &ContainerRecord,
        layers: Vec<std::path::PathBuf>,
    ) -> ContainerSpec {
        let mut spec = ContainerSpec::with_defaults(&c.id, &c.dir);
        spec.rootfs.lower_dirs = layers;
        spec.rootfs.readonly = rec.host_config.readonly_rootfs;
        let mut args = vec![rec.path.clone()];
        args.extend(rec.args.iter().cloned());
        spec.args = args;
        spec.env = runtime_env(&rec.config);
        spec.cwd = rec.config.working_dir.clone();
        spec.user = rec.config.user.clone();
        spec.group_add = rec.host_config.group_add.clone().unwrap_or_default();
        spec.hostname = rec.config.hostname.clone();
        spec.network = if crate::create::effective_network(&rec.host_config.network_mode) == "host"
        {
            NetworkMode::Host
        } else {
            NetworkMode::None
        };
        if rec.host_config.shm_size > 0 {
            spec.shm_size = rec.host_config.shm_size as u64;
        }
        if !rec.host_config.cgroup_parent.is_empty() {
            spec.cgroup_parent = rec.host_config.cgroup_parent.clone();
        }
        spec.privileged = rec.host_config.privileged;
        spec.sysctls = rec.host_config.sysctls.clone().unwrap_or_default();
        spec.cap_add = rec.host_config.cap_add.clone().unwrap_or_default();
        spec.cap_drop = rec.host_config.cap_drop.clone().unwrap_or_default();
        crate::resources::apply_to_spec(&rec.host_config, &mut spec);
        spec.name = rec.name.clone();
        spec.labels = rec.config.labels.clone().unwrap_or_default();
        self.apply_stdio(&mut spec, rec);
        spec
    }

    /// The stdio part of the runtime spec: stdin, TTY, console size, init.
    fn apply_stdio(&self, spec: &mut ContainerSpec, rec: &ContainerRecord) {
        spec.open_stdin = rec.config.open_stdin;
        // With a TTY, Docker never closes stdin when a client leaves.
        spec.stdin_once = rec.config.stdin_once && !rec.config.tty;
        spec.tty = rec.config.tty;
        let [h, w] = rec.host_config.console_size;
        if h > 0 && w > 0 {
            spec.console_size =
                Some((h.min(u16::MAX as u64) as u16, w.min(u16::MAX as u64) as u16));
        }
        crate::init::apply(
            spec,
            rec.host_config.init.unwrap_or(false),
            &self.cfg.shim_exe,
        );
    }

    /// Start a container (`docker start`); 304 when it already runs.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<()> {
        let c = self.lookup(name)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, name)?;
        let status = c.rec().state.status;
        match status {
            Status::Running => return Err(EngineError::not_modified()),
            Status::Removing | Status::Dead => {
                return Err(EngineError::conflict(format!(
                    "cannot start a container in state {}",
                    status.as_str()
                )))
            }
            _ => {}
        }
        c.bump_gen();
        c.reset_policy();
        self.start_locked(&c, true).await
    }

    /// Start `c`; the caller holds `c.op`.
    pub(crate) async fn start_locked(
        self: &Arc<Self>,
        c: &Arc<Container>,
        user: bool,
    ) -> Result<()> {
        let rec = c.snapshot();
        let t0 = std::time::Instant::now();
        let store = self.store();
        let image_id = rec.image_id.clone();
        let layers = blocking(move || Ok(store.layer_dirs(&image_id)?)).await?;
        let t_layers = t0.elapsed();
        let mounts = match self.prepare_mounts(c, &layers).await {
            Ok(m) => m,
            Err(err) => return self.start_failed(c, &rec, err, 128, user).await,
        };
        let t_mounts = t0.elapsed();
        let mut spec = self.build_spec(c, &rec, layers);
        spec.mounts.extend(mounts);
        if let Err(err) = self.net_setup(c, &rec, &mut spec).await {
            return self.start_failed(c, &rec, err, 128, user).await;
        }
        let t_net = t0.elapsed();
        let exe = self.cfg.shim_exe.clone();
        let exec_root = self.cfg.exec_root.clone();
        let dir = c.dir.clone();
        let waiting = crate::attach::take_pending(&c.id);
        crate::exec::prune_finished_execs(&c.id);
        let spawned = blocking(move || {
            berth_runtime::clear_records(&dir)?;
            write_spec(&dir, &spec)?;
            match crate::attach::spawn_shim(&exe, &dir, &exec_root, waiting) {
                Ok(s) => Ok(Ok(s)),
                Err(berth_runtime::RuntimeError::Start(m)) => Ok(Err(m)),
                Err(e) => {
                    berth_runtime::cleanup(&dir, &exec_root);
                    Ok(Err(e.to_string()))
                }
            }
        })
        .await;
        tracing::debug!(id = %c.id, ?t_layers, ?t_mounts, ?t_net, spawned = ?t0.elapsed(), "start timings");
        let spawned = match spawned {
            Ok(s) => s,
            Err(err) => return self.start_failed(c, &rec, err, 128, user).await,
        };
        match spawned {
            Ok(started) => {
                self.health_close(c);
                c.update(|r| {
                    crate::health::reset_for_start(r);
                    r.state.status = Status::Running;
                    r.state.pid = started.init_pid;
                    r.state.shim_pid = started.shim_pid;
                    r.state.started_at = Some(started.started_at);
                    r.state.exit_code = 0;
                    r.state.oom_killed = false;
                    r.state.paused = false;
                    r.state.error.clear();
                    if user {
                        r.state.manually_stopped = false;
                    }
                })?;
                c.events.send_modify(|e| e.starts += 1);
                self.health_open(c);
                self.container_event(c, "start", &[]);
                tracing::info!(id = %c.id, pid = started.init_pid, "container started");
                self.spawn_watcher(Arc::clone(c), started.shim_pid, false);
                Ok(())
            }
            Err(msg) => {
                tracing::info!(id = %c.id, "container start failed: {msg}");
                let (err, code) = start_error(&msg, &rec.path);
                self.start_failed(c, &rec, err, code, user).await
            }
        }
    }

    /// Record a failed start (exit code `code`) after tearing down whatever
    /// network and volume file systems the start set up (both no-ops when
    /// nothing is held), auto-remove if asked
    /// (before answering, as dockerd does, so that a `removed` waiter is
    /// answered first), return `err`. The caller holds `c.op`.
    async fn start_failed(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
        err: EngineError,
        code: i64,
        user: bool,
    ) -> Result<()> {
        self.net_teardown(c).await;
        self.release_volumes(c).await;
        c.update(|r| {
            r.state.error = err.message.clone();
            r.state.exit_code = code;
            if r.state.status == Status::Restarting {
                r.state.status = Status::Exited;
                r.state.finished_at = Some(Utc::now());
            }
        })?;
        if rec.host_config.auto_remove && user {
            if let Err(e) = self.remove_locked(c, true).await {
                tracing::warn!(id = %c.id, "auto-remove after failed start: {e}");
            }
            // Let the answers to `wait?condition=removed` go out before this
            // error does: the docker CLI cancels its wait when start fails,
            // and logs "error waiting for container" if the answer is late.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(err)
    }

    /// Watch the shim `shim_pid` of `c` and handle the exit (`restored`:
    /// the container outlived the previous daemon).
    pub(crate) fn spawn_watcher(
        self: &Arc<Self>,
        c: Arc<Container>,
        shim_pid: i32,
        restored: bool,
    ) {
        let engine = Arc::clone(self);
        let oom = self.spawn_oom_watch(&c, restored);
        tokio::spawn(async move {
            crate::exitwatch::wait_pid_exit(shim_pid).await;
            oom.finish().await;
            if let Err(e) = engine.on_exit(&c).await {
                tracing::error!(id = %c.id, "handling exit: {e}");
            }
        });
    }

    /// Record the exit of `c`'s process, then apply auto-removal or the restart policy.
    pub(crate) async fn on_exit(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let dir = c.dir.clone();
        let exec_root = self.cfg.exec_root.clone();
        let exit = blocking(move || {
            let exit = berth_runtime::read_exit(&dir).ok().flatten();
            if exit.is_none() {
                berth_runtime::cleanup(&dir, &exec_root);
            }
            Ok(exit)
        })
        .await?;
        let left = self.net_release(c).await;
        self.release_volumes(c).await;
        let res = self.record_exit(c, exit);
        self.net_disconnected(&c.id, left);
        res
    }

    /// Apply an exit (None: the shim died without recording one).
    pub(crate) fn record_exit(
        self: &Arc<Self>,
        c: &Arc<Container>,
        exit: Option<berth_runtime::ExitInfo>,
    ) -> Result<()> {
        let (code, oom, finished, error) = match exit {
            Some(e) => (
                i64::from(e.exit_code),
                e.oom_killed,
                e.finished_at,
                String::new(),
            ),
            None => (
                255,
                false,
                Utc::now(),
                "shim died without recording an exit status".to_string(),
            ),
        };
        self.health_close(c);
        let apply = |r: &mut ContainerRecord| {
            if let Some(h) = r.state.health.as_mut() {
                // Monitoring stopped: unhealthy, as dockerd says (also when
                // it exited while the daemon was down).
                h.status = crate::health::HealthStatus::Unhealthy;
            }
            r.state.status = Status::Exited;
            r.state.pid = 0;
            r.state.shim_pid = 0;
            r.state.exit_code = code;
            r.state.oom_killed = oom;
            r.state.paused = false;
            r.state.finished_at = Some(finished);
            r.state.error = error;
            r.clone()
        };
        // A container about to be auto-removed is not worth an fsync: if the
        // daemon dies before the removal, restore finds its record still
        // running, its shim gone and the durable exit.json, and records the
        // exit (and removes it) again.
        let removing = {
            let r = c.rec();
            r.host_config.auto_remove
                && !crate::restart::should_restart(
                    &r.host_config.restart_policy,
                    code,
                    c.policy_restarts(),
                    r.state.manually_stopped,
                )
        };
        let rec = if removing {
            c.modify(apply)
        } else {
            c.update(apply)?
        };
        tracing::info!(id = %c.id, code, "container exited");
        // Execs do not outlive their container's run (dockerd unregisters them).
        crate::exec::prune_finished_execs(&c.id);
        self.container_event(c, "die", &[("exitCode", code.to_string())]);
        c.events.send_modify(|e| {
            e.exits += 1;
            e.last_exit = code;
        });
        let policy = &rec.host_config.restart_policy;
        let count = c.policy_restarts();
        if crate::restart::should_restart(policy, code, count, rec.state.manually_stopped) {
            let ran_for = rec
                .state
                .started_at
                .map(|s| (finished - s).to_std().unwrap_or_default())
                .unwrap_or_default();
            let delay = c.next_delay(ran_for);
            c.update(|r| r.state.status = Status::Restarting)?;
            let gen = c.gen();
            let engine = Arc::clone(self);
            let c = Arc::clone(c);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _op = c.op.lock().await;
                if c.gen() != gen || c.rec().state.status != Status::Restarting {
                    return;
                }
                c.count_policy_restart();
                if let Err(e) = c.update(|r| r.state.restart_count += 1) {
                    tracing::error!(id = %c.id, "saving restart count: {e}");
                }
                if let Err(e) = engine.start_locked(&c, false).await {
                    tracing::warn!(id = %c.id, "policy restart failed: {e}");
                }
            });
        } else if rec.host_config.auto_remove {
            let engine = Arc::clone(self);
            let id = c.id.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.remove(&id, true, true).await {
                    if e.kind != ErrorKind::NotFound {
                        tracing::warn!(id = %id, "auto-remove failed: {e}");
                    }
                }
            });
        }
        Ok(())
    }

    /// Wait until `c` has exited more than `before` times (or is removed), up to `limit`.
    async fn wait_exit(c: &Container, before: u64, limit: Option<Duration>) -> bool {
        let mut rx = c.events.subscribe();
        let fut = rx.wait_for(|e| e.exits > before || e.removed);
        match limit {
            Some(d) => matches!(tokio::time::timeout(d, fut).await, Ok(Ok(_))),
            None => fut.await.is_ok(),
        }
    }

    /// Stop a container: its stop signal, `timeout` seconds of grace, then SIGKILL.
    pub async fn stop(self: &Arc<Self>, name: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.lookup(name)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, name)?;
        self.stop_locked(&c, timeout).await?;
        self.container_event(&c, "stop", &[]);
        Ok(())
    }

    async fn stop_locked(self: &Arc<Self>, c: &Arc<Container>, timeout: Option<i64>) -> Result<()> {
        c.bump_gen();
        let before = c.events.borrow().exits;
        let rec = c.update(|r| {
            if r.state.status == Status::Running {
                r.state.manually_stopped = true;
            }
            r.clone()
        })?;
        match rec.state.status {
            Status::Running => {}
            Status::Restarting => {
                c.update(|r| {
                    r.state.status = Status::Exited;
                    r.state.manually_stopped = true;
                })?;
                return Ok(());
            }
            _ => return Err(EngineError::not_modified()),
        }
        let sig = if rec.config.stop_signal.is_empty() {
            libc::SIGTERM
        } else {
            parse_signal(&rec.config.stop_signal).unwrap_or(libc::SIGTERM)
        };
        let grace = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        let state = Self::shim_state(c, &rec);
        berth_runtime::signal(&state, sig)?;
        self.container_event(c, "kill", &[("signal", sig.to_string())]);
        crate::pause::thaw_after_signal(c, sig, &rec.config.stop_signal).await;
        // Thawed and still running: probing resumes (dockerd's resume event).
        self.health_open(c);
        let limit = if grace < 0 {
            None
        } else {
            Some(Duration::from_secs(grace as u64))
        };
        if !Self::wait_exit(c, before, limit).await {
            tracing::info!(id = %c.id, "stop timeout after {grace}s, killing");
            berth_runtime::signal(&state, libc::SIGKILL)?;
            self.container_event(c, "kill", &[("signal", libc::SIGKILL.to_string())]);
            crate::pause::thaw_after_signal(c, libc::SIGKILL, "").await;
            if !Self::wait_exit(c, before, Some(Duration::from_secs(30))).await {
                return Err(EngineError::system(format!(
                    "container {} did not exit after SIGKILL",
                    c.id
                )));
            }
        }
        Ok(())
    }

    /// Send a signal (default KILL) to a running container.
    pub async fn kill(self: &Arc<Self>, name: &str, signal: Option<&str>) -> Result<()> {
        let c = self.lookup(name)?;
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s)?,
            None => libc::SIGKILL,
        };
        let rec = c.snapshot();
        if rec.state.status != Status::Running {
            return Err(EngineError::conflict(format!(
                "Cannot kill container: {name}: Container {} is not running",
                c.id
            )));
        }
        let before = c.events.borrow().exits;
        berth_runtime::signal(&Self::shim_state(&c, &rec), sig)?;
        self.container_event(&c, "kill", &[("signal", sig.to_string())]);
        crate::pause::thaw_after_signal(&c, sig, &rec.config.stop_signal).await;
        self.health_open(&c);
        if sig == libc::SIGKILL {
            // Docker returns once a SIGKILLed container is gone.
            Self::wait_exit(&c, before, Some(Duration::from_secs(10))).await;
        }
        Ok(())
    }

    /// Stop (if running) then start.
    pub async fn restart(self: &Arc<Self>, name: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.lookup(name)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, name)?;
        match self.stop_locked(&c, timeout).await {
            Ok(()) => self.container_event(&c, "stop", &[]),
            Err(e) if e.kind == ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        c.bump_gen();
        c.reset_policy();
        self.start_locked(&c, true).await?;
        self.container_event(&c, "restart", &[]);
        Ok(())
    }

    /// Remove a container; a running one only with `force` (killed first).
    pub async fn remove(self: &Arc<Self>, name: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.lookup(name)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, name)?;
        self.remove_locked(&c, force).await?;
        if volumes {
            self.remove_anonymous_volumes(&c.snapshot()).await;
        }
        Ok(())
    }

    /// Remove `c`; the caller holds `c.op`.
    async fn remove_locked(self: &Arc<Self>, c: &Arc<Container>, force: bool) -> Result<()> {
        c.bump_gen();
        let before = c.events.borrow().exits;
        let rec = c.snapshot();
        if is_running(rec.state.status) {
            if !force && rec.state.is_paused() {
                return Err(EngineError::conflict(format!(
                    "You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove",
                    c.id
                )));
            }
            if !force {
                return Err(EngineError::conflict(format!(
                    "You cannot remove a {} container {}. Stop the container before attempting removal or force remove",
                    rec.state.status.as_str(),
                    c.id
                )));
            }
            if rec.state.status == Status::Running {
                c.update(|r| r.state.manually_stopped = true)?;
                berth_runtime::signal(&Self::shim_state(c, &rec), libc::SIGKILL)?;
                self.container_event(c, "kill", &[("signal", libc::SIGKILL.to_string())]);
                crate::pause::thaw_after_signal(c, libc::SIGKILL, "").await;
                if !Self::wait_exit(c, before, Some(Duration::from_secs(15))).await {
                    return Err(EngineError::system(format!(
                        "Could not kill running container {}, cannot remove",
                        c.id
                    )));
                }
            }
        }
        {
            let mut r = c.rec();
            r.state.status = Status::Removing;
        }
        self.health_close(c);
        self.net_teardown(c).await;
        let dir = c.dir.clone();
        let c_id = c.id.clone();
        let exec_root = self.cfg.exec_root.clone();
        let res = blocking(move || {
            berth_runtime::cleanup(&dir, &exec_root);
            let rootfs = dir.join("rootfs");
            if let (Ok(a), Ok(b)) = (std::fs::metadata(&dir), std::fs::metadata(&rootfs)) {
                if a.dev() != b.dev() {
                    return Err(EngineError::system(format!(
                        "{} is still mounted, not removing the container directory",
                        rootfs.display()
                    )));
                }
            }
            // Renaming is atomic and fast; the slow deletion happens in the background
            // (and leftovers are deleted when the engine opens).
            let trash = dir.with_file_name(format!("{TRASH_PREFIX}{}", c_id));
            match std::fs::rename(&dir, &trash) {
                Ok(()) => {
                    std::thread::spawn(move || {
                        if let Err(e) = std::fs::remove_dir_all(&trash) {
                            tracing::warn!("removing {}: {e}", trash.display());
                        }
                    });
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(EngineError::io(format!("remove {}", dir.display()), e)),
            }
        })
        .await;
        if let Err(e) = res {
            let mut r = c.rec();
            r.state.status = Status::Dead;
            return Err(e);
        }
        self.map().remove(&c.id);
        crate::attach::drop_pending(&c.id);
        crate::exec::forget_execs(&c.id);
        self.container_event(c, "destroy", &[]);
        c.events.send_modify(|e| e.removed = true);
        tracing::info!(id = %c.id, "container removed");
        Ok(())
    }

    /// Rename a container.
    pub async fn rename(self: &Arc<Self>, name: &str, new_name: &str) -> Result<()> {
        let new = new_name.trim_start_matches('/');
        if new.is_empty() {
            return Err(EngineError::invalid(
                "Neither old nor new names may be empty",
            ));
        }
        if !berth_spec::names::is_valid_container_name(new) {
            return Err(EngineError::invalid(format!(
                "Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let c = self.lookup(name)?;
        {
            let map = self.map();
            if c.rec().name == new {
                return Err(EngineError::invalid(
                    "Renaming a container with the same name as its current name",
                ));
            }
            if let Some(other) = map.values().find(|o| o.rec().name == new) {
                return Err(EngineError::conflict(format!(
                "Error when allocating new name: Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
            }
            let old_name = format!("/{}", c.rec().name);
            c.update(|r| r.name = new.to_string())?;
            self.container_event(&c, "rename", &[("oldName", old_name)]);
            drop(map);
        }
        let dir = c.dir.clone();
        let name = new.to_string();
        blocking(move || {
            crate::oom::rename_in_spec(&dir, &name);
            Ok(())
        })
        .await
    }

    /// Register a wait now; the returned future resolves when `cond` is met.
    pub fn wait(
        self: &Arc<Self>,
        name: &str,
        cond: WaitCondition,
    ) -> Result<impl Future<Output = WaitResponse> + Send + 'static> {
        let c = self.lookup(name)?;
        let mut rx = c.events.subscribe();
        let before = rx.borrow().exits;
        let running = is_running(c.rec().state.status);
        let current = c.rec().state.exit_code;
        Ok(async move {
            let done_now = cond == WaitCondition::NotRunning && !running;
            if done_now {
                return WaitResponse {
                    status_code: current,
                    error: None,
                };
            }
            let res = rx
                .wait_for(|e| match cond {
                    WaitCondition::Removed => e.removed,
                    _ => e.exits > before || e.removed,
                })
                .await
                .map(|e| e.last_exit);
            let code = match res {
                Ok(code) => code,
                Err(_) => c.events.borrow().last_exit,
            };
            WaitResponse {
                status_code: code,
                error: None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signals() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("BOGUS").is_err());
    }

    #[test]
    fn start_errors_map_to_docker_exit_codes() {
        let (e, code) = start_error(
            "exec: \"nosuch\": executable file not found in $PATH",
            "nosuch",
        );
        assert_eq!(code, 127);
        assert_eq!(e.status(), 400);
        assert!(e.message.contains("executable file not found"));
        let (_, code) = start_error("exec /etc/passwd: permission denied", "/etc/passwd");
        assert_eq!(code, 126);
        let (e, code) = start_error("something else", "x");
        assert_eq!((e.status(), code), (500, 128));
    }

    #[test]
    fn wait_conditions() {
        assert_eq!(WaitCondition::parse(""), WaitCondition::NotRunning);
        assert_eq!(WaitCondition::parse("removed"), WaitCondition::Removed);
        assert_eq!(WaitCondition::parse("next-exit"), WaitCondition::NextExit);
        assert_eq!(WaitCondition::parse("bogus"), WaitCondition::NotRunning);
    }
}
