//! Resolving paths inside a root directory as if it were `/` (chroot
//! semantics): `..` stops at the root, symlinks are followed with absolute
//! targets taken relative to the root. Nothing resolved here can name a
//! path outside the root.

use crate::error::{IoContext, StoreError};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};

/// Most symlinks followed while resolving one path (as Linux's ELOOP).
const MAX_SYMLINKS: usize = 40;

/// Split `p` into normal components, applying `..` lexically. Returns
/// `None` when `..` would climb above the start (the path escapes).
/// Absolute paths are taken as relative (`/etc/x` = `etc/x`).
pub(crate) fn lexical_components(p: &Path) -> Option<Vec<OsString>> {
    let mut out: Vec<OsString> = Vec::new();
    for c in p.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::Normal(n) => out.push(n.to_os_string()),
        }
    }
    Some(out)
}

/// What to do with missing directories while walking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Create them (mode 0755).
    Create,
    /// Fail with "not found".
    Fail,
}

/// Walk `comps` from `start` (components relative to `root`, already
/// resolved) inside `root`, following symlinks with chroot semantics.
/// Every component must end up a directory. Returns the resolved
/// components relative to `root`.
pub(crate) fn walk_dirs(
    root: &Path,
    start: &[OsString],
    comps: &[OsString],
    missing: Missing,
) -> Result<Vec<OsString>, StoreError> {
    let mut cur: Vec<OsString> = start.to_vec();
    let mut pending: VecDeque<OsString> = comps.iter().cloned().collect();
    let mut hops = 0;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            cur.pop();
            continue;
        }
        if c == "." || c.is_empty() {
            continue;
        }
        let host = join(root, &cur).join(&c);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(StoreError::BadArchive(format!(
                        "too many levels of symbolic links resolving {}",
                        host.display()
                    )));
                }
                let target = std::fs::read_link(&host).ctx("reading symlink", &host)?;
                if target.is_absolute() {
                    cur.clear();
                }
                let mut parts: Vec<OsString> = Vec::new();
                for tc in target.components() {
                    match tc {
                        Component::Normal(n) => parts.push(n.to_os_string()),
                        Component::ParentDir => parts.push(OsString::from("..")),
                        _ => {}
                    }
                }
                for p in parts.into_iter().rev() {
                    pending.push_front(p);
                }
            }
            Ok(m) if m.is_dir() => cur.push(c),
            Ok(_) => {
                return Err(StoreError::BadArchive(format!(
                    "{} is not a directory",
                    display_rel(&cur, &c)
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match missing {
                Missing::Create => {
                    std::fs::create_dir(&host).ctx("creating directory", &host)?;
                    cur.push(c);
                }
                Missing::Fail => return Err(StoreError::PathNotFound(display_rel(&cur, &c))),
            },
            Err(e) => return Err(e).ctx("inspecting", &host),
        }
    }
    Ok(cur)
}

/// `root` joined with components.
pub(crate) fn join(root: &Path, comps: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    for c in comps {
        p.push(c);
    }
    p
}

fn display_rel(cur: &[OsString], last: &OsStr) -> String {
    let mut s = String::new();
    for c in cur
        .iter()
        .map(|c| c.as_os_str())
        .chain(std::iter::once(last))
    {
        s.push('/');
        s.push_str(&c.to_string_lossy());
    }
    s
}

/// Resolve `path` inside `root`: parent components are followed (chroot
/// semantics), the last component is not (it may be a symlink). Missing
/// parents fail. Returns the resolved components (parent dirs + last).
pub(crate) fn resolve_parent_of(
    root: &Path,
    path: &Path,
) -> Result<(Vec<OsString>, Option<OsString>), StoreError> {
    // Lexical first but clamped at the root, as a chroot would.
    let mut comps: Vec<OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                comps.pop();
            }
            Component::Normal(n) => comps.push(n.to_os_string()),
            _ => {}
        }
    }
    let last = comps.pop();
    let parent = walk_dirs(root, &[], &comps, Missing::Fail)?;
    Ok((parent, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn lexical() {
        assert_eq!(
            lexical_components(Path::new("/a/./b/../c")).unwrap(),
            ["a", "c"]
        );
        assert!(lexical_components(Path::new("../x")).is_none());
        assert!(lexical_components(Path::new("a/../../x")).is_none());
    }

    #[test]
    fn symlinks_stay_inside_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../..", root.join("up")).unwrap();
        symlink("real", root.join("rel")).unwrap();
        let r = walk_dirs(&root, &[], &["abs".into()], Missing::Create).unwrap();
        assert_eq!(r, ["etc"]);
        assert!(root.join("etc").is_dir(), "created inside the root");
        let r = walk_dirs(&root, &[], &["up".into(), "tmp".into()], Missing::Create).unwrap();
        assert_eq!(r, ["tmp"]);
        let r = walk_dirs(&root, &[], &["rel".into()], Missing::Fail).unwrap();
        assert_eq!(r, ["real"]);
        symlink("loop", root.join("loop")).unwrap();
        assert!(walk_dirs(&root, &[], &["loop".into()], Missing::Fail).is_err());
    }
}
