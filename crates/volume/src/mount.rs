//! Volumes with local driver options (`-o type=tmpfs -o device=tmpfs -o
//! o=size=64m`, `type=nfs`, ...): their file system is mounted on the
//! volume's `_data` while a container uses it, as dockerd's local driver does.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Result, VolumeError};

/// Mount flags the `o` option may hold; the rest is file system data.
const FLAGS: &[(&str, MsFlags, bool)] = &[
    ("ro", MsFlags::MS_RDONLY, true),
    ("rw", MsFlags::MS_RDONLY, false),
    ("nosuid", MsFlags::MS_NOSUID, true),
    ("suid", MsFlags::MS_NOSUID, false),
    ("nodev", MsFlags::MS_NODEV, true),
    ("dev", MsFlags::MS_NODEV, false),
    ("noexec", MsFlags::MS_NOEXEC, true),
    ("exec", MsFlags::MS_NOEXEC, false),
    ("sync", MsFlags::MS_SYNCHRONOUS, true),
    ("async", MsFlags::MS_SYNCHRONOUS, false),
    ("noatime", MsFlags::MS_NOATIME, true),
    ("atime", MsFlags::MS_NOATIME, false),
    ("nodiratime", MsFlags::MS_NODIRATIME, true),
    ("diratime", MsFlags::MS_NODIRATIME, false),
    ("relatime", MsFlags::MS_RELATIME, true),
    ("norelatime", MsFlags::MS_RELATIME, false),
    ("strictatime", MsFlags::MS_STRICTATIME, true),
    ("bind", MsFlags::MS_BIND, true),
    ("rbind", MsFlags::MS_BIND.union(MsFlags::MS_REC), true),
];

/// Split an `o` value into mount flags and the data string.
pub fn parse_o(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        match FLAGS.iter().find(|(name, _, _)| *name == opt) {
            Some((_, f, true)) => flags.insert(*f),
            Some((_, f, false)) => flags.remove(*f),
            None => data.push(opt),
        }
    }
    (flags, data.join(","))
}

/// Whether the options ask for a mount (`type` or `device` given).
pub fn needs_mount(options: Option<&BTreeMap<String, String>>) -> bool {
    options.is_some_and(|o| o.contains_key("type") || o.contains_key("device"))
}

/// Whether `path` is a mount point (its device differs from its parent's).
pub fn is_mounted(path: &Path) -> bool {
    let parent = path.parent().unwrap_or(path);
    match (std::fs::metadata(path), std::fs::metadata(parent)) {
        (Ok(a), Ok(b)) => a.dev() != b.dev(),
        _ => false,
    }
}

/// Mount what `options` describe on `target` unless something is mounted there.
pub fn mount_options(name: &str, target: &Path, options: &BTreeMap<String, String>) -> Result<()> {
    if is_mounted(target) {
        return Ok(());
    }
    let fstype = options.get("type").map(String::as_str).unwrap_or("");
    let device = options.get("device").map(String::as_str).unwrap_or("");
    let (mut flags, data) = parse_o(options.get("o").map(String::as_str).unwrap_or(""));
    if fstype == "bind" {
        flags.insert(MsFlags::MS_BIND);
    }
    let fs = (!fstype.is_empty() && fstype != "bind").then_some(fstype);
    let data = (!data.is_empty()).then_some(data.as_str());
    mount(Some(device), target, fs, flags, data).map_err(|e| VolumeError::Io {
        context: format!(
            "error while mounting volume '{}' (volume {name})",
            target.display()
        ),
        source: e.into(),
    })
}

/// Unmount the file system of a volume's `_data` if one is mounted.
pub fn unmount(target: &Path) -> Result<()> {
    if !is_mounted(target) {
        return Ok(());
    }
    umount2(target, MntFlags::MNT_DETACH)
        .map_err(|e| VolumeError::io(format!("unmount {}", target.display()), e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_flags_and_data() {
        let (f, d) = parse_o("size=1m,ro,uid=1000,noexec");
        assert!(f.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOEXEC));
        assert_eq!(d, "size=1m,uid=1000");
        let mut o = BTreeMap::new();
        assert!(!needs_mount(Some(&o)));
        o.insert("type".to_string(), "tmpfs".to_string());
        assert!(needs_mount(Some(&o)));
        assert!(!needs_mount(None));
    }

    #[test]
    fn mounts_a_tmpfs_volume() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("_data");
        std::fs::create_dir(&target).unwrap();
        let mut o = BTreeMap::new();
        o.insert("type".to_string(), "tmpfs".to_string());
        o.insert("device".to_string(), "tmpfs".to_string());
        o.insert("o".to_string(), "size=1m".to_string());
        mount_options("t", &target, &o).unwrap();
        assert!(is_mounted(&target));
        // Idempotent.
        mount_options("t", &target, &o).unwrap();
        unmount(&target).unwrap();
        assert!(!is_mounted(&target));
    }
}
