//! Safe tar extraction, for image layers and for `docker cp` into a
//! container.
//!
//! Safety: every entry name is cleaned lexically (an entry whose `..`
//! climbs above the destination is an error; absolute names are taken as
//! relative); parent directories are resolved inside the root with chroot
//! semantics (a symlink to `/etc` means `<root>/etc`), so nothing can be
//! written through a symlink to the outside; an existing entry at the
//! final path is removed first (never written through); hardlink targets
//! are resolved the same way and must already exist inside the root.
//!
//! Device nodes: in image layers, block and character devices are created
//! by nobody: those under `dev/` are skipped (a container gets its own
//! `/dev`), others are an error. Character device 0/0 (an overlay
//! whiteout) is allowed. FIFOs are created.

use super::resolve::{join, lexical_components, walk_dirs, Missing};
use super::LayerStats;
use crate::error::{IoContext, StoreError};
use filetime::FileTime;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Overlay's opaque-directory xattr.
pub(crate) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The AUFS-style whiteout prefix used in layer tars.
pub(crate) const WH_PREFIX: &str = ".wh.";
/// The opaque-directory marker in layer tars.
pub(crate) const WH_OPAQUE: &str = ".wh..wh..opq";

/// How to extract.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtractOpts {
    /// Image layer mode: convert whiteouts, apply the device policy.
    pub layer: bool,
    /// Keep uid/gid from the tar (otherwise leave files owned by us, root).
    pub preserve_owner: bool,
}

/// Where the content of each regular file of a layer tar ended up, in tar
/// order (see `crate::split`): paths relative to `base` (the layer dir).
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// The layer directory (parent of the extraction root).
    pub base: PathBuf,
    /// One path per regular-file data segment, in order.
    pub list: Vec<PathBuf>,
    by_path: HashMap<PathBuf, usize>,
    extra: usize,
}

impl Records {
    /// Records for a layer extracted into `<base>/diff`.
    pub(crate) fn new(base: &Path) -> Self {
        Records {
            base: base.to_path_buf(),
            ..Records::default()
        }
    }

    fn push(&mut self, host: &Path) {
        let rel = host.strip_prefix(&self.base).unwrap_or(host).to_path_buf();
        self.by_path.insert(host.to_path_buf(), self.list.len());
        self.list.push(rel);
    }

    fn next_extra(&mut self) -> Result<PathBuf, StoreError> {
        let dir = self.base.join("extra");
        std::fs::create_dir_all(&dir).ctx("creating directory", &dir)?;
        self.extra += 1;
        Ok(dir.join(self.extra.to_string()))
    }

    /// Keep data that is about to be removed: move `host` (a recorded file,
    /// or a directory holding some) aside and repoint the records.
    fn rescue(&mut self, host: &Path, is_dir: bool) -> Result<bool, StoreError> {
        let hit: Vec<PathBuf> = if is_dir {
            self.by_path
                .keys()
                .filter(|k| k.starts_with(host))
                .cloned()
                .collect()
        } else if self.by_path.contains_key(host) {
            vec![host.to_path_buf()]
        } else {
            Vec::new()
        };
        if hit.is_empty() {
            return Ok(false);
        }
        let aside = self.next_extra()?;
        std::fs::rename(host, &aside).ctx("moving aside", host)?;
        for old in hit {
            if let Some(i) = self.by_path.remove(&old) {
                let suffix = old.strip_prefix(host).unwrap_or(Path::new(""));
                let new = if suffix.as_os_str().is_empty() {
                    aside.clone()
                } else {
                    aside.join(suffix)
                };
                self.list[i] = new.strip_prefix(&self.base).unwrap_or(&new).to_path_buf();
            }
        }
        Ok(true)
    }

    /// Write the list (NUL-separated) to `path`.
    pub(crate) fn write(&self, path: &Path) -> Result<(), StoreError> {
        let mut out = Vec::new();
        for p in &self.list {
            out.extend_from_slice(p.as_os_str().as_bytes());
            out.push(0);
        }
        std::fs::write(path, out).ctx("writing", path)
    }
}

