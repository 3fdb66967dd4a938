//! The build context kept as one tar file (the spool) plus an index of its
//! entries, so that cache keys, globs, the Dockerfile and `.dockerignore`
//! come from the index and nothing is extracted unless a COPY/ADD misses
//! the cache. Then only the entries it needs are extracted, by feeding
//! their raw tar bytes to the store's safe extraction (the same code, and
//! the same safety rules, as a full extraction).
//!
//! Only plain trees are indexed: regular files, directories, symlinks and
//! hard links to regular files, each name valid UTF-8, none below a
//! symlink or a file, no name twice (except directories) and none
//! climbing out with `..`. Anything else makes [`ContextIndex::build`]
//! return `None` and the caller extracts the whole context as before, so
//! odd or hostile tars get exactly the old treatment (and errors).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest as _, Sha256};

use super::tree::{join_rel, Node, NodeKind, Tree};
use crate::error::{EngineError, Result};

/// One indexed entry.
#[derive(Debug)]
struct Entry {
    node: Node,
    /// Where the entry's raw bytes (extension headers included) are in the
    /// spool; `None` for directories only implied by their children.
    chunk: Option<(u64, u64)>,
    /// Offset of the content of a file (its link target's for a hard link).
    data: u64,
    /// The target of a hard link.
    hard: Option<String>,
    /// The content's sha256, computed on first use.
    digest: OnceLock<[u8; 32]>,
}

/// A context tar on disk and what is in it.
pub(crate) struct ContextIndex {
    spool: File,
    /// Where entries are materialized.
    dir: PathBuf,
    entries: BTreeMap<String, Entry>,
    children: BTreeMap<String, BTreeSet<String>>,
    /// Paths already extracted into `dir`.
    extracted: Mutex<HashSet<String>>,
}

fn dir_node(mode: u32) -> Node {
    Node {
        kind: NodeKind::Dir,
        mode,
        size: 0,
        link: String::new(),
    }
}

impl ContextIndex {
    /// Index the tar at `spool`, to be materialized under `dir`. `Ok(None)`
    /// when the tar is not a plain tree (see the module docs).
    pub(crate) fn build(spool: &Path, dir: &Path) -> Result<Option<ContextIndex>> {
        let file = File::open(spool)
            .map_err(|e| EngineError::io(format!("open {}", spool.display()), e))?;
        let reader = File::open(spool)
            .map_err(|e| EngineError::io(format!("open {}", spool.display()), e))?;
        let mut ix = ContextIndex {
            spool: file,
            dir: dir.to_path_buf(),
            entries: BTreeMap::new(),
            children: BTreeMap::new(),
            extracted: Mutex::new(HashSet::new()),
        };
        ix.entries.insert(String::new(), Self::implied_root());
        let mut archive = tar::Archive::new(BufReader::with_capacity(64 * 1024, reader));
        let Ok(entries) = archive.entries_with_seek() else {
            return Ok(None);
        };
        let mut prev_end = 0u64;
        for entry in entries {
            let Ok(entry) = entry else {
                return Ok(None);
            };
            let start = prev_end;
            let data = entry.raw_file_position();
            let size = entry.size();
            let end = data + size.div_ceil(512) * 512;
            prev_end = end;
            let kind = entry.header().entry_type();
            if kind.is_pax_global_extensions() {
                continue;
            }
            let Ok(name) = entry.path() else {
                return Ok(None);
            };
            let Some(name) = name.to_str().and_then(super::sources::clean_rel) else {
                return Ok(None);
            };
            let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
            let link = match entry.link_name() {
                Ok(Some(l)) => match l.to_str() {
                    Some(s) => s.to_string(),
                    None => return Ok(None),
                },
                Ok(None) => String::new(),
                Err(_) => return Ok(None),
            };
            use tar::EntryType as T;
            let (node, hard) = match kind {
                T::Regular | T::Continuous => (
                    Node {
                        kind: NodeKind::File,
                        mode,
                        size,
                        link: String::new(),
                    },
                    None,
                ),
                T::Directory => (dir_node(mode), None),
                T::Symlink => (
                    Node {
                        kind: NodeKind::Symlink,
                        mode: 0o777,
                        size: link.len() as u64,
                        link,
                    },
                    None,
                ),
                T::Link => {
                    let Some(target) = super::sources::clean_rel(&link) else {
                        return Ok(None);
                    };
                    match ix.entries.get(&target) {
                        Some(t) if t.node.kind == NodeKind::File => (t.node.clone(), Some(target)),
                        _ => return Ok(None),
                    }
                }
                _ => return Ok(None),
            };
            let data = match &hard {
                Some(t) => ix.entries.get(t).map(|e| e.data).unwrap_or(data),
                None => data,
            };
            if !ix.insert(name, node, (start, end), data, hard) {
                return Ok(None);
            }
        }
        Ok(Some(ix))
    }

    fn implied_root() -> Entry {
        Entry {
            node: dir_node(0o755),
            chunk: None,
            data: 0,
            hard: None,
            digest: OnceLock::new(),
        }
    }

