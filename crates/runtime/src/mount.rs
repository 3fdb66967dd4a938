//! Overlay mounts: the root filesystem of a container (mounted by the shim
//! in the host mount namespace, so the engine can read a running
//! container's files) and the builder's views of an image's layers. This is
//! berth's one implementation of an overlay mount.
//!
//! The kernel takes at most one page of mount options, which full layer
//! paths (`/var/lib/berth/image/layers/<64 hex>/diff`) fill at about 40
//! layers. When the plain option string is too long, every lower dir is
//! opened with `O_PATH` and named `/proc/self/fd/N` instead (about 18 bytes
//! a layer, so some 200 layers fit); the descriptors stay open until
//! mount(2) returns, and overlayfs keeps the directories, not the names.
//! This works on every kernel and needs no chdir(2), so it is safe in the
//! multi-threaded daemon as well as in the shim.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::RuntimeError;
use crate::spec::RootfsSpec;

/// The overlay `-o` data string as plain paths: `lowerdir` lists the
/// layers TOP-FIRST (the reverse of `lower_dirs`), then `upperdir` and
/// `workdir`. (What [`mount_rootfs`] passes when it fits in a page, less
/// the `index=off` it adds where the kernel knows that option.)
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

/// Longest mount data the kernel accepts (one page, NUL included).
pub const MAX_MOUNT_DATA: usize = 4095;

/// Whether the overlay module knows the `index` option (then it is turned
/// off, as Docker does, so a layer may be shared by any number of mounts).
fn supports_index() -> bool {
    Path::new("/sys/module/overlay/parameters/index").exists()
}

/// The option string for lower dirs named `lowers_top_first`, an optional
/// (upper, work) pair, and `index=off` when asked.
fn overlay_data(
    lowers_top_first: &[String],
    upper_work: Option<(&Path, &Path)>,
    index_off: bool,
    extra_opts: &[&str],
) -> String {
    let mut data = format!("lowerdir={}", lowers_top_first.join(":"));
    if let Some((upper, work)) = upper_work {
        data.push_str(&format!(
            ",upperdir={},workdir={}",
            escape(upper),
            escape(work)
        ));
    }
    if index_off {
        data.push_str(",index=off");
    }
    for opt in extra_opts {
        data.push(',');
        data.push_str(opt);
    }
    data
}

/// Open `dir` with `O_PATH` (no access needed, nothing can be read through it).
fn open_path(dir: &Path) -> Result<File, RuntimeError> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)
        .map_err(|e| RuntimeError::io("open", dir, e))
}

