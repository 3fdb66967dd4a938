//! `docker exec`: exec instances (create, start attached or detached,
//! inspect, resize), kept in memory as dockerd keeps them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use berth_runtime::attach::AttachOptions;
use berth_runtime::ExecSpec;
use serde::{Deserialize, Serialize};

use crate::attach::StdioConn;
use crate::error::{EngineError, Result};
use crate::merge::{replace_or_append_env, runtime_env};
use crate::record::Status;
use crate::Engine;

/// Body of `POST /containers/{id}/exec` (Docker's `ExecConfig`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    /// Attach stdin.
    pub attach_stdin: bool,
    /// Attach stdout.
    pub attach_stdout: bool,
    /// Attach stderr.
    pub attach_stderr: bool,
    /// Allocate a TTY.
    pub tty: bool,
    /// Extra environment (`KEY=value`), after the container's.
    pub env: Option<Vec<String>>,
    /// Command and arguments.
    pub cmd: Option<Vec<String>>,
    /// User (`""`: the container's).
    pub user: String,
    /// Working directory (`""`: the container's).
    pub working_dir: String,
    /// Extended privileges.
    pub privileged: bool,
    /// Detach key sequence override. dockerd matches JSON names case-insensitively, and
    /// docker-py sends this one as `detachKeys`.
    #[serde(alias = "detachKeys")]
    pub detach_keys: String,
    /// Initial TTY size `[height, width]`.
    pub console_size: Option<[u64; 2]>,
}

/// `ProcessConfig` of an exec inspect.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ExecProcessConfig {
    /// TTY.
    pub tty: bool,
    /// The command.
    pub entrypoint: String,
    /// Its arguments.
    pub arguments: Vec<String>,
    /// The user, when given.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Privileged.
    pub privileged: bool,
}

/// `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ExecInspect {
    /// Exec ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The process runs.
    pub running: bool,
    /// Exit code once it exited (null before).
    pub exit_code: Option<i64>,
    /// What runs.
    pub process_config: ExecProcessConfig,
    /// Stdin attached.
    pub open_stdin: bool,
    /// Stderr attached.
    pub open_stderr: bool,
    /// Stdout attached.
    pub open_stdout: bool,
    /// Whether the exec can be removed (always false, as in dockerd 20.10).
    pub can_remove: bool,
    /// The container.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// Detach keys given at create.
    pub detach_keys: String,
    /// Host pid of the process (0 before it started).
    pub pid: i64,
}

/// One exec instance.
#[derive(Debug, Clone)]
struct ExecRecord {
    config: ExecConfig,
    container_id: String,
    container_dir: std::path::PathBuf,
    started: bool,
    running: bool,
    exit_code: Option<i64>,
    pid: i64,
}

/// All exec instances of this process, by exec ID (random, unique).
fn execs() -> MutexGuard<'static, HashMap<String, ExecRecord>> {
    static EXECS: OnceLock<Mutex<HashMap<String, ExecRecord>>> = OnceLock::new();
    let m = EXECS.get_or_init(|| Mutex::new(HashMap::new()));
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Forget the finished exec instances of container `container_id` (dockerd
/// drops a container's exec records when it stops); running ones are kept
/// until their exit is recorded.
pub(crate) fn prune_finished_execs(container_id: &str) {
    execs().retain(|_, e| e.container_id != container_id || e.running);
}

/// Forget every exec instance of container `container_id` (it was removed).
pub(crate) fn forget_execs(container_id: &str) {
    execs().retain(|_, e| e.container_id != container_id);
}

/// Forget exec instance `id` (a finished health probe: dockerd's probes do
/// not pile up in the exec list).
pub(crate) fn forget_exec(id: &str) {
    execs().remove(id);
}

/// At daemon start, when no exec is known any more: remove the directories
/// of the container's finished execs (those that ended while the daemon was
/// down, health probes included). Running ones are left to their shims.
pub(crate) fn remove_finished_exec_dirs(container_dir: &std::path::Path) {
    let Ok(rd) = std::fs::read_dir(container_dir.join(berth_runtime::EXEC_DIR)) else {
        return;
    };
    for entry in rd.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        if matches!(
            berth_runtime::read_exec_exit(container_dir, &id),
            Ok(Some(_))
        ) {
            remove_exec_dir(&entry.path());
        }
    }
}