/// Extract `reader` (a tar stream) into `root`, starting at the resolved
/// directory `start` (components relative to `root`). With `records`,
/// note where each regular file's content is kept.
pub(crate) fn extract(
    reader: impl Read,
    root: &Path,
    start: &[OsString],
    opts: ExtractOpts,
    records: Option<&mut Records>,
) -> Result<LayerStats, StoreError> {
    let mut ex = Extractor {
        root: root.to_path_buf(),
        start: start.to_vec(),
        opts,
        dir_cache: HashMap::new(),
        dir_times: Vec::new(),
        stats: LayerStats::default(),
        records,
        buf: Vec::new(),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| bad_tar(opts, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad_tar(opts, e))?;
        ex.entry(&mut entry)?;
    }
    ex.finish()
}

fn bad_tar(opts: ExtractOpts, e: io::Error) -> StoreError {
    let what = if opts.layer { "layer tar" } else { "archive" };
    StoreError::BadArchive(format!("{what}: invalid tar stream: {e}"))
}

struct Extractor<'r> {
    records: Option<&'r mut Records>,
    /// Copy buffer (large: fewer system calls for big layers).
    buf: Vec<u8>,
    root: PathBuf,
    start: Vec<OsString>,
    opts: ExtractOpts,
    /// Lexical parent components -> resolved components, for directories
    /// already walked. Cleared whenever something existing is removed.
    dir_cache: HashMap<Vec<OsString>, Vec<OsString>>,
    /// Directory mtimes, applied at the end (children change them).
    dir_times: Vec<(PathBuf, FileTime)>,
    stats: LayerStats,
}

