//! Resolve a path inside a container root without ever leaving it: symlinks
//! (absolute or relative, with `..`) are interpreted relative to the root, as
//! if the process were chrooted there.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 40;

/// Resolve `path` (interpreted inside `root`) to a host path under `root`,
/// following symlinks within the root. Missing trailing components are kept
/// as-is, so the result may not exist. Fails only on a symlink loop.
pub fn resolve_in_root(root: &Path, path: &Path) -> std::io::Result<PathBuf> {
    // Components still to walk, in reverse order (stack).
    let mut pending: Vec<PathBuf> = vec![path.to_path_buf()];
    let mut current = PathBuf::new(); // relative to root, always normalized
    let mut links = 0usize;
    while let Some(p) = pending.pop() {
        let mut comps: Vec<Component> = p.components().collect();
        comps.reverse();
        while let Some(c) = comps.pop() {
            match c {
                Component::RootDir | Component::Prefix(_) => current = PathBuf::new(),
                Component::CurDir => {}
                Component::ParentDir => {
                    current.pop();
                }
                Component::Normal(name) => {
                    let candidate = current.join(name);
                    let host = root.join(&candidate);
                    match std::fs::symlink_metadata(&host) {
                        Ok(md) if md.file_type().is_symlink() => {
                            links += 1;
                            if links > MAX_SYMLINKS {
                                return Err(std::io::Error::other(format!(
                                    "too many levels of symbolic links resolving {}",
                                    path.display()
                                )));
                            }
                            let target = std::fs::read_link(&host)?;
                            // Re-queue the rest of this path after the link target.
                            let rest: PathBuf = comps.iter().rev().map(|c| c.as_os_str()).collect();
                            comps.clear();
                            if !rest.as_os_str().is_empty() {
                                pending.push(rest);
                            }
                            pending.push(target);
                            break;
                        }
                        _ => current = candidate,
                    }
                }
            }
        }
    }
    Ok(root.join(current))
}

/// Read a small file inside `root` (symlinks resolved within the root);
/// `Ok(None)` when it does not exist.
pub fn read_in_root(root: &Path, path: &str) -> std::io::Result<Option<String>> {
    let host = resolve_in_root(root, Path::new(path))?;
    match std::fs::read(&host) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `name` is a single normal path component.
pub fn is_plain_name(name: &OsStr) -> bool {
    let p = Path::new(name);
    let mut c = p.components();
    matches!((c.next(), c.next()), (Some(Component::Normal(_)), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("etc/real")).unwrap();
        std::fs::write(root.join("etc/real/passwd"), "x").unwrap();
        symlink("/etc/real/passwd", root.join("etc/passwd")).unwrap();
        symlink("../../../../../../etc/shadow", root.join("etc/evil")).unwrap();
        symlink("/", root.join("etc/up")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/etc/passwd")).unwrap(),
            root.join("etc/real/passwd")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/etc/evil")).unwrap(),
            root.join("etc/shadow")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/etc/up/etc/real/passwd")).unwrap(),
            root.join("etc/real/passwd")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("../../x")).unwrap(),
            root.join("x")
        );
        assert!(resolve_in_root(root, Path::new("/loop")).is_err());
        assert_eq!(
            read_in_root(root, "/etc/passwd").unwrap().as_deref(),
            Some("x")
        );
        assert_eq!(read_in_root(root, "/etc/none").unwrap(), None);
        assert!(is_plain_name(OsStr::new("abc")));
        assert!(!is_plain_name(OsStr::new("../abc")));
        assert!(!is_plain_name(OsStr::new("a/b")));
    }
}
