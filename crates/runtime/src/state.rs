//! The shim's on-disk records: `state.json` (running) and `exit.json` (exited).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::atomic::Durability;
use crate::error::RuntimeError;

/// File name of the shim state inside the container directory.
pub const STATE_FILE: &str = "state.json";
/// File name of the exit record inside the container directory.
pub const EXIT_FILE: &str = "exit.json";

/// Written by the shim once the container's init has started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShimState {
    /// Container ID.
    pub id: String,
    /// The container directory the shim serves.
    pub container_dir: PathBuf,
    /// PID of the shim process.
    pub shim_pid: i32,
    /// PID (host namespace) of the container's init process.
    pub init_pid: i32,
    /// When the init process started.
    pub started_at: DateTime<Utc>,
}

/// Written by the shim when the container's init has exited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code as Docker reports it (a signal `n` gives `128 + n`).
    pub exit_code: i32,
    /// Whether the kernel OOM killer killed a process of the container.
    pub oom_killed: bool,
    /// When the init exited.
    pub finished_at: DateTime<Utc>,
}

/// What `spawn_shim` returns once the container's process is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimStarted {
    /// PID of the shim process.
    pub shim_pid: i32,
    /// PID (host namespace) of the container's init process.
    pub init_pid: i32,
    /// When the init process started.
    pub started_at: DateTime<Utc>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, RuntimeError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RuntimeError::Json {
                path: path.to_path_buf(),
                source: e,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RuntimeError::io("read", path, e)),
    }
}

fn write_json<T: Serialize>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<(), RuntimeError> {
    let bytes = serde_json::to_vec(value).map_err(|e| RuntimeError::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    crate::atomic::write_file(path, &bytes, durability)
}

/// Read `<container_dir>/state.json`; `Ok(None)` when the shim never wrote it.
pub fn read_state(container_dir: &Path) -> Result<Option<ShimState>, RuntimeError> {
    read_json(&container_dir.join(STATE_FILE))
}

/// Read `<container_dir>/exit.json`; `Ok(None)` while the container has not exited.
pub fn read_exit(container_dir: &Path) -> Result<Option<ExitInfo>, RuntimeError> {
    read_json(&container_dir.join(EXIT_FILE))
}

/// Write `state.json` atomically (temp + rename, no fsync: it is on the start
/// path, and after a reboot no shim or container it names exists anyway; a
/// reader must treat an unreadable state.json as "no shim").
pub fn write_state(container_dir: &Path, state: &ShimState) -> Result<(), RuntimeError> {
    write_json(&container_dir.join(STATE_FILE), state, Durability::Atomic)
}

/// Write `exit.json` atomically with its contents synced (after a power loss it
/// is complete or absent, never empty).
pub fn write_exit(container_dir: &Path, exit: &ExitInfo) -> Result<(), RuntimeError> {
    write_json(&container_dir.join(EXIT_FILE), exit, Durability::FileSynced)
}

/// Remove `state.json` and `exit.json` (the engine calls this before starting a container again).
pub fn clear_records(container_dir: &Path) -> Result<(), RuntimeError> {
    for name in [STATE_FILE, EXIT_FILE] {
        let p = container_dir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RuntimeError::io("remove", p, e)),
        }
    }
    Ok(())
}

/// Docker's exit code for a wait status: the code, or `128 + signal`.
pub fn exit_code_of(status: nix::sys::wait::WaitStatus) -> Option<i32> {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::sys::wait::WaitStatus;
    use nix::unistd::Pid;

    #[test]
    fn exit_codes() {
        let p = Pid::from_raw(5);
        assert_eq!(exit_code_of(WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_code_of(WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(
            exit_code_of(WaitStatus::Signaled(p, Signal::SIGTERM, true)),
            Some(143)
        );
        assert_eq!(exit_code_of(WaitStatus::StillAlive), None);
    }

    #[test]
    fn records_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_state(dir.path()).unwrap(), None);
        assert_eq!(read_exit(dir.path()).unwrap(), None);
        let st = ShimState {
            id: "a".repeat(64),
            container_dir: dir.path().to_path_buf(),
            shim_pid: 10,
            init_pid: 11,
            started_at: Utc::now(),
        };
        write_state(dir.path(), &st).unwrap();
        assert_eq!(read_state(dir.path()).unwrap(), Some(st));
        let ex = ExitInfo {
            exit_code: 137,
            oom_killed: true,
            finished_at: Utc::now(),
        };
        write_exit(dir.path(), &ex).unwrap();
        assert_eq!(read_exit(dir.path()).unwrap(), Some(ex));
        clear_records(dir.path()).unwrap();
        assert_eq!(read_exit(dir.path()).unwrap(), None);
    }
}
