//! `docker load`: docker-archive (what `docker save` writes, legacy layout
//! and newer OCI-style) or OCI image layout, streamed in one pass. Layer
//! tars are hashed, stored and extracted as they go by; the manifests
//! (which docker-archives put at the end) are checked against them at the
//! end, and only then do images and tags become visible.

use crate::blobs::put_blob;
use crate::error::StoreError;
use crate::layers::{decompressed, ingest, pin_existing, PinGuard};
use crate::meta::{purge, ImageRecord};
use crate::Store;
use berth_spec::digest::{Digest, Hasher};
use berth_spec::image::{
    go_arch, media_type, ArchiveManifestEntry, ImageConfig, Index, Manifest, ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
};
use berth_spec::reference::Reference;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path};

/// Largest JSON document accepted from an archive.
const MAX_JSON: u64 = 32 << 20;

/// A reader that hashes what passes through it.
struct HashingReader<R: Read> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// Read the rest of the blob at `path`, then check that everything read
    /// hashes to `want`.
    fn verify(mut self, want: &Digest, path: &str) -> Result<(), StoreError> {
        io::copy(&mut self, &mut io::sink()).map_err(|e| bad(format!("reading {path}: {e}")))?;
        if self.hasher.finish() != *want {
            return Err(bad(format!("blob {path} does not match its digest")));
        }
        Ok(())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::BadArchive(msg.into())
}

/// Normalise an archive path: no `./`, no leading `/`, `..` applied.
fn norm(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts.join("/")
}

struct Scan {
    /// Layer tars found in the archive, by path: their diff IDs.
    layers: HashMap<String, Digest>,
    jsons: HashMap<String, Vec<u8>>,
    links: HashMap<String, String>,
    created: Vec<Digest>,
}

impl Scan {
    /// Follow archive-internal links to the real entry.
    fn target<'a>(&'a self, mut p: &'a str) -> &'a str {
        for _ in 0..16 {
            match self.links.get(p) {
                Some(t) => p = t,
                None => break,
            }
        }
        p
    }

    fn layer(&self, p: &str) -> Option<&Digest> {
        self.layers.get(self.target(p))
    }

    fn json(&self, p: &str) -> Option<&Vec<u8>> {
        self.jsons.get(self.target(p))
    }
}

