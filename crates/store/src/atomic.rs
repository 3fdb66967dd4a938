//! Crash-safe file writes: temp file in the same directory, fsync, rename,
//! fsync of the directory.

use crate::error::{IoContext, StoreError};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A unique temporary name in `dir` (`.tmp-<pid>-<counter>-<random>`).
pub(crate) fn temp_name(dir: &Path, hint: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let r: u32 = rand::random();
    dir.join(format!(".tmp-{hint}-{}-{n}-{r:08x}", std::process::id()))
}

/// fsync a directory so that renames in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    let f = File::open(dir).ctx("opening directory to sync", dir)?;
    f.sync_all().ctx("syncing directory", dir)
}

/// Atomically replace `path` with `bytes`.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().ok_or_else(|| {
        StoreError::Corrupt(format!("no parent directory for {}", path.display()))
    })?;
    let tmp = temp_name(dir, "w");
    let result = (|| {
        let mut f = File::create(&tmp).ctx("creating temporary file", &tmp)?;
        f.write_all(bytes).ctx("writing", &tmp)?;
        f.sync_all().ctx("syncing", &tmp)?;
        drop(f);
        std::fs::rename(&tmp, path).ctx("renaming into place", path)?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Remove a file durably; a missing file is fine.
pub(crate) fn remove_file(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx("removing", path),
    }
    match path.parent() {
        Some(dir) => fsync_dir(dir),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        write_file(&p, b"one").unwrap();
        write_file(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
