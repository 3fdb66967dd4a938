//! OOM kills as the shim records them: `<container dir>/oom.jsonl`, one JSON
//! object ([`OomEvent`]) per line, appended by the shim each time the kernel's
//! OOM killer kills a process of the container's cgroup (the init or any
//! other process). The engine reads them with [`read_events`] (e.g. to emit an
//! `oom` event and to tell the user which limit was reached).

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// File name of the OOM record inside the container directory.
pub const OOM_FILE: &str = "oom.jsonl";

/// One OOM kill (or several, when the kernel killed more than one process
/// before the shim looked: see `oom_kill`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OomEvent {
    /// When the shim saw it.
    pub time: DateTime<Utc>,
    /// The cgroup's OOM-kill counter after it (total since the container started).
    pub oom_kill: u64,
    /// The memory limit in bytes (`None` when unlimited).
    pub memory_limit: Option<u64>,
    /// Peak memory usage of the cgroup in bytes (v2 `memory.peak`, v1
    /// `memory.max_usage_in_bytes`; `None` when the kernel does not tell).
    pub memory_peak: Option<u64>,
    /// Whether the container's init (or the exec'd process being watched) had
    /// died when the event was recorded: true when the main process was the
    /// victim, false when only another process (a child) was killed.
    pub init_died: bool,
}

/// Append one event as a single `write` on an `O_APPEND` file (atomic with
/// respect to other appenders).
pub fn append_event(container_dir: &Path, event: &OomEvent) -> Result<(), RuntimeError> {
    let path = container_dir.join(OOM_FILE);
    let mut line = serde_json::to_vec(event).map_err(|e| RuntimeError::Json {
        path: path.clone(),
        source: e,
    })?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| RuntimeError::io("open", &path, e))?;
    f.write_all(&line)
        .map_err(|e| RuntimeError::io("append", &path, e))
}

/// All OOM events recorded for the container (oldest first); a missing file
/// means none, malformed lines are skipped.
pub fn read_events(container_dir: &Path) -> Result<Vec<OomEvent>, RuntimeError> {
    let path = container_dir.join(OOM_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RuntimeError::io("read", &path, e)),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Remove `oom.jsonl` (the engine calls this when it starts the container again).
pub fn clear_events(container_dir: &Path) -> Result<(), RuntimeError> {
    let p = container_dir.join(OOM_FILE);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io("remove", p, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_read() {
        let d = tempfile::tempdir().unwrap();
        assert!(read_events(d.path()).unwrap().is_empty());
        let e = OomEvent {
            time: Utc::now(),
            oom_kill: 1,
            memory_limit: Some(64 << 20),
            memory_peak: Some(64 << 20),
            init_died: false,
        };
        append_event(d.path(), &e).unwrap();
        append_event(
            d.path(),
            &OomEvent {
                oom_kill: 2,
                init_died: true,
                ..e.clone()
            },
        )
        .unwrap();
        let got = read_events(d.path()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], e);
        assert!(got[1].init_died);
        clear_events(d.path()).unwrap();
        assert!(read_events(d.path()).unwrap().is_empty());
    }
}