pub(crate) fn load(
    store: &Store,
    archive: impl Read,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<String>, StoreError> {
    let mut pins = PinGuard::new(store);
    let mut scan = Scan {
        layers: HashMap::new(),
        jsons: HashMap::new(),
        links: HashMap::new(),
        created: Vec::new(),
    };
    let result = scan_and_register(store, archive, progress, &mut pins, &mut scan);
    drop(pins);
    // Layers this load created but no image uses (unreferenced entries,
    // or the load failed): remove them.
    let (_, trash) = store.lock().collect_layers(&scan.created);
    purge(trash);
    result
}

fn scan_and_register(
    store: &Store,
    archive: impl Read,
    progress: &mut dyn FnMut(&str),
    pins: &mut PinGuard<'_>,
    scan: &mut Scan,
) -> Result<Vec<String>, StoreError> {
    let input = decompressed(BufReader::with_capacity(1 << 20, archive))?;
    let mut ar = tar::Archive::new(input);
    let entries = ar
        .entries()
        .map_err(|e| bad(format!("invalid archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("invalid archive: {e}")))?;
        let path = norm(
            &entry
                .path()
                .map_err(|e| bad(format!("invalid archive: {e}")))?,
        );
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            if let Ok(Some(t)) = entry.link_name() {
                let target = if kind.is_symlink() && !t.is_absolute() {
                    let dir = Path::new(&path).parent().unwrap_or(Path::new(""));
                    norm(&dir.join(&t))
                } else {
                    norm(&t)
                };
                scan.links.insert(path, target);
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        let top_level = !path.contains('/');
        if top_level && (path.ends_with(".json") || path == "repositories" || path == "oci-layout")
        {
            scan.jsons
                .insert(path.clone(), read_json(&mut entry, size, &path)?);
        } else if path.ends_with("/layer.tar") || path.ends_with(".tar") {
            let diff_id = ingest_entry(store, &mut entry, pins, scan)?;
            scan.layers.insert(path, diff_id);
        } else if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let want =
                Digest::from_hex(hex).map_err(|_| bad(format!("invalid blob name {path:?}")))?;
            let mut buffered = BufReader::with_capacity(256 * 1024, &mut entry);
            let head = buffered
                .fill_buf()
                .map_err(|e| bad(format!("reading {path}: {e}")))?;
            let is_json = head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            if is_json && size <= MAX_JSON {
                let mut v = Vec::with_capacity(size as usize);
                buffered
                    .read_to_end(&mut v)
                    .map_err(|e| bad(format!("reading {path}: {e}")))?;
                if Digest::of_bytes(&v) != want {
                    return Err(bad(format!("blob {path} does not match its digest")));
                }
                scan.jsons.insert(path, v);
            } else if pin_existing(store, &want) {
                // An uncompressed layer we already have (blobs are named by
                // their digest, which for a plain tar is the diff ID): only
                // verify the bytes.
                pins.diffs.push(want.clone());
                HashingReader::new(buffered).verify(&want, &path)?;
                scan.layers.insert(path, want);
            } else {
                let mut hashing = HashingReader::new(buffered);
                let diff_id = ingest_entry(store, &mut hashing, pins, scan)?;
                hashing.verify(&want, &path)?;
                scan.layers.insert(path, diff_id);
            }
        }
        // VERSION, per-layer json and anything else: not needed.
    }

    let images = if let Some(m) = scan.json("manifest.json") {
        let entries: Vec<ArchiveManifestEntry> =
            serde_json::from_slice(m).map_err(|e| bad(format!("invalid manifest.json: {e}")))?;
        let mut out = Vec::new();
        for e in entries {
            let config = scan
                .json(&norm(Path::new(&e.config)))
                .ok_or_else(|| bad(format!("invalid archive: config {} not found", e.config)))?
                .clone();
            let mut diffs = Vec::new();
            for l in &e.layers {
                let diff_id = scan
                    .layer(&norm(Path::new(l)))
                    .ok_or_else(|| bad(format!("invalid archive: layer {l} not found")))?;
                diffs.push(diff_id.clone());
            }
            let tags = e.repo_tags.unwrap_or_default();
            out.push((config, diffs, tags));
        }
        out
    } else if let Some(i) = scan.json("index.json") {
        let index: Index =
            serde_json::from_slice(i).map_err(|e| bad(format!("invalid index.json: {e}")))?;
        let mut out = Vec::new();
        for d in &index.manifests {
            let name = d
                .annotations
                .as_ref()
                .and_then(|a| {
                    a.get(ANNOTATION_IMAGE_NAME)
                        .or_else(|| a.get(ANNOTATION_REF_NAME))
                })
                .filter(|n| n.contains(':') || n.contains('/'))
                .and_then(|n| Reference::parse_normalized_tagged(n).ok())
                .map(|r| r.familiar_string());
            let (config, diffs) = oci_image(scan, &d.digest, &d.media_type, 0)?;
            out.push((config, diffs, name.into_iter().collect()));
        }
        out
    } else {
        return Err(bad(
            "invalid archive: no manifest.json or index.json found (not a docker save or OCI image archive)",
        ));
    };

    register(store, images, progress)
}

fn read_json(entry: &mut impl Read, size: u64, path: &str) -> Result<Vec<u8>, StoreError> {
    if size > MAX_JSON {
        return Err(bad(format!(
            "invalid archive: {path} is too large ({size} bytes)"
        )));
    }
    let mut v = Vec::with_capacity(size as usize);
    entry
        .read_to_end(&mut v)
        .map_err(|e| bad(format!("reading {path}: {e}")))?;
    Ok(v)
}

fn ingest_entry(
    store: &Store,
    entry: &mut impl Read,
    pins: &mut PinGuard<'_>,
    scan: &mut Scan,
) -> Result<Digest, StoreError> {
    let input = decompressed(BufReader::with_capacity(256 * 1024, entry))?;
    let ing = ingest(store, input, None)?;
    pins.diffs.push(ing.diff_id.clone());
    if ing.created {
        scan.created.push(ing.diff_id.clone());
    }
    Ok(ing.diff_id)
}

/// Follow an OCI descriptor (manifest or nested index) to a config and
/// its layers' diff IDs.
fn oci_image(
    scan: &Scan,
    digest: &str,
    mt: &str,
    depth: u8,
) -> Result<(Vec<u8>, Vec<Digest>), StoreError> {
    let d = Digest::parse(digest)?;
    let path = format!("blobs/sha256/{}", d.hex());
    let bytes = scan
        .json(&path)
        .ok_or_else(|| bad(format!("invalid archive: {path} not found")))?;
    let is_index = mt == media_type::OCI_INDEX
        || mt == media_type::DOCKER_MANIFEST_LIST
        || serde_json::from_slice::<serde_json::Value>(bytes)
            .map(|v| v.get("manifests").is_some())
            .unwrap_or(false);
    if is_index {
        if depth > 2 {
            return Err(bad("invalid archive: nested indexes too deep"));
        }
        let idx: Index =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid index {path}: {e}")))?;
        let pick = idx
            .manifests
            .iter()
            .find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == go_arch())
            })
            .or_else(|| idx.manifests.first())
            .ok_or_else(|| bad(format!("invalid archive: index {path} is empty")))?;
        return oci_image(scan, &pick.digest, &pick.media_type, depth + 1);
    }
    let m: Manifest =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid manifest {path}: {e}")))?;
    let cd = Digest::parse(&m.config.digest)?;
    let config = scan
        .json(&format!("blobs/sha256/{}", cd.hex()))
        .ok_or_else(|| {
            bad(format!(
                "invalid archive: config {} not found",
                m.config.digest
            ))
        })?
        .clone();
    let mut diffs = Vec::new();
    for l in &m.layers {
        let ld = Digest::parse(&l.digest)?;
        let diff_id = scan
            .layer(&format!("blobs/sha256/{}", ld.hex()))
            .ok_or_else(|| bad(format!("invalid archive: layer {} not found", l.digest)))?;
        diffs.push(diff_id.clone());
    }
    Ok((config, diffs))
}

