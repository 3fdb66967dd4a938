//! `docker save`: one tar that is both a docker-archive (`manifest.json`,
//! `repositories`) and an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/`), as Docker 25+ writes it. Docker 20.10 loads it (its
//! loader only follows the paths in `manifest.json`), and so do OCI tools.
//!
//! Every blob is written once, even when several saved images share it:
//! the image configs (their bytes exactly as stored, so the image IDs
//! survive), the uncompressed layer tars (named by their diff ID, rebuilt
//! byte-exact from the store and streamed, never buffered whole), and an
//! OCI image manifest per image.

use crate::blobs::read_blob;
use crate::error::StoreError;
use crate::layers::layer_path;
use crate::meta::{unix_secs, State};
use crate::oci_out::{self, IndexEntry};
use crate::query::resolve_digest;
use crate::split::LayerReader;
use crate::Store;
use berth_spec::digest::Digest;
use berth_spec::image::{ArchiveManifestEntry, ArchiveRepositories, ImageConfig};
use berth_spec::reference::Reference;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

/// One image to save and the references to record for it.
struct Item {
    id: Digest,
    config: ImageConfig,
    raw: Vec<u8>,
    refs: Vec<Reference>,
}

/// Docker's `parseNames` for save: a name without tag means every tag of
/// that repository; IDs carry no tags.
fn select(st: &State, names: &[String]) -> Result<Vec<(Digest, Option<Reference>)>, StoreError> {
    let mut out = Vec::new();
    for name in names {
        let bare = name.strip_prefix("sha256:").unwrap_or(name);
        if berth_spec::digest::is_hex64(bare) || name.starts_with("sha256:") {
            out.push((resolve_digest(st, name, false)?, None));
            continue;
        }
        let r = Reference::parse_normalized(name)?;
        if r.tag().is_none() && r.digest().is_none() {
            let repo = r.name();
            let mut found = false;
            for (full, id) in &st.tags {
                if let Ok(t) = Reference::parse_normalized(full) {
                    if t.name() == repo {
                        out.push((id.clone(), Some(t)));
                        found = true;
                    }
                }
            }
            if !found {
                out.push((resolve_digest(st, name, false)?, None));
            }
            continue;
        }
        match st.tags.get(&r.to_string()) {
            Some(id) => out.push((id.clone(), Some(r))),
            None => {
                // Maybe an ID prefix that looks like repo:tag? No: Docker
                // says the reference does not exist.
                return Err(StoreError::NoSuchImage(r.familiar_string()));
            }
        }
    }
    Ok(out)
}

/// Where blob `d` lives in the archive.
fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn header(size: u64, mtime: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h
}

/// Collect the images `names` select, each once, with the references to
/// record for it, and read their config bytes.
fn collect(store: &Store, names: &[String]) -> Result<Vec<Item>, StoreError> {
    let mut items: Vec<Item> = Vec::new();
    {
        let st = store.lock();
        for (id, r) in select(&st, names)? {
            let pos = match items.iter().position(|i| i.id == id) {
                Some(p) => p,
                None => {
                    let e = st
                        .get(&id)
                        .ok_or_else(|| StoreError::NoSuchImage(id.to_string()))?;
                    items.push(Item {
                        id: id.clone(),
                        config: e.config.clone(),
                        raw: Vec::new(),
                        refs: Vec::new(),
                    });
                    items.len() - 1
                }
            };
            if let Some(r) = r {
                if !items[pos].refs.contains(&r) {
                    items[pos].refs.push(r);
                }
            }
        }
    }
    for it in &mut items {
        it.raw = read_blob(store.root(), &it.id)?;
    }
    Ok(items)
}

/// The archive being written: the tar and which blobs it already holds.
struct Writer<W: Write> {
    tar: tar::Builder<W>,
    /// Blobs written so far, with their lengths.
    written: HashMap<Digest, u64>,
}

fn werr(e: io::Error) -> StoreError {
    StoreError::Io {
        context: "writing archive",
        path: "save".into(),
        source: e,
    }
}

