//! A read-only view of a root filesystem made of one directory or of
//! overlay layers (top first), read without mounting anything.
//!
//! Hand-written rather than reusing `berth_store::fs::resolve_in_root`:
//! that resolver works on one directory, while a stopped container or an
//! image is a stack of layer directories whose whiteouts (char 0/0) and
//! opaque directories (`trusted.overlay.opaque`) must be honoured, and a
//! running container may swap a directory for a symlink while we read.
//! So every path is resolved here component by component in the *virtual*
//! root (symlinks followed with chroot semantics, `..` never above `/`),
//! and every host access is an `openat2` below a layer's directory with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`: the kernel refuses any symlink
//! on the host side, so nothing is ever read outside the layers.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};

use crate::error::EnvError;

/// How many symlinks one lookup may follow (Linux's limit).
const MAX_LINKS: usize = 40;

/// Why a path could not be read; becomes a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The path does not exist (not a warning by itself).
    Missing,
    /// A symlink on the way points above the root.
    Escapes,
    /// Too many levels of symlinks.
    Loop,
    /// Something other than the expected kind (a directory where a file is
    /// expected, a FIFO, a device...).
    WrongType(&'static str),
    /// The file is larger than the cap.
    TooLarge(u64),
    /// An I/O error.
    Io(String),
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Issue::Missing => write!(f, "no such file"),
            Issue::Escapes => write!(f, "a symlink points outside the root filesystem"),
            Issue::Loop => write!(f, "too many levels of symbolic links"),
            Issue::WrongType(t) => write!(f, "expected a regular file, found {t}"),
            Issue::TooLarge(n) => write!(f, "file too large ({n} bytes)"),
            Issue::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, FIFO, socket).
    Other,
}

/// One layer directory, opened once.
struct Layer {
    fd: OwnedFd,
}

/// What a resolved path is.
enum Node {
    /// A directory, with the layers (indexes, top first) that contribute to it.
    Dir(Vec<usize>),
    /// A non-directory found in one layer.
    Leaf(usize, FileType),
}

/// A resolved path: its components (no symlinks left) and what it is.
struct Resolved {
    comps: Vec<String>,
    node: Node,
}

/// A read-only root filesystem.
pub struct RootFs {
    layers: Vec<Layer>,
    /// Directories already looked up (path below the root → contributing
    /// layers): a capture reads many files in the same few directories.
    dirs: RefCell<HashMap<String, Vec<usize>>>,
}

fn io_issue(e: rustix::io::Errno) -> Issue {
    match e {
        rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR => Issue::Missing,
        rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => Issue::Escapes,
        e => Issue::Io(std::io::Error::from(e).to_string()),
    }
}

fn type_name(t: FileType) -> &'static str {
    match t {
        FileType::Directory => "a directory",
        FileType::Symlink => "a symlink",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        _ => "a special file",
    }
}

/// The relative host path of `comps` below a layer (`.` for the root).
fn rel(comps: &[String]) -> String {
    if comps.is_empty() {
        ".".to_string()
    } else {
        comps.join("/")
    }
}