/// Mount an overlay of `lowers` (LOWEST first) at `target`. With
/// `upper_work` = `Some((upper, work))` the overlay is writable into
/// `upper`; with `None` it is a read-only stack of `lowers` alone (a single
/// lower dir is then bind-mounted read-only, as overlayfs needs two).
/// `readonly` adds `MS_RDONLY`; `extra_opts` are appended to the overlay
/// options as they are (e.g. `["volatile"]`; ignored for the read-only
/// bind mount of a single lower dir). Any number of layers up to about 200 works
/// (see the module doc); more fails with a clear message.
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper_work: Option<(&Path, &Path)>,
    target: &Path,
    readonly: bool,
    extra_opts: &[&str],
) -> Result<(), RuntimeError> {
    let flags = if readonly || upper_work.is_none() {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    let mount_err = |what: &str, e| RuntimeError::sys(format!("{what} on {}", target.display()), e);
    match (lowers, upper_work) {
        ([], _) => {
            return Err(RuntimeError::Spec(
                "an overlay mount needs at least one lower dir".into(),
            ))
        }
        ([only], None) => {
            mount(
                Some(only.as_path()),
                target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| mount_err("bind mount", e))?;
            let remounted = mount(
                None::<&str>,
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            );
            if let Err(e) = remounted {
                // Never leave a writable view of the layer behind.
                if let Err(u) = umount2(target, MntFlags::MNT_DETACH) {
                    eprintln!(
                        "berth: unmount {} after a failed remount: {u}",
                        target.display()
                    );
                }
                return Err(mount_err("read-only remount", e));
            }
            return Ok(());
        }
        _ => {}
    }
    let index_off = supports_index();
    let plain: Vec<String> = lowers.iter().rev().map(|p| escape(p)).collect();
    let mut data = overlay_data(&plain, upper_work, index_off, extra_opts);
    // Held open until mount(2) has returned.
    let mut held: Vec<File> = Vec::new();
    if data.len() > MAX_MOUNT_DATA {
        for dir in lowers.iter().rev() {
            held.push(open_path(dir)?);
        }
        let by_fd: Vec<String> = held
            .iter()
            .map(|f| format!("/proc/self/fd/{}", f.as_raw_fd()))
            .collect();
        data = overlay_data(&by_fd, upper_work, index_off, extra_opts);
        if data.len() > MAX_MOUNT_DATA {
            return Err(RuntimeError::Spec(format!(
                "too many layers to mount: {} (overlay's options are limited to {MAX_MOUNT_DATA} bytes)",
                lowers.len()
            )));
        }
    }
    let res = mount(
        Some("overlay"),
        target,
        Some("overlay"),
        flags,
        Some(data.as_str()),
    )
    .map_err(|e| mount_err("mount overlay", e));
    drop(held);
    res
}

/// Unmount `target`: at once if possible, lazily if busy; not being
/// mounted is no error.
pub fn unmount(target: &Path) -> Result<(), RuntimeError> {
    match umount2(target, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::Error::EBUSY) => umount2(target, MntFlags::MNT_DETACH)
            .map_err(|e| RuntimeError::sys(format!("unmount {}", target.display()), e)),
        Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
        Err(e) => Err(RuntimeError::sys(
            format!("unmount {}", target.display()),
            e,
        )),
    }
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
    let lowers = if rootfs.lower_dirs.is_empty() {
        std::slice::from_ref(&empty_lower)
    } else {
        rootfs.lower_dirs.as_slice()
    };
    mount_overlay(
        lowers,
        Some((&rootfs.upper_dir, &rootfs.work_dir)),
        &rootfs.target,
        false,
        &[],
    )
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
    fn extra_options_come_last() {
        let lowers = vec!["/l/top".to_string(), "/l/base".to_string()];
        let upper_work = Some((Path::new("/c/upper"), Path::new("/c/work")));
        assert_eq!(
            overlay_data(&lowers, upper_work, true, &["volatile"]),
            "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work,index=off,volatile"
        );
        assert_eq!(
            overlay_data(&lowers, None, false, &[]),
            "lowerdir=/l/top:/l/base"
        );
    }

    #[test]
    fn escapes_separators() {
        assert_eq!(escape(Path::new("/a,b:c")), "/a\\,b\\:c");
    }

    /// Whether the mount tests can run; under CI (env `CI` set, not
    /// "false"/"0") not being root is a failure, not a skip.
    fn is_root() -> bool {
        let root = nix::unistd::geteuid().is_root();
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(root || !ci, "mount tests need root under CI");
        root
    }

    /// `n` layer dirs under long paths like the store's, each with its own
    /// file `f<i>` and a shared file `same` that the top layer must win.
    fn layers(base: &Path, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let d = base
                    .join("data-root-of-some-length/image/layers")
                    .join(format!("{i:064x}"))
                    .join("diff");
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(d.join(format!("f{i}")), i.to_string()).unwrap();
                std::fs::write(d.join("same"), i.to_string()).unwrap();
                d
            })
            .collect()
    }

    #[test]
    fn mounts_130_layers_with_long_paths() {
        if !is_root() {
            eprintln!("skipped: overlay mounts need root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let lowers = layers(t.path(), 130);
        let plain: Vec<String> = lowers.iter().map(|p| escape(p)).collect();
        assert!(
            overlay_data(&plain, None, false, &[]).len() > MAX_MOUNT_DATA,
            "the test must need the long-options path"
        );
        let (upper, work, target) = (t.path().join("u"), t.path().join("w"), t.path().join("m"));
        for d in [&upper, &work, &target] {
            std::fs::create_dir_all(d).unwrap();
        }
        mount_overlay(&lowers, Some((&upper, &work)), &target, false, &[]).unwrap();
        let lowest = std::fs::read_to_string(target.join("f0"));
        let highest = std::fs::read_to_string(target.join("f129"));
        let same = std::fs::read_to_string(target.join("same"));
        let write = std::fs::write(target.join("new"), "n");
        unmount(&target).unwrap();
        assert_eq!(lowest.unwrap(), "0");
        assert_eq!(highest.unwrap(), "129");
        assert_eq!(same.unwrap(), "129", "the highest layer wins");
        write.unwrap();
        assert!(upper.join("new").is_file(), "writes go to the upper dir");
        assert!(!target.join("f0").exists(), "unmounted");

        // A read-only stack of the same layers (no upper dir).
        mount_overlay(&lowers, None, &target, true, &[]).unwrap();
        let lowest = std::fs::read_to_string(target.join("f0"));
        let ro = std::fs::write(target.join("x"), "x");
        unmount(&target).unwrap();
        assert_eq!(lowest.unwrap(), "0");
        assert!(ro.is_err(), "read-only");
        // Not mounted: unmount is a no-op.
        unmount(&target).unwrap();
    }

    #[test]
    fn a_single_read_only_layer_is_a_bind_mount_and_too_many_layers_fail_cleanly() {
        if !is_root() {
            eprintln!("skipped: mounts need root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let lowers = layers(t.path(), 1);
        let target = t.path().join("m");
        std::fs::create_dir_all(&target).unwrap();
        mount_overlay(&lowers, None, &target, true, &[]).unwrap();
        let seen = std::fs::read_to_string(target.join("f0"));
        let ro = std::fs::write(target.join("x"), "x");
        unmount(&target).unwrap();
        assert_eq!(seen.unwrap(), "0");
        assert!(ro.is_err());
        assert!(mount_overlay(&[], None, &target, true, &[]).is_err());
        let many = layers(t.path(), 300);
        let err = mount_overlay(&many, None, &target, true, &[]).unwrap_err();
        assert!(
            err.to_string().contains("too many layers to mount: 300"),
            "{err}"
        );
    }

    #[test]
    fn mount_rootfs_handles_many_layers() {
        if !is_root() {
            eprintln!("skipped: overlay mounts need root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let r = RootfsSpec {
            lower_dirs: layers(t.path(), 140),
            upper_dir: t.path().join("c/upper"),
            work_dir: t.path().join("c/work"),
            target: t.path().join("c/rootfs"),
            readonly: false,
        };
        mount_rootfs(&r).unwrap();
        let seen = (
            std::fs::read_to_string(r.target.join("f0")),
            std::fs::read_to_string(r.target.join("f139")),
        );
        unmount_all(&r.target);
        assert_eq!(seen.0.unwrap(), "0");
        assert_eq!(seen.1.unwrap(), "139");
    }
}