/// Remove an exec's directory, if it is there.
fn remove_exec_dir(dir: &std::path::Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::debug!("removing {}: {e}", dir.display()),
    }
}

fn no_such_exec(id: &str) -> EngineError {
    EngineError::not_found(format!("No such exec instance: {id}"))
}

/// Docker's wording of an exec that could not start.
pub fn exec_start_error(msg: &str) -> String {
    format!(
        "OCI runtime exec failed: exec failed: unable to start container process: {msg}: unknown"
    )
}

/// The environment of an exec: the container's, then the exec's (later wins).
pub(crate) fn exec_env(
    container: &berth_spec::api::ContainerConfig,
    extra: &[String],
) -> Vec<String> {
    let mut env = runtime_env(container);
    replace_or_append_env(&mut env, extra);
    env
}

/// What [`Engine::exec_start`] gives back.
#[derive(Debug)]
pub enum ExecStarted {
    /// Detached: the process runs.
    Detached,
    /// Attached: the stream to bridge.
    Attached(StdioConn),
    /// Attached, but the process did not start: write this message to the
    /// client (exit code 126 is recorded).
    Failed(String),
}

impl Engine {
    /// `POST /containers/{id}/exec`: register an exec instance, return its ID.
    pub async fn exec_create(self: &Arc<Self>, name: &str, config: ExecConfig) -> Result<String> {
        let c = self.lookup(name)?;
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(EngineError::invalid("No exec command specified"));
        }
        if c.rec().state.status != Status::Running {
            return Err(EngineError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let dir = c.dir.clone();
        let paused =
            crate::blocking(move || Ok(berth_runtime::is_paused(&dir).unwrap_or(false))).await?;
        if paused {
            return Err(EngineError::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        if !config.detach_keys.is_empty()
            && berth_spec::detach::parse_detach_keys(&config.detach_keys).is_err()
        {
            // dockerd 20.10 answers this with a 500.
            return Err(EngineError::system(format!(
                "Invalid escape keys ({}) provided",
                config.detach_keys
            )));
        }
        let id = crate::create::new_id();
        let live: Vec<String> = self.map().keys().cloned().collect();
        let mut map = execs();
        // Forget the execs of removed containers.
        map.retain(|_, e| live.contains(&e.container_id));
        let cmd = config.cmd.clone().unwrap_or_default();
        map.insert(
            id.clone(),
            ExecRecord {
                config,
                container_id: c.id.clone(),
                container_dir: c.dir.clone(),
                started: false,
                running: false,
                exit_code: None,
                pid: 0,
            },
        );
        drop(map);
        if let Err(e) = self.log_exec_create(&c.id, &id, &cmd) {
            tracing::debug!("exec_create event: {e}");
        }
        Ok(id)
    }

    /// IDs of the running exec instances of container `id` (inspect's
    /// `ExecIDs`: null when there are none, as dockerd shows it).
    pub fn exec_ids(&self, container_id: &str) -> Option<Vec<String>> {
        let ids: Vec<String> = execs()
            .iter()
            .filter(|(_, e)| e.container_id == container_id && e.running)
            .map(|(k, _)| k.clone())
            .collect();
        (!ids.is_empty()).then_some(ids)
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<ExecInspect> {
        let mut rec = execs().get(id).cloned().ok_or_else(|| no_such_exec(id))?;
        if rec.running {
            // The exit may be recorded before the watcher saw it.
            if let Ok(Some(exit)) = berth_runtime::read_exec_exit(&rec.container_dir, id) {
                rec.running = false;
                rec.exit_code = Some(i64::from(exit.exit_code));
                self.exec_exited(id, exit.exit_code);
            }
        }
        let cmd = rec.config.cmd.clone().unwrap_or_default();
        Ok(ExecInspect {
            id: id.to_string(),
            running: rec.running,
            exit_code: rec.exit_code,
            process_config: ExecProcessConfig {
                tty: rec.config.tty,
                entrypoint: cmd.first().cloned().unwrap_or_default(),
                arguments: cmd.iter().skip(1).cloned().collect(),
                user: rec.config.user.clone(),
                privileged: rec.config.privileged,
            },
            open_stdin: rec.config.attach_stdin,
            open_stderr: rec.config.attach_stderr,
            open_stdout: rec.config.attach_stdout,
            can_remove: false,
            container_id: rec.container_id.clone(),
            detach_keys: rec.config.detach_keys.clone(),
            pid: rec.pid,
        })
    }

    /// Record the exit code of exec `id` (from the stream's exit frame or its exit.json).
    pub fn exec_exited(&self, id: &str, code: i32) {
        let mut died_in = None;
        if let Some(e) = execs().get_mut(id) {
            if e.running || e.exit_code.is_none() {
                if e.running {
                    died_in = Some(e.container_id.clone());
                }
                e.running = false;
                e.exit_code = Some(i64::from(code));
            }
        }
        if let Some(container) = died_in {
            if let Err(e) = self.log_exec_die(&container, id, i64::from(code)) {
                tracing::debug!("exec_die event: {e}");
            }
        }
    }

    /// `POST /exec/{id}/start`.
    pub async fn exec_start(self: &Arc<Self>, id: &str, detach: bool) -> Result<ExecStarted> {
        let rec = {
            let mut map = execs();
            let e = map.get_mut(id).ok_or_else(|| no_such_exec(id))?;
            if e.started {
                return Err(EngineError::conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            e.started = true;
            e.clone()
        };
        let c = self.lookup(&rec.container_id)?;
        let container = {
            let r = c.rec();
            if r.state.status != Status::Running {
                return Err(EngineError::conflict(format!(
                    "Container {} is not running",
                    c.id
                )));
            }
            crate::network::with_link_env(&r)
        };
        let cfg = &rec.config;
        let spec = ExecSpec {
            id: id.to_string(),
            args: cfg.cmd.clone().unwrap_or_default(),
            env: exec_env(&container, cfg.env.as_deref().unwrap_or(&[])),
            user: cfg.user.clone(),
            cwd: cfg.working_dir.clone(),
            tty: cfg.tty,
            open_stdin: cfg.attach_stdin,
            privileged: cfg.privileged,
            console_size: cfg.console_size.filter(|s| s[0] > 0 && s[1] > 0).map(|s| {
                (
                    s[0].min(u16::MAX as u64) as u16,
                    s[1].min(u16::MAX as u64) as u16,
                )
            }),
        };
        let spec_args = spec.args.clone();
        let attach = (!detach).then_some(AttachOptions {
            stdin: cfg.attach_stdin,
            stdout: cfg.attach_stdout,
            stderr: cfg.attach_stderr,
        });
        let exe = self.cfg.shim_exe.clone();
        let exec_root = self.cfg.exec_root.clone();
        let dir = c.dir.clone();
        let res = crate::blocking(move || {
            Ok(berth_runtime::spawn_exec_shim(
                &exe, &dir, &exec_root, &spec, attach,
            ))
        })
        .await?;
        let (started, conn) = match res {
            Ok(s) => s,
            Err(e) => {
                let msg = match e {
                    berth_runtime::RuntimeError::Start(m) => m,
                    other => other.to_string(),
                };
                self.exec_exited(id, 126);
                // Nothing runs: drop what the shim left in the exec's directory.
                let exec_dir = berth_runtime::exec_dir(&rec.container_dir, id);
                crate::blocking(move || {
                    remove_exec_dir(&exec_dir);
                    Ok(())
                })
                .await?;
                let text = exec_start_error(&msg);
                if detach {
                    return Err(EngineError::invalid(text));
                }
                return Ok(ExecStarted::Failed(text));
            }
        };
        if let Some(e) = execs().get_mut(id) {
            e.running = true;
            e.pid = i64::from(started.init_pid);
        }
        if let Err(e) = self.log_exec_start(&rec.container_id, id, &spec_args) {
            tracing::debug!("exec_start event: {e}");
        }
        self.watch_exec(id.to_string(), rec.container_dir.clone(), started.shim_pid);
        Ok(match conn {
            None => ExecStarted::Detached,
            Some(conn) => ExecStarted::Attached(StdioConn {
                stream: conn.into_stream(),
                tty: cfg.tty,
                stdin: cfg.attach_stdin,
                close_stdin: !cfg.tty,
                detach_keys: cfg.detach_keys.clone(),
                exec_id: Some(id.to_string()),
                container_id: rec.container_id.clone(),
            }),
        })
    }

    /// Record the exec's exit when its shim exits.
    fn watch_exec(self: &Arc<Self>, id: String, dir: std::path::PathBuf, shim_pid: i32) {
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            crate::exitwatch::wait_pid_exit(shim_pid).await;
            let d = dir.clone();
            let i = id.clone();
            let exit =
                crate::blocking(move || Ok(berth_runtime::read_exec_exit(&d, &i).ok().flatten()))
                    .await
                    .ok()
                    .flatten();
            engine.exec_exited(&id, exit.map(|e| e.exit_code).unwrap_or(-1));
            // The exit code is kept in memory from now on: the exec's
            // directory is not needed any more (many execs would pile up).
            let exec_dir = berth_runtime::exec_dir(&dir, &id);
            let _ = crate::blocking(move || {
                remove_exec_dir(&exec_dir);
                Ok(())
            })
            .await;
        });
    }

    /// `POST /exec/{id}/resize`.
    pub async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        let mut rec = execs().get(id).cloned().ok_or_else(|| no_such_exec(id))?;
        // An attached start answers before its process runs, and clients resize right after
        // it: as dockerd, wait (up to 10 s) for the process to be there.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !rec.running && rec.exit_code.is_none() {
            if std::time::Instant::now() >= deadline {
                return Err(EngineError::system(
                    "timeout waiting for exec session ready",
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            rec = execs().get(id).cloned().ok_or_else(|| no_such_exec(id))?;
        }
        if !rec.running || !rec.config.tty {
            return Ok(());
        }
        let dir = berth_runtime::exec_dir(&rec.container_dir, id);
        crate::attach::resize_dir(dir, rows, cols).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_config_parses_docker_json() {
        let c: ExecConfig = serde_json::from_str(
            r#"{"AttachStdin":true,"Tty":true,"Cmd":["sh"],"Env":["A=1"],"User":"nobody","WorkingDir":"/tmp","ConsoleSize":[30,100]}"#,
        )
        .unwrap();
        assert!(c.attach_stdin && c.tty && !c.attach_stdout);
        assert_eq!(c.cmd.unwrap(), vec!["sh"]);
        assert_eq!(c.console_size, Some([30, 100]));
    }

    #[test]
    fn exec_env_appends_and_overrides() {
        let cfg = berth_spec::api::ContainerConfig {
            hostname: "h".into(),
            env: Some(vec!["A=1".into(), "B=2".into()]),
            ..Default::default()
        };
        let env = exec_env(&cfg, &["A=9".into(), "C=3".into()]);
        assert!(env.contains(&"A=9".to_string()));
        assert!(!env.contains(&"A=1".to_string()));
        assert!(env.contains(&"B=2".to_string()) && env.contains(&"C=3".to_string()));
    }

    #[test]
    fn inspect_json_matches_dockerd_shape() {
        let i = ExecInspect {
            id: "x".into(),
            process_config: ExecProcessConfig {
                entrypoint: "sh".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let v = serde_json::to_string(&i).unwrap();
        assert!(v.starts_with(r#"{"ID":"x","Running":false,"ExitCode":null,"ProcessConfig":{"tty":false,"entrypoint":"sh","arguments":[],"privileged":false},"OpenStdin""#), "{v}");
    }
}
