//! A read-only view of a file tree for COPY/ADD sources: a directory on
//! disk (a `--from` image's mount, a fully extracted context) or the index
//! of a context tar ([`super::index::ContextIndex`]). Paths are relative to
//! the tree's root, `/`-separated, already cleaned (`""` is the root).

use std::collections::VecDeque;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use super::sources::{io_err, sorted_names};
use crate::error::{EngineError, Result};

/// Most symlinks followed while resolving one path (as Linux's ELOOP).
const MAX_SYMLINKS: usize = 40;

/// The type of a tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (devices, fifos, sockets): never copied.
    Other,
}

/// What an `lstat` of a tree entry says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub kind: NodeKind,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Content size of a file, target length of a symlink, 0 otherwise.
    pub size: u64,
    /// A symlink's target (empty otherwise).
    pub link: String,
}

/// A tree COPY sources are looked up in.
pub(crate) trait Tree: Send + Sync {
    /// The entry at `rel` (symlinks not followed), if any.
    fn lstat(&self, rel: &str) -> Option<Node>;
    /// The sorted names in directory `rel`.
    fn names(&self, rel: &str) -> Result<Vec<String>>;
    /// The sha256 of regular file `rel`'s content.
    fn digest(&self, rel: &str) -> Result<[u8; 32]>;
    /// The content of regular file `rel`, up to `limit` bytes.
    fn read(&self, rel: &str, limit: u64) -> Result<Vec<u8>>;
    /// Where `rel` is (or will be, once materialized) on the host.
    fn host(&self, rel: &str) -> PathBuf;
}

/// Join a directory path and a name.
pub(crate) fn join_rel(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Resolve `path` inside `tree` as if its root were `/`: `..` stops at the
/// root, symlinks in the parents are followed (absolute targets relative
/// to the root), the last one too when `follow_last`. Missing components
/// are kept as they are (the result then does not exist).
pub(crate) fn resolve(tree: &dyn Tree, path: &str, follow_last: bool) -> Result<String> {
    let mut pending: VecDeque<String> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect();
    let mut cur: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            cur.pop();
            continue;
        }
        if c.is_empty() || c == "." {
            continue;
        }
        let cand = join_rel(&cur.join("/"), &c);
        match tree.lstat(&cand) {
            Some(n) if n.kind == NodeKind::Symlink && (follow_last || !pending.is_empty()) => {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(EngineError::invalid("too many levels of symbolic links"));
                }
                if n.link.starts_with('/') {
                    cur.clear();
                }
                let mut next: VecDeque<String> = n
                    .link
                    .split('/')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
                next.extend(pending);
                pending = next;
            }
            _ => cur.push(c),
        }
    }
    Ok(cur.join("/"))
}

/// A directory on the host seen as a tree.
pub(crate) struct DiskTree {
    root: PathBuf,
}

impl DiskTree {
    /// The tree rooted at `root`.
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        DiskTree { root: root.into() }
    }
}

impl Tree for DiskTree {
    fn lstat(&self, rel: &str) -> Option<Node> {
        let p = self.host(rel);
        let md = std::fs::symlink_metadata(&p).ok()?;
        let ft = md.file_type();
        let (kind, size, link) = if ft.is_symlink() {
            let t = std::fs::read_link(&p).ok()?;
            let t = t.to_string_lossy().into_owned();
            (NodeKind::Symlink, t.len() as u64, t)
        } else if ft.is_file() {
            (NodeKind::File, md.len(), String::new())
        } else if ft.is_dir() {
            (NodeKind::Dir, 0, String::new())
        } else {
            (NodeKind::Other, 0, String::new())
        };
        Some(Node {
            kind,
            mode: md.mode() & 0o7777,
            size,
            link,
        })
    }

    fn names(&self, rel: &str) -> Result<Vec<String>> {
        sorted_names(&self.host(rel))
    }

    fn digest(&self, rel: &str) -> Result<[u8; 32]> {
        let p = self.host(rel);
        let mut file =
            std::fs::File::open(&p).map_err(|e| io_err(format!("open {}", p.display()), e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| io_err(format!("read {}", p.display()), e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h.finalize().into())
    }

    fn read(&self, rel: &str, limit: u64) -> Result<Vec<u8>> {
        let p = self.host(rel);
        let file =
            std::fs::File::open(&p).map_err(|e| io_err(format!("open {}", p.display()), e))?;
        let mut out = Vec::new();
        file.take(limit)
            .read_to_end(&mut out)
            .map_err(|e| io_err(format!("read {}", p.display()), e))?;
        Ok(out)
    }

    fn host(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_with_chroot_semantics() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/b/f"), "x").unwrap();
        std::os::unix::fs::symlink("/a", d.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../a/b", d.path().join("a/up")).unwrap();
        std::os::unix::fs::symlink("loop", d.path().join("loop")).unwrap();
        let t = DiskTree::new(d.path());
        assert_eq!(resolve(&t, "abs/b/f", true).unwrap(), "a/b/f");
        assert_eq!(resolve(&t, "a/up/f", true).unwrap(), "a/b/f");
        assert_eq!(resolve(&t, "../../a/./b", true).unwrap(), "a/b");
        assert_eq!(resolve(&t, "abs", false).unwrap(), "abs");
        assert_eq!(resolve(&t, "abs", true).unwrap(), "a");
        assert!(resolve(&t, "loop", true).is_err());
        assert_eq!(t.lstat("a/b/f").unwrap().size, 1);
        assert_eq!(t.names("a").unwrap(), vec!["b", "up"]);
    }
}
