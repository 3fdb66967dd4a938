//! Atomic file writes: temp file (+ fsync) + rename (+ fsync of the directory).

use std::io::Write;
use std::path::Path;

use crate::error::RuntimeError;

/// How hard [`write_file`] works to survive a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// temp + rename: atomic against process crashes (`kill -9`), not
    /// against power loss. For run state that a reboot makes meaningless.
    Atomic,
    /// temp + fsync + rename: after a power loss the file is either the old one
    /// (rename lost) or the complete new one, never empty or partial.
    FileSynced,
    /// temp + fsync + rename + fsync of the directory: fully durable.
    Durable,
}

/// Write `bytes` to `path` so that a crash at any instant leaves either the
/// old file or the complete new one (fully durable; see [`write_file`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    write_file(path, bytes, Durability::Durable)
}

/// Write `bytes` to `path` through a temp file and a rename, with the given durability.
pub fn write_file(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), RuntimeError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| RuntimeError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| RuntimeError::io("write", &tmp, e))?;
        if durability != Durability::Atomic {
            // fdatasync: the data and the size, which is all a reader needs.
            f.sync_data()
                .map_err(|e| RuntimeError::io("fsync", &tmp, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| RuntimeError::io("rename", path, e))?;
        if durability == Durability::Durable {
            if let Ok(d) = std::fs::File::open(dir) {
                // Best effort: the rename is durable once the directory is synced.
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        for (i, mode) in [
            Durability::Atomic,
            Durability::FileSynced,
            Durability::Durable,
        ]
        .into_iter()
        .enumerate()
        {
            write_file(&p, format!("v{i}").as_bytes(), mode).unwrap();
            assert_eq!(std::fs::read_to_string(&p).unwrap(), format!("v{i}"));
        }
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        assert!(write_atomic(&d.path().join("no/such/dir"), b"x").is_err());
    }
}