impl Extractor<'_> {
    fn what(&self) -> &'static str {
        if self.opts.layer {
            "layer tar"
        } else {
            "archive"
        }
    }

    fn escape_err(&self, name: &Path) -> StoreError {
        let place = if self.opts.layer {
            "the layer directory"
        } else {
            "the destination directory"
        };
        StoreError::BadArchive(format!(
            "{}: entry {:?} escapes {place}",
            self.what(),
            name.to_string_lossy()
        ))
    }

    /// Resolve the parent directory of an entry; returns the host path of
    /// the parent, the last component and the lexical components.
    fn place(
        &mut self,
        name: &Path,
    ) -> Result<Option<(PathBuf, OsString, Vec<OsString>)>, StoreError> {
        let mut comps = lexical_components(name).ok_or_else(|| self.escape_err(name))?;
        let Some(last) = comps.pop() else {
            return Ok(None); // "." or "/": the root itself.
        };
        let resolved = match self.dir_cache.get(&comps) {
            Some(r) => r.clone(),
            None => {
                let r = walk_dirs(&self.root, &self.start, &comps, Missing::Create)?;
                self.dir_cache.insert(comps.clone(), r.clone());
                r
            }
        };
        comps.push(last.clone());
        Ok(Some((join(&self.root, &resolved), last, comps)))
    }

    /// Remove whatever is at `path` (unless it is a directory and `keep_dir`).
    /// Returns true if a directory was kept.
    fn clear(&mut self, path: &Path, keep_dir: bool) -> Result<bool, StoreError> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                if keep_dir {
                    return Ok(true);
                }
                self.dir_cache.clear();
                if let Some(r) = self.records.as_deref_mut() {
                    if r.rescue(path, true)? {
                        return Ok(false);
                    }
                }
                std::fs::remove_dir_all(path).ctx("removing directory", path)?;
            }
            Ok(_) => {
                if let Some(r) = self.records.as_deref_mut() {
                    if r.rescue(path, false)? {
                        return Ok(false);
                    }
                }
                std::fs::remove_file(path).ctx("removing", path)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).ctx("inspecting", path),
        }
        Ok(false)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), StoreError> {
        self.stats.entries += 1;
        let mtime = entry.header().mtime().unwrap_or(0);
        self.stats.newest_mtime = self.stats.newest_mtime.max(mtime);
        let name = entry
            .path()
            .map_err(|e| bad_tar(self.opts, e))?
            .into_owned();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_gnu_longname() || kind.is_gnu_longlink() {
            return Ok(());
        }
        use tar::EntryType as T;
        let has_data = matches!(kind, T::Regular | T::Continuous) && entry.size() > 0;
        let Some((parent, last, comps)) = self.place(&name)? else {
            // The root itself: only its metadata could change.
            return self.stash(entry, has_data);
        };
        let path = parent.join(&last);
        let header = entry.header().clone();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let mtime = FileTime::from_unix_time(header.mtime().unwrap_or(0) as i64, 0);

        if self.opts.layer {
            let lb = last.as_bytes();
            if lb == WH_OPAQUE.as_bytes() {
                xattr::set(&parent, OPAQUE_XATTR, b"y").ctx("marking directory opaque", &parent)?;
                return self.stash(entry, has_data);
            }
            if lb.starts_with(b".wh..wh.") {
                return self.stash(entry, has_data); // AUFS internals.
            }
            if let Some(hidden) = lb.strip_prefix(WH_PREFIX.as_bytes()) {
                // `.wh.`, `.wh..` and `.wh...` would hide the directory
                // itself or its parent: removing that (found by fuzzing)
                // deleted the layer directory and what lies beside it.
                if matches!(hidden, b"" | b"." | b"..") {
                    return Err(StoreError::BadArchive(format!(
                        "{}: invalid whiteout entry {:?}",
                        self.what(),
                        name.to_string_lossy()
                    )));
                }
                let target = parent.join(OsStr::from_bytes(hidden));
                self.clear(&target, false)?;
                mknod(&target, libc::S_IFCHR, 0)?;
                self.owner(&target, uid, gid)?;
                return self.stash(entry, has_data);
            }
        }

        match kind {
            T::Directory => {
                let kept = self.clear(&path, true)?;
                if !kept {
                    std::fs::create_dir(&path).ctx("creating directory", &path)?;
                }
                self.owner(&path, uid, gid)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .ctx("setting mode", &path)?;
                self.xattrs(entry, &path)?;
                self.dir_times.push((path, mtime));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                self.clear(&path, false)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .ctx("creating file", &path)?;
                let n =
                    copy_big(entry, &mut f, &mut self.buf).map_err(|e| bad_tar(self.opts, e))?;
                self.stats.size += n;
                if self.opts.preserve_owner {
                    std::os::unix::fs::fchown(&f, Some(uid as u32), Some(gid as u32))
                        .ctx("changing owner", &path)?;
                }
                f.set_permissions(std::fs::Permissions::from_mode(mode))
                    .ctx("setting mode", &path)?;
                self.xattrs(entry, &path)?;
                filetime::set_file_handle_times(&f, Some(mtime), Some(mtime))
                    .ctx("setting times", &path)?;
                if has_data {
                    if let Some(r) = self.records.as_deref_mut() {
                        r.push(&path);
                    }
                }
            }
            T::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad_tar(self.opts, e))?
                    .ok_or_else(|| self.bad_entry(&name, "symlink without a target"))?
                    .into_owned();
                self.clear(&path, false)?;
                std::os::unix::fs::symlink(&target, &path).ctx("creating symlink", &path)?;
                self.stats.size += target.as_os_str().len() as u64;
                self.owner(&path, uid, gid)?;
                self.xattrs(entry, &path)?;
                filetime::set_symlink_file_times(&path, mtime, mtime)
                    .ctx("setting times", &path)?;
            }
            T::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad_tar(self.opts, e))?
                    .ok_or_else(|| self.bad_entry(&name, "hardlink without a target"))?
                    .into_owned();
                let src = self.link_source(&target)?;
                if src == path {
                    return Ok(());
                }
                let meta = std::fs::symlink_metadata(&src).map_err(|_| {
                    self.bad_entry(
                        &name,
                        &format!(
                            "hardlink target {:?} does not exist",
                            target.to_string_lossy()
                        ),
                    )
                })?;
                if meta.is_dir() {
                    return Err(self.bad_entry(&name, "hardlink to a directory"));
                }
                self.clear(&path, false)?;
                std::fs::hard_link(&src, &path).ctx("creating hardlink", &path)?;
            }
            T::Char | T::Block => {
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let whiteout = kind == T::Char && major == 0 && minor == 0;
                if self.opts.layer && !whiteout {
                    if comps.first().map(|c| c.as_bytes()) == Some(b"dev") {
                        return Ok(()); // Shadowed by the container's /dev.
                    }
                    return Err(
                        self.bad_entry(&name, "is a device node (not allowed in image layers)")
                    );
                }
                let fmt = if kind == T::Char {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                self.clear(&path, false)?;
                mknod(&path, fmt | (mode & 0o777), libc::makedev(major, minor))?;
                self.owner(&path, uid, gid)?;
            }
            T::Fifo => {
                self.clear(&path, false)?;
                mknod(&path, libc::S_IFIFO | (mode & 0o777), 0)?;
                self.owner(&path, uid, gid)?;
            }
            _ => {} // Volume labels, unknown types: nothing to create.
        }
        Ok(())
    }

    /// Keep the content of a regular-file entry that is not extracted as
    /// a file (whiteout markers with data, ...), for the tar-split.
    fn stash<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        has_data: bool,
    ) -> Result<(), StoreError> {
        let Some(r) = self.records.as_deref_mut() else {
            return Ok(());
        };
        if !has_data {
            return Ok(());
        }
        let p = r.next_extra()?;
        let mut f = File::create(&p).ctx("creating", &p)?;
        io::copy(entry, &mut f).ctx("writing", &p)?;
        r.push(&p);
        Ok(())
    }

    fn bad_entry(&self, name: &Path, msg: &str) -> StoreError {
        StoreError::BadArchive(format!(
            "{}: entry {:?} {msg}",
            self.what(),
            name.to_string_lossy()
        ))
    }

    /// The host path a hardlink's target names: cleaned lexically (must not
    /// escape), parents resolved inside the root, last component not
    /// followed. Hardlink targets are relative to the extraction start.
    fn link_source(&mut self, target: &Path) -> Result<PathBuf, StoreError> {
        let mut comps = lexical_components(target).ok_or_else(|| self.escape_err(target))?;
        let last = comps.pop().ok_or_else(|| self.escape_err(target))?;
        let parent = walk_dirs(&self.root, &self.start, &comps, Missing::Fail)
            .map_err(|_| self.bad_entry(target, "hardlink target does not exist"))?;
        Ok(join(&self.root, &parent).join(last))
    }

    fn owner(&self, path: &Path, uid: u64, gid: u64) -> Result<(), StoreError> {
        if !self.opts.preserve_owner {
            return Ok(());
        }
        std::os::unix::fs::lchown(path, Some(uid as u32), Some(gid as u32))
            .ctx("changing owner", path)
    }

    fn xattrs<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
    ) -> Result<(), StoreError> {
        let Ok(Some(exts)) = entry.pax_extensions() else {
            return Ok(());
        };
        for ext in exts.flatten() {
            let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            if let Err(e) = xattr::set(path, OsStr::from_bytes(name), ext.value_bytes()) {
                // As Docker: file systems without xattrs, or namespaces we
                // may not write, are not fatal.
                match e.raw_os_error() {
                    Some(libc::ENOTSUP) | Some(libc::EPERM) => {}
                    _ => return Err(e).ctx("setting xattr", path),
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<LayerStats, StoreError> {
        for (path, t) in self.dir_times.drain(..).rev() {
            filetime::set_symlink_file_times(&path, t, t).ctx("setting times", &path)?;
        }
        Ok(self.stats)
    }
}

/// `io::copy` with a 1 MiB buffer.
fn copy_big(r: &mut impl Read, w: &mut File, buf: &mut Vec<u8>) -> io::Result<u64> {
    use std::io::Write;
    if buf.is_empty() {
        buf.resize(1 << 20, 0);
    }
    let mut total = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn mknod(path: &Path, mode: libc::mode_t, dev: libc::dev_t) -> Result<(), StoreError> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| StoreError::BadArchive(format!("path with NUL byte: {}", path.display())))?;
    // SAFETY: `c` is a valid NUL-terminated C string that outlives the call;
    // mknod does not retain the pointer.
    let r = unsafe { libc::mknod(c.as_ptr(), mode, dev) };
    if r != 0 {
        return Err(io::Error::last_os_error()).ctx("creating node", path);
    }
    Ok(())
}

/// Open a file for reading without following a symlink at its last
/// component.
#[allow(dead_code)]
pub(crate) fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Make an overlay whiteout (char 0/0) at `path` (for tests).
#[cfg(test)]
pub(crate) fn tests_mknod_whiteout(path: &Path) {
    if let Err(e) = mknod(path, libc::S_IFCHR, 0) {
        panic!("mknod {}: {e}", path.display());
    }
}