    /// Add an entry; false when the tree is not plain.
    fn insert(
        &mut self,
        name: String,
        node: Node,
        chunk: (u64, u64),
        data: u64,
        hard: Option<String>,
    ) -> bool {
        if name.is_empty() {
            // The root itself: only a directory may stand there.
            if node.kind != NodeKind::Dir {
                return false;
            }
            if let Some(r) = self.entries.get_mut("") {
                r.node.mode = node.mode;
            }
            return true;
        }
        // Parents must be directories (created when only implied).
        let mut parent = String::new();
        let parts: Vec<&str> = name.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            let child = join_rel(&parent, p);
            match self.entries.get(&child) {
                Some(e) if e.node.kind != NodeKind::Dir => return false,
                Some(_) => {}
                None => {
                    self.entries.insert(
                        child.clone(),
                        Entry {
                            node: dir_node(0o755),
                            ..Self::implied_root()
                        },
                    );
                    self.children
                        .entry(parent.clone())
                        .or_default()
                        .insert(p.to_string());
                }
            }
            parent = child;
        }
        if let Some(old) = self.entries.get_mut(&name) {
            if old.node.kind != NodeKind::Dir || node.kind != NodeKind::Dir {
                return false;
            }
            old.node.mode = node.mode;
            old.chunk = Some(chunk);
            return true;
        }
        let last = parts[parts.len() - 1].to_string();
        self.children.entry(parent).or_default().insert(last);
        self.entries.insert(
            name,
            Entry {
                node,
                chunk: Some(chunk),
                data,
                hard,
                digest: OnceLock::new(),
            },
        );
        true
    }

    /// Extract `paths` (and everything below them, their parents and the
    /// targets of hard links among them) into the context dir, unless
    /// already there.
    pub(crate) fn materialize(&self, paths: &[String]) -> Result<()> {
        let mut want: BTreeSet<&str> = BTreeSet::new();
        for p in paths {
            let Some((key, _)) = self.entries.get_key_value(p.as_str()) else {
                continue;
            };
            // Parents first (their modes), then the subtree.
            let mut cur = key.as_str();
            while let Some((parent, _)) = cur.rsplit_once('/') {
                want.insert(parent);
                cur = parent;
            }
            want.insert(key.as_str());
            if key.is_empty() {
                want.extend(self.entries.keys().map(String::as_str));
            } else {
                let prefix = format!("{key}/");
                want.extend(
                    self.entries
                        .range::<str, _>((
                            std::ops::Bound::Included(prefix.as_str()),
                            std::ops::Bound::Unbounded,
                        ))
                        .take_while(|(k, _)| k.starts_with(&prefix))
                        .map(|(k, _)| k.as_str()),
                );
            }
        }
        // Hard link targets (and their parents) come along.
        let links: Vec<&str> = want
            .iter()
            .filter_map(|k| self.entries.get(*k).and_then(|e| e.hard.as_deref()))
            .collect();
        for t in links {
            let mut cur = t;
            while let Some((parent, _)) = cur.rsplit_once('/') {
                want.insert(parent);
                cur = parent;
            }
            want.insert(t);
        }
        let mut done = self
            .extracted
            .lock()
            .map_err(|_| EngineError::system("the build context index is poisoned"))?;
        let mut chunks: Vec<(u64, u64)> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for k in want {
            if done.contains(k) {
                continue;
            }
            if let Some(c) = self.entries.get(k).and_then(|e| e.chunk) {
                chunks.push(c);
            }
            names.push(k.to_string());
        }
        if names.is_empty() {
            return Ok(());
        }
        chunks.sort_unstable();
        chunks.dedup();
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| EngineError::io(format!("mkdir {}", self.dir.display()), e))?;
        let reader = Chunks {
            file: &self.spool,
            chunks,
            i: 0,
            pos: 0,
        }
        .chain(std::io::repeat(0).take(1024));
        berth_store::fs::extract_into(reader, &self.dir, Path::new("/"))
            .map_err(|e| EngineError::invalid(format!("failed to read the build context: {e}")))?;
        done.extend(names);
        Ok(())
    }
}

/// Byte ranges of a file, read in order.
struct Chunks<'f> {
    file: &'f File,
    chunks: Vec<(u64, u64)>,
    i: usize,
    pos: u64,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(&(start, end)) = self.chunks.get(self.i) {
            let at = start + self.pos;
            if at >= end {
                self.i += 1;
                self.pos = 0;
                continue;
            }
            let n = ((end - at) as usize).min(buf.len());
            let got = self.file.read_at(&mut buf[..n], at)?;
            if got == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the build context spool is truncated",
                ));
            }
            self.pos += got as u64;
            return Ok(got);
        }
        Ok(0)
    }
}

impl Tree for ContextIndex {
    fn lstat(&self, rel: &str) -> Option<Node> {
        self.entries.get(rel).map(|e| e.node.clone())
    }

