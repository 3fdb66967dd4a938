//! `exec`: run another process in a running container, under its own shim
//! (`berth shim exec <container dir> <exec root> <exec dir>`), which joins the
//! container's namespaces and cgroups itself (fork, setns, fork; or with
//! libcontainer's tenant builder when `BERTH_EXEC_LIBCONTAINER=1` is set in
//! the shim's environment or the seccomp profile cannot be precompiled), is
//! the parent of the process, serves `<exec dir>/attach.sock` (the protocol
//! of [`crate::attach`]) and records the exit.
//!
//! Files in the exec directory `<container dir>/exec/<exec id>/`
//! ([`exec_dir`]): `spec.json` ([`ExecSpec`], written by [`spawn_exec_shim`]),
//! `process.json` (the OCI process given to libcontainer, on that path only), `shim.log`,
//! `attach.sock` (while it runs), `state.json` ([`crate::ShimState`]: the
//! shim pid and the exec'd process's host pid), `exit.json`
//! ([`crate::ExitInfo`], read with [`read_exec_exit`]). The engine removes the
//! directory when it forgets the exec.
//!
//! Environment: the process gets exactly [`ExecSpec::env`] (plus `HOME` of the
//! user when absent): the engine passes the container's environment followed
//! by the exec's `-e` values, as Docker does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::attach::{AttachConn, AttachOptions};
use crate::error::RuntimeError;
use crate::state::{ExitInfo, ShimStarted, ShimState};

/// Sub-directory of the container directory holding exec directories.
pub const EXEC_DIR: &str = "exec";

/// What to run in the container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ExecSpec {
    /// Exec ID (64 hex chars); names the exec directory.
    pub id: String,
    /// Command and arguments; must be non-empty.
    pub args: Vec<String>,
    /// The full environment (`KEY=value`): the container's, then the exec's own.
    pub env: Vec<String>,
    /// Docker `-u` syntax; `""` means the container's user.
    pub user: String,
    /// Working directory; `""` means the container's.
    pub cwd: String,
    /// Run on a pseudo-terminal.
    pub tty: bool,
    /// Stdin is a pipe fed by attach clients (closed when the first stdin
    /// client leaves, as `docker exec -i`).
    pub open_stdin: bool,
    /// All capabilities, no seccomp filter.
    pub privileged: bool,
    /// Initial TTY size `(rows, cols)`.
    pub console_size: Option<(u16, u16)>,
}

/// The directory of exec `exec_id` of the container in `container_dir`.
pub fn exec_dir(container_dir: &Path, exec_id: &str) -> PathBuf {
    container_dir.join(EXEC_DIR).join(exec_id)
}

impl ExecSpec {
    /// Read `<exec dir>/spec.json`.
    pub fn load(exec_dir: &Path) -> Result<Self, RuntimeError> {
        let path = exec_dir.join(crate::spec::SPEC_FILE);
        let bytes = std::fs::read(&path).map_err(|e| RuntimeError::io("read", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| RuntimeError::Json { path, source: e })
    }
}

/// Start exec `spec` in the running container of `container_dir`: writes the
/// exec directory, spawns the exec shim and returns once the process runs
/// (its pid is `ShimStarted::init_pid`) or with why it could not start
/// ([`RuntimeError::Start`] carries Docker's message, e.g. `exec: "x":
/// executable file not found in $PATH`).
///
/// With `attach`, the returned connection was attached before the process
/// started, so none of its output is missed. Safe to call from a
/// multi-threaded process.
pub fn spawn_exec_shim(
    exe: &Path,
    container_dir: &Path,
    exec_root: &Path,
    spec: &ExecSpec,
    attach: Option<AttachOptions>,
) -> Result<(ShimStarted, Option<AttachConn>), RuntimeError> {
    if spec.id.is_empty() || !crate::rootpath::is_plain_name(spec.id.as_ref()) {
        return Err(RuntimeError::Spec(format!("invalid exec id {:?}", spec.id)));
    }
    if spec.args.is_empty() {
        return Err(RuntimeError::Spec("no command specified".into()));
    }
    let dir = exec_dir(container_dir, &spec.id);
    std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io("mkdir", &dir, e))?;
    let bytes = serde_json::to_vec(spec).map_err(|e| RuntimeError::Json {
        path: dir.clone(),
        source: e,
    })?;
    crate::atomic::write_file(
        &dir.join(crate::spec::SPEC_FILE),
        &bytes,
        crate::atomic::Durability::Atomic,
    )?;
    let args: Vec<std::ffi::OsString> = vec![
        "shim".into(),
        "exec".into(),
        container_dir.into(),
        exec_root.into(),
        dir.clone().into(),
    ];
    crate::control::spawn_with(exe, &args, &dir, attach)
}

/// The exec's exit record; `Ok(None)` while it runs.
pub fn read_exec_exit(
    container_dir: &Path,
    exec_id: &str,
) -> Result<Option<ExitInfo>, RuntimeError> {
    crate::state::read_exit(&exec_dir(container_dir, exec_id))
}

/// The exec's shim state (shim pid, process pid); `Ok(None)` before it started.
pub fn read_exec_state(
    container_dir: &Path,
    exec_id: &str,
) -> Result<Option<ShimState>, RuntimeError> {
    crate::state::read_state(&exec_dir(container_dir, exec_id))
}

/// Send `sig` to the process group of a running exec (the exec'd process
/// leads its own session, so this also reaches the children a shell
/// forked; without a session of its own, the process alone). Nothing is sent once the exec's `exit.json` exists (its pid may
/// be reused by then), or before it started; `ESRCH` counts as success.
pub fn kill_exec_group(container_dir: &Path, exec_id: &str, sig: i32) -> Result<(), RuntimeError> {
    let Some(state) = read_exec_state(container_dir, exec_id)? else {
        return Ok(());
    };
    if state.init_pid <= 0 || read_exec_exit(container_dir, exec_id)?.is_some() {
        return Ok(());
    }
    let signal = nix::sys::signal::Signal::try_from(sig)
        .map_err(|e| RuntimeError::sys(format!("signal {sig}"), e))?;
    let pid = nix::unistd::Pid::from_raw(state.init_pid);
    // A process started without its own session (the libcontainer path)
    // leads no group: signal it alone.
    let sent = match nix::sys::signal::killpg(pid, signal) {
        Err(nix::errno::Errno::ESRCH) => nix::sys::signal::kill(pid, signal),
        other => other,
    };
    match sent {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(RuntimeError::sys(
            format!("kill process group {} {}", state.init_pid, signal.as_str()),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_roundtrip_and_defaults() {
        let d = tempfile::tempdir().unwrap();
        let s = ExecSpec {
            id: "e".repeat(64),
            args: vec!["true".into()],
            tty: true,
            console_size: Some((24, 80)),
            ..ExecSpec::default()
        };
        let dir = exec_dir(d.path(), &s.id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("spec.json"), serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(ExecSpec::load(&dir).unwrap(), s);
        std::fs::write(dir.join("spec.json"), br#"{"id":"x","args":["sh"]}"#).unwrap();
        let old = ExecSpec::load(&dir).unwrap();
        assert!(!old.tty && old.env.is_empty());
    }
}
