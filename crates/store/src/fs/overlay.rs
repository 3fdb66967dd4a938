//! Overlay mounts for container root filesystems.

use crate::error::StoreError;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Path, PathBuf};

/// Longest mount data the kernel accepts (one page, NUL included).
const MAX_MOUNT_DATA: usize = 4095;

fn mount_err(target: &Path, what: &str, e: nix::Error) -> StoreError {
    StoreError::Io {
        context: "mounting",
        path: target.to_path_buf(),
        source: std::io::Error::other(format!("{what}: {e}")),
    }
}

/// Whether the overlay module knows the `index` option.
fn supports_index() -> bool {
    Path::new("/sys/module/overlay/parameters/index").exists()
}

pub(crate) fn mount_overlay(
    lowers_lowest_first: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    readonly: bool,
) -> Result<(), StoreError> {
    let mut tops: Vec<&Path> = lowers_lowest_first
        .iter()
        .rev()
        .map(|p| p.as_path())
        .collect();
    if readonly {
        tops.insert(0, upper);
        if tops.len() == 1 {
            mount(
                Some(upper),
                target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| mount_err(target, "bind mount", e))?;
            return mount(
                None::<&str>,
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(|e| mount_err(target, "read-only remount", e));
        }
    }
    if tops.is_empty() {
        return Err(StoreError::InvalidArgument(
            "overlay mount needs at least one lower dir".into(),
        ));
    }
    let lower = tops
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let mut data = format!("lowerdir={lower}");
    if !readonly {
        data.push_str(&format!(
            ",upperdir={},workdir={}",
            upper.display(),
            work.display()
        ));
    }
    if supports_index() {
        data.push_str(",index=off");
    }
    if data.len() > MAX_MOUNT_DATA {
        return Err(StoreError::InvalidArgument(format!(
            "overlay mount options too long ({} bytes for {} layers)",
            data.len(),
            tops.len()
        )));
    }
    let flags = if readonly {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        flags,
        Some(data.as_str()),
    )
    .map_err(|e| mount_err(target, "overlay", e))
}

pub(crate) fn unmount(target: &Path) -> Result<(), StoreError> {
    match umount2(target, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::Error::EBUSY) => {
            umount2(target, MntFlags::MNT_DETACH).map_err(|e| StoreError::Io {
                context: "unmounting",
                path: target.to_path_buf(),
                source: std::io::Error::from_raw_os_error(e as i32),
            })
        }
        // Not mounted (or gone): nothing to do.
        Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
        Err(e) => Err(StoreError::Io {
            context: "unmounting",
            path: target.to_path_buf(),
            source: std::io::Error::from_raw_os_error(e as i32),
        }),
    }
}