/// Check configs against the layers found, then write configs, records
/// and tags. Returns the image IDs.
fn register(
    store: &Store,
    images: Vec<(Vec<u8>, Vec<Digest>, Vec<String>)>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<String>, StoreError> {
    // Validate everything before making anything visible.
    let mut checked = Vec::new();
    for (raw, diffs, tags) in images {
        let config =
            ImageConfig::from_bytes(&raw).map_err(|e| bad(format!("invalid image config: {e}")))?;
        if config.rootfs.diff_ids != diffs {
            return Err(bad(format!(
                "invalid archive: layers do not match the image config (config lists {}, archive has {})",
                config.rootfs.diff_ids.len(),
                diffs.len()
            )));
        }
        let refs = tags
            .iter()
            .map(|t| crate::remove::parse_tag_target(t))
            .collect::<Result<Vec<_>, _>>()?;
        checked.push((raw, config, refs));
    }
    let mut ids = Vec::new();
    for (raw, config, refs) in checked {
        let mut st = store.lock();
        let id = put_blob(store.root(), &raw)?;
        let record = match st.get(&id) {
            Some(e) => ImageRecord {
                deleted: false,
                ..e.record.clone()
            },
            None => ImageRecord::default(),
        };
        st.add_image(&id, config, record)?;
        let mut lines = Vec::new();
        for r in &refs {
            let key = r.to_string();
            if let Some(old) = st.tags.get(&key) {
                if *old != id {
                    lines.push(format!(
                        "The image {} already exists, renaming the old one with ID {old} to empty string",
                        r.familiar_string()
                    ));
                }
            }
            st.tags.insert(key, id.clone());
            lines.push(format!("Loaded image: {}", r.familiar_string()));
        }
        if refs.is_empty() {
            lines.push(format!("Loaded image ID: {id}"));
        } else {
            st.save_tags()?;
        }
        drop(st);
        for l in &lines {
            progress(l);
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}