impl<W: Write> Writer<W> {
    fn file(&mut self, path: &str, bytes: &[u8], mtime: u64) -> Result<(), StoreError> {
        let mut h = header(bytes.len() as u64, mtime, false);
        self.tar.append_data(&mut h, path, bytes).map_err(werr)
    }

    fn dir(&mut self, path: &str) -> Result<(), StoreError> {
        let mut h = header(0, 0, true);
        self.tar
            .append_data(&mut h, path, io::empty())
            .map_err(werr)
    }

    /// Write a small blob unless already there.
    fn json_blob(&mut self, bytes: &[u8], mtime: u64) -> Result<Digest, StoreError> {
        let d = Digest::of_bytes(bytes);
        if !self.written.contains_key(&d) {
            self.file(&blob_path(&d), bytes, mtime)?;
            self.written.insert(d.clone(), bytes.len() as u64);
        }
        Ok(d)
    }

    /// Stream a layer tar, rebuilt from the store and checked against its
    /// diff ID, unless already there. Returns its length.
    fn layer_blob(&mut self, store: &Store, diff: &Digest, mtime: u64) -> Result<u64, StoreError> {
        if let Some(n) = self.written.get(diff) {
            return Ok(*n);
        }
        let (reader, len) = LayerReader::open(&layer_path(store.root(), diff), diff)?;
        let mut h = header(len, mtime, false);
        self.tar
            .append_data(&mut h, blob_path(diff), reader)
            .map_err(werr)?;
        self.written.insert(diff.clone(), len);
        Ok(len)
    }
}

pub(crate) fn save(store: &Store, names: &[String], out: impl Write) -> Result<(), StoreError> {
    let items = collect(store, names)?;
    let mut w = Writer {
        tar: tar::Builder::new(out),
        written: HashMap::new(),
    };
    w.dir("blobs/")?;
    w.dir("blobs/sha256/")?;

    let mut manifest: Vec<ArchiveManifestEntry> = Vec::new();
    let mut repos: ArchiveRepositories = BTreeMap::new();
    // (manifest digest, its length) per item, for index.json.
    let mut oci: Vec<(Digest, u64)> = Vec::new();

    for it in &items {
        let c = &it.config;
        let mtime = unix_secs(&c.created).max(0) as u64;
        let mut layers = Vec::with_capacity(c.rootfs.diff_ids.len());
        for diff in &c.rootfs.diff_ids {
            let len = w.layer_blob(store, diff, mtime)?;
            layers.push((diff.clone(), len));
        }
        let config = w.json_blob(&it.raw, mtime)?;
        let m = oci_out::image_manifest(&config, it.raw.len() as u64, &layers)?;
        let md = w.json_blob(&m, mtime)?;
        oci.push((md, m.len() as u64));

        if let Some(top) = c.rootfs.diff_ids.last() {
            for r in &it.refs {
                if let Some(t) = r.tag() {
                    repos
                        .entry(r.familiar_name())
                        .or_default()
                        .insert(t.to_string(), top.hex().to_string());
                }
            }
        }
        manifest.push(ArchiveManifestEntry {
            config: blob_path(&config),
            repo_tags: if it.refs.is_empty() {
                None
            } else {
                Some(it.refs.iter().map(|r| r.familiar_string()).collect())
            },
            layers: c.rootfs.diff_ids.iter().map(blob_path).collect(),
            layer_sources: None,
        });
    }

    let mut entries = Vec::new();
    for (it, (md, len)) in items.iter().zip(&oci) {
        if it.refs.is_empty() {
            entries.push(IndexEntry {
                manifest: md.clone(),
                len: *len,
                reference: None,
            });
        }
        for r in &it.refs {
            entries.push(IndexEntry {
                manifest: md.clone(),
                len: *len,
                reference: Some(r),
            });
        }
    }
    w.file("index.json", &oci_out::index(&entries)?, 0)?;
    let m = serde_json::to_vec(&manifest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    w.file("manifest.json", &m, 0)?;
    w.file("oci-layout", &oci_out::layout()?, 0)?;
    if !repos.is_empty() {
        let r = serde_json::to_vec(&repos).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        w.file("repositories", &r, 0)?;
    }
    let mut out = w.tar.into_inner().map_err(werr)?;
    out.flush().map_err(werr)?;
    Ok(())
}
