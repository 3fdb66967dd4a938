//! Overlay mounts of an image's layers for the steps that write files
//! without a container (COPY, ADD, WORKDIR) and for `COPY --from`.
//!
//! The writable ones are mounted `volatile` when the kernel allows it (5.10
//! and later): overlayfs then skips the `syncfs` of the upper filesystem it
//! otherwise does at unmount, which on a busy host (the upper dir is on the
//! data root's filesystem, shared with everything else) took seconds. The
//! upper dir is scratch anyway: the step's layer is written (and synced)
//! by the store's commit from it.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use berth_runtime::mount::{mount_overlay, unmount, MAX_MOUNT_DATA};
use nix::mount::{mount, MsFlags};

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
        if !mount_volatile(layers, &upper, &work, &merged) {
            mount_overlay(layers, Some((&upper, &work)), &merged, false)?;
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
        mount_overlay(layers, None, &target, true)?;
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

/// Overlay option values cannot contain `,` or `:` unescaped.
fn escape(p: &Path) -> String {
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(':', "\\:")
}

/// Mount `layers` (lowest first) with `upper`/`work` on `target` with the
/// `volatile` option; false when that did not work (an older kernel), for
/// the caller to mount the ordinary way.
fn mount_volatile(layers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> bool {
    let tail = format!(
        ",upperdir={},workdir={}{},volatile",
        escape(upper),
        escape(work),
        if Path::new("/sys/module/overlay/parameters/index").exists() {
            ",index=off"
        } else {
            ""
        }
    );
    let plain: Vec<String> = layers.iter().rev().map(|p| escape(p)).collect();
    let mut data = format!("lowerdir={}{tail}", plain.join(":"));
    // Long lists go by file descriptor, held open until mount(2) returns.
    let mut held: Vec<std::fs::File> = Vec::new();
    if data.len() > MAX_MOUNT_DATA {
        for dir in layers.iter().rev() {
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(dir);
            match opened {
                Ok(f) => held.push(f),
                Err(_) => return false,
            }
        }
        let by_fd: Vec<String> = held
            .iter()
            .map(|f| format!("/proc/self/fd/{}", f.as_raw_fd()))
            .collect();
        data = format!("lowerdir={}{tail}", by_fd.join(":"));
        if data.len() > MAX_MOUNT_DATA {
            return false;
        }
    }
    let res = mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    );
    drop(held);
    res.is_ok()
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if self.mounted {
            let _ = unmount(&self.root);
        }
    }
}