    fn names(&self, rel: &str) -> Result<Vec<String>> {
        Ok(self
            .children
            .get(rel)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default())
    }

    fn digest(&self, rel: &str) -> Result<[u8; 32]> {
        let e = self
            .entries
            .get(rel)
            .ok_or_else(|| EngineError::invalid(format!("stat {rel}: file does not exist")))?;
        if let Some(d) = e.digest.get() {
            return Ok(*d);
        }
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut at = e.data;
        let end = e.data + e.node.size;
        while at < end {
            let n = ((end - at) as usize).min(buf.len());
            let got = self
                .spool
                .read_at(&mut buf[..n], at)
                .map_err(|err| EngineError::io(format!("reading {rel} from the context"), err))?;
            if got == 0 {
                return Err(EngineError::invalid("the build context spool is truncated"));
            }
            h.update(&buf[..got]);
            at += got as u64;
        }
        let d: [u8; 32] = h.finalize().into();
        let _ = e.digest.set(d);
        Ok(d)
    }

    fn read(&self, rel: &str, limit: u64) -> Result<Vec<u8>> {
        let e = self
            .entries
            .get(rel)
            .ok_or_else(|| EngineError::invalid(format!("stat {rel}: file does not exist")))?;
        let n = e.node.size.min(limit) as usize;
        let mut out = vec![0u8; n];
        self.spool
            .read_exact_at(&mut out, e.data)
            .map_err(|err| EngineError::io(format!("reading {rel} from the context"), err))?;
        Ok(out)
    }

    fn host(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(rel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::tree::{resolve, DiskTree};

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8], mode: u32) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }

    fn special(b: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o755);
        h.set_entry_type(kind);
        b.append_link(&mut h, name, link).unwrap();
    }

    fn index(t: &[u8]) -> (tempfile::TempDir, Option<ContextIndex>) {
        let d = tempfile::tempdir().unwrap();
        let spool = d.path().join("ctx.tar");
        std::fs::write(&spool, t).unwrap();
        let ix = ContextIndex::build(&spool, &d.path().join("ctx")).unwrap();
        (d, ix)
    }

    #[test]
    fn indexes_and_materializes_only_what_is_asked() {
        let long = format!("deep/{}/f", "x".repeat(150));
        let t = tar_of(|b| {
            file(b, "a/one", b"1", 0o600);
            file(b, "./b/two", b"22", 0o644);
            file(b, &long, b"long", 0o644);
            special(b, "b/link", tar::EntryType::Symlink, "../a/one");
            special(b, "b/hard", tar::EntryType::Link, "a/one");
        });
        let (_d, ix) = index(&t);
        let ix = ix.expect("a plain tree");
        assert_eq!(ix.names("").unwrap(), vec!["a", "b", "deep"]);
        assert_eq!(ix.lstat("b/two").unwrap().size, 2);
        assert_eq!(ix.lstat("b/hard").unwrap().mode, 0o600);
        assert_eq!(ix.read(&long, 100).unwrap(), b"long");
        assert_eq!(resolve(&ix, "b/link", true).unwrap(), "a/one");
        ix.materialize(&["b".to_string()]).unwrap();
        let disk = DiskTree::new(ix.host(""));
        assert_eq!(std::fs::read(ix.host("b/two")).unwrap(), b"22");
        assert_eq!(std::fs::read(ix.host("b/hard")).unwrap(), b"1");
        assert!(!ix.host(&long).exists());
        // Same hashes on disk and in the index.
        for p in ["b/two", "b/hard"] {
            assert_eq!(disk.digest(p).unwrap(), ix.digest(p).unwrap(), "{p}");
            assert_eq!(disk.lstat(p), ix.lstat(p), "{p}");
        }
        assert_eq!(disk.lstat("b/link"), ix.lstat("b/link"));
        ix.materialize(&[long.clone(), "b".to_string()]).unwrap();
        assert_eq!(std::fs::read(ix.host(&long)).unwrap(), b"long");
    }

    #[test]
    fn odd_trees_are_not_indexed() {
        let escape = {
            let mut t = Vec::new();
            let mut h = tar::Header::new_gnu();
            h.as_gnu_mut().unwrap().name[..6].copy_from_slice(b"../evi");
            h.set_size(0);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            t.extend_from_slice(h.as_bytes());
            t.extend_from_slice(&[0u8; 1024]);
            t
        };
        assert!(index(&escape).1.is_none());
        let below_symlink = tar_of(|b| {
            special(b, "l", tar::EntryType::Symlink, "/etc");
            file(b, "l/passwd", b"x", 0o644);
        });
        assert!(index(&below_symlink).1.is_none());
        let twice = tar_of(|b| {
            file(b, "f", b"1", 0o644);
            file(b, "f", b"2", 0o644);
        });
        assert!(index(&twice).1.is_none());
        let fifo = tar_of(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Fifo);
            b.append_data(&mut h, "p", &[][..]).unwrap();
        });
        assert!(index(&fifo).1.is_none());
    }
}
