//! Volumes with local driver options (`-o type=tmpfs -o device=tmpfs -o
//! o=size=64m`, `type=nfs`, ...): their file system is mounted on the
//! volume's `_data` while a container uses it, as dockerd's local driver does.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Result, VolumeError};

/// Where the kernel lists this process's mounts.
const MOUNTINFO: &str = "/proc/self/mountinfo";
/// How many mounts stacked on one `_data` [`unmount`] takes off at most.
const MAX_STACKED: usize = 64;

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

/// Undo the octal escapes (`\040` for a space, ...) of a mountinfo field.
fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let digits = b.get(i + 1..i + 4);
        match digits {
            Some(d) if b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// The mount points of a mountinfo text (field 5 of each line).
fn parse_mountinfo(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .collect()
}

/// Every mount point of this process's mount namespace, from
/// `/proc/self/mountinfo`.
pub fn mount_points() -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(MOUNTINFO)
        .map_err(|e| VolumeError::io(format!("read {MOUNTINFO}"), e))?;
    Ok(parse_mountinfo(&text))
}

/// `path` with its symlinks resolved, as mountinfo shows it (`None` when
/// it does not exist).
fn canonical(path: &Path) -> Result<Option<PathBuf>> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(VolumeError::io(format!("resolve {}", path.display()), e)),
    }
}

/// Whether something is mounted exactly at `path` (a mount point of
/// `/proc/self/mountinfo`, so a bind mount of a directory of the same file
/// system counts too).
pub fn is_mounted(path: &Path) -> Result<bool> {
    let Some(p) = canonical(path)? else {
        return Ok(false);
    };
    Ok(mount_points()?.contains(&p))
}

/// The mount points at `dir` or below it.
pub fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let Some(d) = canonical(dir)? else {
        return Ok(Vec::new());
    };
    Ok(mount_points()?
        .into_iter()
        .filter(|m| m.starts_with(&d))
        .collect())
}

/// Mount what `options` describe on `target` unless something is mounted there.
pub fn mount_options(name: &str, target: &Path, options: &BTreeMap<String, String>) -> Result<()> {
    if is_mounted(target)? {
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

/// Unmount every file system mounted at a volume's `_data` (binds stacked
/// there included), failing if one is still mounted after that.
pub fn unmount(target: &Path) -> Result<()> {
    for _ in 0..MAX_STACKED {
        if !is_mounted(target)? {
            return Ok(());
        }
        umount2(target, MntFlags::MNT_DETACH)
            .map_err(|e| VolumeError::io(format!("unmount {}", target.display()), e.into()))?;
    }
    if is_mounted(target)? {
        return Err(VolumeError::Mounted(target.to_path_buf()));
    }
    Ok(())
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
    fn mountinfo_fields_are_unescaped() {
        let text = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                    40 22 8:1 /h /var/a\\040b rw - ext4 /dev/sda1 rw\n";
        assert_eq!(
            parse_mountinfo(text),
            vec![PathBuf::from("/"), PathBuf::from("/var/a b")]
        );
        assert_eq!(unescape("x\\134y\\0"), PathBuf::from("x\\y\\0"));
    }

    #[test]
    fn mounts_a_tmpfs_volume() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("_data");
        std::fs::create_dir(&target).unwrap();
        let mut o = BTreeMap::new();
        o.insert("type".to_string(), "tmpfs".to_string());
        o.insert("device".to_string(), "tmpfs".to_string());
        o.insert("o".to_string(), "size=1m".to_string());
        mount_options("t", &target, &o).unwrap();
        assert!(is_mounted(&target).unwrap());
        // Idempotent.
        mount_options("t", &target, &o).unwrap();
        unmount(&target).unwrap();
        assert!(!is_mounted(&target).unwrap());
    }

    /// A bind of a directory of the same file system is a mount too: it is
    /// seen, not stacked by a second mount, and taken off by unmount.
    #[test]
    fn same_device_bind_is_seen_and_unmounted() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host");
        let target = dir.path().join("vol/_data");
        std::fs::create_dir(&host).unwrap();
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(host.join("keep"), b"k").unwrap();
        let mut o = BTreeMap::new();
        o.insert("type".to_string(), "none".to_string());
        o.insert("o".to_string(), "bind".to_string());
        o.insert("device".to_string(), host.to_string_lossy().into_owned());
        assert!(!is_mounted(&target).unwrap());
        mount_options("b", &target, &o).unwrap();
        mount_options("b", &target, &o).unwrap();
        assert!(is_mounted(&target).unwrap());
        let canon = std::fs::canonicalize(&target).unwrap();
        let count = mount_points()
            .unwrap()
            .iter()
            .filter(|m| **m == canon)
            .count();
        assert_eq!(count, 1, "binds stacked on {}", target.display());
        assert_eq!(
            mounts_under(&dir.path().join("vol")).unwrap(),
            vec![canon.clone()]
        );
        unmount(&target).unwrap();
        assert!(!is_mounted(&target).unwrap());
        assert!(mounts_under(&dir.path().join("vol")).unwrap().is_empty());
        assert_eq!(std::fs::read(host.join("keep")).unwrap(), b"k");
    }

    /// Binds stacked by hand are all taken off.
    #[test]
    fn unmount_takes_off_stacked_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("_data");
        std::fs::create_dir(&target).unwrap();
        for _ in 0..3 {
            mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::empty(),
                Some("size=1m"),
            )
            .unwrap();
        }
        unmount(&target).unwrap();
        assert!(!is_mounted(&target).unwrap());
    }
}
