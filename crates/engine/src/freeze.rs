//! Copies in and out of a running container happen with its processes frozen.
//!
//! `cp` and `/containers/{id}/archive` resolve paths inside the container's root in user space
//! (chroot semantics, `..` and symlinks never leaving the root), then open what they resolved.
//! A process of the container that swapped a directory for a symlink between the two steps
//! could make the daemon read or write a host path as root (CVE-2018-15664). Freezing the
//! container's cgroup for the duration of the copy (unless the user paused it already) leaves no
//! process to race with. A daemon killed while a copy froze a container thaws it when it
//! starts again ([`thaw_if_not_paused`]).

use std::path::{Path, PathBuf};

/// Thaws the container when dropped, if it froze it.
pub(crate) struct Frozen {
    dir: Option<PathBuf>,
}

impl Frozen {
    /// Freezes the container in `dir` when it is `running` and not already paused.
    pub(crate) fn for_copy(dir: &Path, running: bool) -> crate::error::Result<Frozen> {
        if !running || berth_runtime::pause::is_paused(dir).unwrap_or(false) {
            return Ok(Frozen { dir: None });
        }
        berth_runtime::pause(dir).map_err(|e| {
            crate::error::EngineError::system(format!("freezing the container for the copy: {e}"))
        })?;
        Ok(Frozen {
            dir: Some(dir.to_path_buf()),
        })
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            if let Err(e) = berth_runtime::unpause(&dir) {
                tracing::error!("thawing {} after a copy: {e}", dir.display());
            }
        }
    }
}

/// At daemon start: a running container that was not paused by its user but whose cgroup is
/// frozen was frozen by a copy the previous daemon did not finish: thaw it.
pub(crate) fn thaw_if_not_paused(dir: &Path, paused: bool) {
    if !paused && berth_runtime::pause::is_paused(dir).unwrap_or(false) {
        tracing::warn!("thawing {} (frozen by an interrupted copy)", dir.display());
        let _ = berth_runtime::unpause(dir);
    }
}
