//! The overlay root filesystem of a container (mounted by the shim in the host
//! mount namespace, so the engine can read a running container's files).

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::RuntimeError;
use crate::spec::RootfsSpec;

/// The overlay `-o` data string: `lowerdir` lists the layers TOP-FIRST
/// (the reverse of `lower_dirs`), then `upperdir` and `workdir`.
pub fn overlay_options(rootfs: &RootfsSpec, empty_lower: &Path) -> String {
    let lowers: Vec<String> = if rootfs.lower_dirs.is_empty() {
        vec![escape(empty_lower)]
    } else {
        rootfs.lower_dirs.iter().rev().map(|p| escape(p)).collect()
    };
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        escape(&rootfs.upper_dir),
        escape(&rootfs.work_dir)
    )
}

/// Overlayfs option values cannot contain `,` or `:` unescaped.
fn escape(p: &Path) -> String {
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(':', "\\:")
}

/// Mount the overlay described by `rootfs` at `rootfs.target`, creating the
/// upper, work and target directories when missing.
pub fn mount_rootfs(rootfs: &RootfsSpec) -> Result<(), RuntimeError> {
    let empty_lower: PathBuf = rootfs
        .target
        .parent()
        .unwrap_or_else(|| Path::new("/"))
        .join("empty-lower");
    for dir in [&rootfs.upper_dir, &rootfs.work_dir, &rootfs.target] {
        std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io("mkdir", dir, e))?;
    }
    if rootfs.lower_dirs.is_empty() {
        std::fs::create_dir_all(&empty_lower)
            .map_err(|e| RuntimeError::io("mkdir", &empty_lower, e))?;
    }
    // A stale mount from a crashed shim would hide the new one.
    unmount_all(&rootfs.target);
    let data = overlay_options(rootfs, &empty_lower);
    mount(
        Some("overlay"),
        &rootfs.target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|e| RuntimeError::sys(format!("mount overlay on {}", rootfs.target.display()), e))
}

/// Lazily unmount everything mounted at `target` (best effort, never fails).
pub fn unmount_all(target: &Path) {
    for _ in 0..8 {
        if umount2(target, MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowerdir_is_top_first() {
        let r = RootfsSpec {
            lower_dirs: vec!["/l/base".into(), "/l/mid".into(), "/l/top".into()],
            upper_dir: "/c/upper".into(),
            work_dir: "/c/work".into(),
            target: "/c/rootfs".into(),
            readonly: false,
        };
        assert_eq!(
            overlay_options(&r, Path::new("/e")),
            "lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
        let empty = RootfsSpec {
            lower_dirs: vec![],
            ..r
        };
        assert!(overlay_options(&empty, Path::new("/c/e")).starts_with("lowerdir=/c/e,"));
    }

    #[test]
    fn escapes_separators() {
        assert_eq!(escape(Path::new("/a,b:c")), "/a\\,b\\:c");
    }
}
