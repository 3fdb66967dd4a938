//! Atomic file writes: temp file + fsync + rename + fsync of the directory.

use std::io::Write;
use std::path::Path;

use crate::error::RuntimeError;

/// Write `bytes` to `path` so that a crash at any instant leaves either the
/// old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
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
        f.sync_all()
            .map_err(|e| RuntimeError::io("fsync", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| RuntimeError::io("rename", path, e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            // Best effort: the rename is durable once the directory is synced.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
