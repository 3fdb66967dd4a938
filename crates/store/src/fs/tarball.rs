//! Writing tars from directories: deterministic (names sorted, no atime or
//! ctime), symlinks never followed, hardlinks kept, xattrs as PAX records.
//! In layer mode, overlay whiteouts become `.wh.` entries and opaque
//! directories get a `.wh..wh..opq` entry.

use super::extract::{OPAQUE_XATTR, WH_OPAQUE, WH_PREFIX};
use crate::error::{IoContext, StoreError};
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Options of [`TarWriter`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TarOpts {
    /// Convert overlay whiteouts/opaque dirs to the layer-tar form.
    pub layer: bool,
    /// Paths (relative to the tarred dir) to leave out, with their subtrees.
    pub exclude: HashSet<PathBuf>,
    /// Clamp entry modification times to at most these Unix seconds.
    pub clamp_mtime: Option<u64>,
}

/// Writes a tree into a tar stream.
pub(crate) struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
    opts: TarOpts,
    links: HashMap<(u64, u64), PathBuf>,
    /// Entries written (excluding the end marker).
    pub entries: u64,
}

impl<W: Write> TarWriter<W> {
    pub(crate) fn new(out: W, opts: TarOpts) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        TarWriter {
            builder,
            opts,
            links: HashMap::new(),
            entries: 0,
        }
    }

    /// Add `host` (and, for a directory, everything under it) as `name`.
    pub(crate) fn add_tree(&mut self, host: &Path, name: &Path) -> Result<(), StoreError> {
        let meta = std::fs::symlink_metadata(host).ctx("inspecting", host)?;
        self.add_entry(host, name, &meta)?;
        if meta.is_dir() {
            self.add_children(host, name)?;
        }
        Ok(())
    }

    /// Add the children of directory `host`, named under `prefix` (which
    /// may be empty for the top level).
    pub(crate) fn add_children(&mut self, host: &Path, prefix: &Path) -> Result<(), StoreError> {
        let rd = match std::fs::read_dir(host) {
            Ok(rd) => rd,
            // A subdirectory removed while we walk (running container).
            Err(e) if e.kind() == io::ErrorKind::NotFound && !prefix.as_os_str().is_empty() => {
                return Ok(())
            }
            Err(e) => return Err(e).ctx("reading directory", host),
        };
        let mut names: Vec<OsString> = rd
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .ctx("reading directory", host)?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for n in names {
            let child = host.join(&n);
            let rel = prefix.join(&n);
            if self.opts.exclude.contains(&rel) {
                continue;
            }
            // A running container may delete files while we walk: skip them.
            let meta = match std::fs::symlink_metadata(&child) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx("inspecting", &child),
            };
            self.add_entry(&child, &rel, &meta)?;
            if meta.is_dir() {
                self.add_children(&child, &rel)?;
            }
        }
        Ok(())
    }

    fn base_header(&self, meta: &Metadata) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(meta.uid() as u64);
        h.set_gid(meta.gid() as u64);
        let mtime = meta.mtime().max(0) as u64;
        h.set_mtime(self.opts.clamp_mtime.map_or(mtime, |c| mtime.min(c)));
        h.set_size(0);
        h
    }

    fn add_entry(&mut self, host: &Path, name: &Path, meta: &Metadata) -> Result<(), StoreError> {
        let ft = meta.file_type();
        let mut h = self.base_header(meta);
        let w = |e: io::Error| StoreError::Io {
            context: "writing tar entry for",
            path: host.to_path_buf(),
            source: e,
        };
        if self.opts.layer && ft.is_char_device() && meta.rdev() == 0 {
            // Overlay whiteout -> `.wh.<name>`.
            let mut wh = OsString::from(WH_PREFIX);
            wh.push(name.file_name().unwrap_or_default());
            let wh_name = name.with_file_name(wh);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            self.builder
                .append_data(&mut h, &wh_name, io::empty())
                .map_err(w)?;
            self.entries += 1;
            return Ok(());
        }
        self.pax_xattrs(host, name)?;
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            let mut dname = name.as_os_str().to_os_string();
            dname.push("/");
            self.builder
                .append_data(&mut h, &dname, io::empty())
                .map_err(w)?;
            self.entries += 1;
            if self.opts.layer && matches!(xattr::get(host, OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
            {
                let mut oh = self.base_header(meta);
                oh.set_entry_type(tar::EntryType::Regular);
                oh.set_mode(0o644);
                self.builder
                    .append_data(&mut oh, name.join(WH_OPAQUE), io::empty())
                    .map_err(w)?;
                self.entries += 1;
            }
        } else if ft.is_symlink() {
            let target = match std::fs::read_link(host) {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e).ctx("reading symlink", host),
            };
            h.set_entry_type(tar::EntryType::Symlink);
            self.builder.append_link(&mut h, name, &target).map_err(w)?;
            self.entries += 1;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.links.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    let first = first.clone();
                    self.builder.append_link(&mut h, name, &first).map_err(w)?;
                    self.entries += 1;
                    return Ok(());
                }
                self.links.insert(key, name.to_path_buf());
            }
            let f = match super::extract::open_nofollow(host) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e).ctx("opening", host),
            };
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            // If the file changes size while we read, tar would be corrupt:
            // read exactly `len` bytes (pad with zeros if it shrank).
            let data = f.take(meta.len()).chain(io::repeat(0)).take(meta.len());
            self.builder.append_data(&mut h, name, data).map_err(w)?;
            self.entries += 1;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            h.set_entry_type(kind);
            if !ft.is_fifo() {
                let rdev = meta.rdev();
                h.set_device_major(libc::major(rdev)).map_err(w)?;
                h.set_device_minor(libc::minor(rdev)).map_err(w)?;
            }
            self.builder
                .append_data(&mut h, name, io::empty())
                .map_err(w)?;
            self.entries += 1;
        }
        // Sockets are skipped, as Docker does.
        Ok(())
    }

    /// Emit a PAX header with the file's xattrs (if any).
    fn pax_xattrs(&mut self, host: &Path, name: &Path) -> Result<(), StoreError> {
        let Ok(list) = xattr::list(host) else {
            return Ok(());
        };
        let mut records = Vec::new();
        let mut names: Vec<OsString> = list.collect();
        names.sort();
        for n in names {
            let nb = n.as_bytes();
            if nb.starts_with(b"trusted.overlay.") || nb == b"security.selinux" {
                continue;
            }
            let Ok(Some(v)) = xattr::get(host, &n) else {
                continue;
            };
            let mut body = Vec::new();
            body.extend_from_slice(b"SCHILY.xattr.");
            body.extend_from_slice(nb);
            body.push(b'=');
            body.extend_from_slice(&v);
            body.push(b'\n');
            // The record length counts its own digits.
            let mut len = body.len() + 2;
            loop {
                let total = body.len() + 1 + len.to_string().len();
                if total == len {
                    break;
                }
                len = total;
            }
            records.extend_from_slice(format!("{len} ").as_bytes());
            records.extend_from_slice(&body);
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut h = tar::Header::new_ustar();
        let short: String = name.to_string_lossy().chars().take(80).collect();
        h.set_path(format!("PaxHeaders/{short}")).ok();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(records.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        self.builder
            .append(&h, &records[..])
            .ctx("writing tar entry for", host)
    }

    /// Write the end marker and return the writer.
    pub(crate) fn finish(self) -> Result<W, StoreError> {
        self.builder.into_inner().map_err(|e| StoreError::Io {
            context: "finishing tar",
            path: PathBuf::new(),
            source: e,
        })
    }
}
