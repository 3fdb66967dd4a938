//! The `/archive` endpoints on paths inside a container's volumes and bind mounts: those live
//! outside the rootfs overlay, so the operation runs on the mount's host directory instead
//! (dockerd mounts them into the rootfs for the operation; the files seen are the same).

use std::path::{Component, Path, PathBuf};

use crate::mounts::MountRecord;

/// Where an archive path lies: the host directory to resolve it in, the path inside that
/// directory, and whether it may be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArchiveRoot {
    /// A volume's or bind's host directory; `None`: the container's rootfs.
    pub source: Option<PathBuf>,
    /// The path relative to `source` (absolute, `/` for the mount point itself).
    pub path: String,
    /// False for a read-only mount.
    pub rw: bool,
}

/// Lexically clean `path` into its normal components (`..` never goes above `/`).
fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The mount (bind or volume, the deepest one) that holds `path`, if any. A trailing `/.`
/// of `path` is kept, as the archive endpoints give it a meaning.
pub(crate) fn archive_root(mounts: &[MountRecord], path: &str) -> ArchiveRoot {
    let wanted = components(path);
    let best = mounts
        .iter()
        .filter(|m| m.kind == "bind" || m.kind == "volume")
        .filter(|m| !m.source.is_empty())
        .map(|m| (m, components(&m.destination)))
        .filter(|(_, dest)| !dest.is_empty() && wanted.starts_with(dest))
        .max_by_key(|(_, dest)| dest.len());
    match best {
        None => ArchiveRoot {
            source: None,
            path: path.to_string(),
            rw: true,
        },
        Some((m, dest)) => {
            let mut rest = format!("/{}", wanted[dest.len()..].join("/"));
            if path.ends_with("/.") {
                rest = if rest == "/" {
                    "/.".into()
                } else {
                    format!("{rest}/.")
                };
            }
            ArchiveRoot {
                source: Some(PathBuf::from(&m.source)),
                path: rest,
                rw: m.rw,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(kind: &str, source: &str, destination: &str, rw: bool) -> MountRecord {
        MountRecord {
            kind: kind.into(),
            source: source.into(),
            destination: destination.into(),
            rw,
            ..Default::default()
        }
    }

    #[test]
    fn paths_under_a_mount_go_to_its_source() {
        let mounts = vec![
            mount("volume", "/v/data", "/vol1", true),
            mount("bind", "/host/deep", "/vol1/deep", false),
            mount("tmpfs", "", "/run", true),
        ];
        let r = archive_root(&mounts, "/vol1/data.txt");
        assert_eq!(r.source, Some(PathBuf::from("/v/data")));
        assert_eq!(r.path, "/data.txt");
        let r = archive_root(&mounts, "/vol1/deep/x/../y");
        assert_eq!(r.source, Some(PathBuf::from("/host/deep")));
        assert_eq!(r.path, "/y");
        assert!(!r.rw);
        let r = archive_root(&mounts, "/vol1");
        assert_eq!(r.path, "/");
        let r = archive_root(&mounts, "/vol1/.");
        assert_eq!(r.path, "/.");
        let r = archive_root(&mounts, "/vol10/x");
        assert_eq!(r.source, None);
        assert_eq!(r.path, "/vol10/x");
        assert_eq!(archive_root(&mounts, "/run/x").source, None);
    }
}
