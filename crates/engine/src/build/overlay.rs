//! Overlay mounts of an image's layers for the steps that write files
//! without a container (COPY, ADD, WORKDIR) and for `COPY --from`.
//!
//! The writable ones are mounted `volatile` when the kernel allows it (5.10
//! and later): overlayfs then skips the `syncfs` of the upper filesystem it
//! otherwise does at unmount, which on a busy host (the upper dir is on the
//! data root's filesystem, shared with everything else) took seconds. The
//! upper dir is scratch anyway: the step's layer is written (and synced)
//! by the store's commit from it.

use std::path::{Path, PathBuf};

use berth_runtime::mount::{mount_overlay, unmount};

use super::sources::io_err;
use crate::error::Result;

/// An overlay of an image's layers with a fresh upper dir, unmounted on drop.
pub(crate) struct Overlay {
    pub root: PathBuf,
    pub upper: PathBuf,
    mounted: bool,
}

impl Overlay {
    /// Mount `layers` (lowest first) under `dir`; with no layers the upper
    /// dir itself is the root.
    pub fn mount(layers: &[PathBuf], dir: &Path) -> Result<Overlay> {
        let upper = dir.join("upper");
        let work = dir.join("work");
        let merged = dir.join("merged");
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).map_err(|e| io_err(format!("mkdir {}", d.display()), e))?;
        }
        if layers.is_empty() {
            return Ok(Overlay {
                root: upper.clone(),
                upper,
                mounted: false,
            });
        }
        // `volatile` fails on kernels before 5.10: then the ordinary way.
        let volatile = mount_overlay(layers, Some((&upper, &work)), &merged, false, &["volatile"]);
        if volatile.is_err() {
            mount_overlay(layers, Some((&upper, &work)), &merged, false, &[])?;
        }
        Ok(Overlay {
            root: merged,
            upper,
            mounted: true,
        })
    }

    /// A read-only view of `layers` at `dir/from` (empty dir for none).
    pub fn readonly(layers: &[PathBuf], dir: &Path) -> Result<Overlay> {
        let target = dir.join("from");
        std::fs::create_dir_all(&target)
            .map_err(|e| io_err(format!("mkdir {}", target.display()), e))?;
        if layers.is_empty() {
            return Ok(Overlay {
                root: target.clone(),
                upper: target,
                mounted: false,
            });
        }
        mount_overlay(layers, None, &target, true, &[])?;
        Ok(Overlay {
            root: target.clone(),
            upper: target,
            mounted: true,
        })
    }

    /// Unmount now, reporting errors.
    pub fn unmount(mut self) -> Result<()> {
        if self.mounted {
            self.mounted = false;
            unmount(&self.root)?;
        }
        Ok(())
    }
}