/// Split a path into its non-empty components.
fn split(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

impl RootFs {
    /// A view of one directory as `/`.
    pub fn dir(path: &Path) -> Result<Self, EnvError> {
        Self::layered(&[path.to_path_buf()])
    }

    /// A view of overlay layers, `top_first[0]` being the top (a
    /// container's upper directory, or an image's last layer).
    pub fn layered(top_first: &[PathBuf]) -> Result<Self, EnvError> {
        let mut layers = Vec::with_capacity(top_first.len());
        for p in top_first {
            let fd = rustix::fs::open(
                p,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| EnvError::Root {
                path: p.clone(),
                source: e.into(),
            })?;
            layers.push(Layer { fd });
        }
        Ok(RootFs {
            layers,
            dirs: RefCell::new(HashMap::new()),
        })
    }

    /// Forget the directories looked up so far (a new capture sees the
    /// filesystem as it is now).
    pub fn forget(&self) {
        self.dirs.borrow_mut().clear();
    }

    fn open_in(&self, layer: usize, comps: &[String], flags: OFlags) -> Result<OwnedFd, Issue> {
        rustix::fs::openat2(
            &self.layers[layer].fd,
            rel(comps),
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(io_issue)
    }

    fn stat_in(&self, layer: usize, comps: &[String]) -> Result<rustix::fs::Stat, Issue> {
        let fd = self.open_in(layer, comps, OFlags::PATH)?;
        rustix::fs::fstat(&fd).map_err(io_issue)
    }

    fn is_opaque(&self, layer: usize, comps: &[String]) -> bool {
        let Ok(fd) = self.open_in(layer, comps, OFlags::RDONLY | OFlags::DIRECTORY) else {
            return false;
        };
        let mut buf = [0u8; 4];
        matches!(
            rustix::fs::fgetxattr(&fd, "trusted.overlay.opaque", &mut buf[..]),
            Ok(1) if buf[0] == b'y'
        )
    }

    fn readlink_in(&self, layer: usize, comps: &[String]) -> Result<String, Issue> {
        let fd = self.open_in(layer, comps, OFlags::PATH)?;
        let target = rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(io_issue)?;
        Ok(target.to_string_lossy().into_owned())
    }

    /// Look `name` up in the directory `dir` (contributed to by `layers`).
    /// Returns the layer and type of the top entry, and for a directory the
    /// layers below that merge into it.
    fn lookup_child(
        &self,
        dir: &[String],
        layers: &[usize],
        name: &str,
    ) -> Result<Option<(Node, usize)>, Issue> {
        let mut path = dir.to_vec();
        path.push(name.to_string());
        let key = path.join("/");
        if let Some(v) = self.dirs.borrow().get(&key) {
            return Ok(Some((Node::Dir(v.clone()), v[0])));
        }
        let mut found: Option<Vec<usize>> = None;
        for &l in layers {
            let st = match self.stat_in(l, &path) {
                Ok(st) => st,
                Err(Issue::Missing) => continue,
                Err(e) => return Err(e),
            };
            let ft = FileType::from_raw_mode(st.st_mode);
            let whiteout = ft == FileType::CharacterDevice && st.st_rdev == 0;
            match &mut found {
                None => {
                    if whiteout {
                        return Ok(None);
                    }
                    if ft != FileType::Directory {
                        return Ok(Some((Node::Leaf(l, ft), l)));
                    }
                    found = Some(vec![l]);
                    if self.is_opaque(l, &path) {
                        break;
                    }
                }
                Some(v) => {
                    if ft != FileType::Directory {
                        break;
                    }
                    v.push(l);
                    if self.is_opaque(l, &path) {
                        break;
                    }
                }
            }
        }
        Ok(found.map(|v| {
            let top = v[0];
            self.dirs.borrow_mut().insert(key, v.clone());
            (Node::Dir(v), top)
        }))
    }

    /// Resolve `path` in the virtual root; `follow_last` follows a final symlink.
    fn resolve(&self, path: &str, follow_last: bool) -> Result<Resolved, Issue> {
        let all: Vec<usize> = (0..self.layers.len()).collect();
        // Stack of resolved directories: (components, contributing layers).
        let mut stack: Vec<(String, Vec<usize>)> = Vec::new();
        let mut todo: Vec<String> = split(path).rev().map(str::to_string).collect();
        let mut links = 0;
        let mut leaf: Option<(usize, FileType)> = None;
        while let Some(name) = todo.pop() {
            if leaf.is_some() {
                return Err(Issue::Missing);
            }
            if name == ".." {
                // `..` of `/` in a path we were given stays at `/`; only
                // symlink targets are checked for escapes (below).
                stack.pop();
                continue;
            }
            let comps: Vec<String> = stack.iter().map(|(c, _)| c.clone()).collect();
            let layers = stack.last().map(|(_, l)| l.clone()).unwrap_or(all.clone());
            let Some((node, top)) = self.lookup_child(&comps, &layers, &name)? else {
                return Err(Issue::Missing);
            };
            match node {
                Node::Dir(v) => stack.push((name, v)),
                Node::Leaf(_, FileType::Symlink) if follow_last || !todo.is_empty() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Issue::Loop);
                    }
                    let mut p = comps.clone();
                    p.push(name);
                    let target = self.readlink_in(top, &p)?;
                    if target.starts_with('/') {
                        stack.clear();
                    } else {
                        // A relative target must not climb above the root.
                        let mut depth = stack.len() as i64;
                        for c in split(&target) {
                            depth += if c == ".." { -1 } else { 1 };
                            if depth < 0 {
                                return Err(Issue::Escapes);
                            }
                        }
                    }
                    todo.extend(split(&target).rev().map(str::to_string));
                }
                Node::Leaf(l, ft) => {
                    stack.push((name, Vec::new()));
                    leaf = Some((l, ft));
                }
            }
        }
        let comps = stack.iter().map(|(c, _)| c.clone()).collect();
        let node = match leaf {
            Some((l, ft)) => Node::Leaf(l, ft),
            None => Node::Dir(stack.last().map(|(_, l)| l.clone()).unwrap_or(all)),
        };
        Ok(Resolved { comps, node })
    }

    /// The kind of `path` (symlinks followed), `None` when absent or unreadable.
    pub fn kind(&self, path: &str) -> Option<Kind> {
        match self.resolve(path, true).ok()?.node {
            Node::Dir(_) => Some(Kind::Dir),
            Node::Leaf(_, FileType::RegularFile) => Some(Kind::File),
            Node::Leaf(_, _) => Some(Kind::Other),
        }
    }

    /// Read the regular file at `path` (symlinks followed inside the root),
    /// at most `max` bytes.
    pub fn read(&self, path: &str, max: u64) -> Result<Vec<u8>, Issue> {
        let r = self.resolve(path, true)?;
        let layer = match r.node {
            Node::Leaf(l, FileType::RegularFile) => l,
            Node::Leaf(_, t) => return Err(Issue::WrongType(type_name(t))),
            Node::Dir(_) => return Err(Issue::WrongType("a directory")),
        };
        // NONBLOCK: opening a FIFO swapped in meanwhile must not block.
        let fd = self.open_in(layer, &r.comps, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let st = rustix::fs::fstat(&fd).map_err(io_issue)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        if ft != FileType::RegularFile {
            return Err(Issue::WrongType(type_name(ft)));
        }
        let size = st.st_size.max(0) as u64;
        if size > max {
            return Err(Issue::TooLarge(size));
        }
        let mut buf = Vec::with_capacity(size as usize);
        std::fs::File::from(fd)
            .take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Issue::Io(e.to_string()))?;
        if buf.len() as u64 > max {
            return Err(Issue::TooLarge(buf.len() as u64));
        }
        Ok(buf)
    }

    /// Read a text file, lossily decoded as UTF-8.
    pub fn read_text(&self, path: &str, max: u64) -> Result<String, Issue> {
        self.read(path, max)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// The merged entries of the directory at `path` (symlinks followed),
    /// whiteouts removed, sorted by name. Entry kinds are not followed.
    pub fn list(&self, path: &str) -> Result<BTreeMap<String, Kind>, Issue> {
        let r = self.resolve(path, true)?;
        let layers = match r.node {
            Node::Dir(v) => v,
            Node::Leaf(_, t) => return Err(Issue::WrongType(type_name(t))),
        };
        let mut out: BTreeMap<String, Kind> = BTreeMap::new();
        let mut hidden: std::collections::BTreeSet<String> = Default::default();
        for l in layers {
            let fd = self.open_in(l, &r.comps, OFlags::RDONLY | OFlags::DIRECTORY)?;
            let dir = rustix::fs::Dir::new(fd).map_err(io_issue)?;
            let mut this_layer: Vec<(String, Kind, bool)> = Vec::new();
            for ent in dir {
                let ent = ent.map_err(io_issue)?;
                let name = ent.file_name().to_string_lossy().into_owned();
                if name == "." || name == ".." {
                    continue;
                }
                let mut ft = ent.file_type();
                let mut whiteout = false;
                if ft == FileType::CharacterDevice || ft == FileType::Unknown {
                    let mut p = r.comps.clone();
                    p.push(name.clone());
                    if let Ok(st) = self.stat_in(l, &p) {
                        ft = FileType::from_raw_mode(st.st_mode);
                        whiteout = ft == FileType::CharacterDevice && st.st_rdev == 0;
                    }
                }
                let kind = match ft {
                    FileType::Directory => Kind::Dir,
                    FileType::RegularFile => Kind::File,
                    FileType::Symlink => Kind::Symlink,
                    _ => Kind::Other,
                };
                this_layer.push((name, kind, whiteout));
            }
            for (name, kind, whiteout) in this_layer {
                if out.contains_key(&name) || hidden.contains(&name) {
                    continue;
                }
                if whiteout {
                    hidden.insert(name);
                } else {
                    out.insert(name, kind);
                }
            }
        }
        Ok(out)
    }
}
