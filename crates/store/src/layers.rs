//! Unpacked layers under `layers/<diff-id-hex>/` (`diff/`, a `size` file,
//! and the tar-split files) and the one-pass ingestion of a layer tar: the
//! stream is hashed and split while it is being extracted.

use crate::atomic::{fsync_dir, temp_name};
use crate::error::{IoContext, StoreError};
use crate::fs::extract::{extract, ExtractOpts, Records};
use crate::split::{Splitter, FILES_FILE, LEN_FILE, SPLIT_FILE};
use crate::Store;
use berth_spec::digest::Digest;
use berth_spec::image::ImageConfig;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// `layers/<hex>`.
pub(crate) fn layer_path(root: &Path, diff: &Digest) -> PathBuf {
    root.join("layers").join(diff.hex())
}

/// `layers/<hex>/diff`: the overlay lower dir.
pub(crate) fn diff_dir(root: &Path, diff: &Digest) -> PathBuf {
    layer_path(root, diff).join("diff")
}

/// The recorded size of a layer (0 if unknown).
pub(crate) fn layer_size(root: &Path, diff: &Digest) -> i64 {
    std::fs::read_to_string(layer_path(root, diff).join("size"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The size of an image: the sum of its layers' sizes.
pub(crate) fn image_size(root: &Path, config: &ImageConfig) -> i64 {
    config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| layer_size(root, d))
        .sum()
}

/// Decompress if the stream starts with a gzip header; otherwise pass it
/// through. (zstd, bzip2 and xz are refused with a clear message.)
pub(crate) fn decompressed<'a, R: BufRead + 'a>(
    mut r: R,
) -> Result<Box<dyn Read + 'a>, StoreError> {
    let head = r
        .fill_buf()
        .map_err(|e| StoreError::BadArchive(format!("reading input: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err(StoreError::BadArchive(
            "zstd-compressed input is not supported; use gzip or none".into(),
        ))
    } else if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(StoreError::BadArchive(
            "bzip2/xz-compressed input is not supported; use gzip or none".into(),
        ))
    } else {
        Ok(Box::new(r))
    }
}

/// A layer that ingestion made available (and pinned).
#[derive(Debug, Clone)]
pub(crate) struct Ingested {
    pub diff_id: Digest,
    /// Whether this call created it (false: it was already present).
    pub created: bool,
}

/// Ingest an uncompressed layer tar from `reader` in one pass: hash it,
/// split it and extract it at the same time. If `expected` is given the
/// content must hash to it. The result is pinned in the store's state: the
/// caller must unpin it (see [`PinGuard`]).
pub(crate) fn ingest(
    store: &Store,
    reader: impl Read,
    expected: Option<&Digest>,
) -> Result<Ingested, StoreError> {
    let layers_dir = store.root().join("layers");
    let tmp = temp_name(&layers_dir, "layer");
    let result = ingest_into(store, reader, expected, &tmp);
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn ingest_into(
    store: &Store,
    reader: impl Read,
    expected: Option<&Digest>,
    tmp: &Path,
) -> Result<Ingested, StoreError> {
    let root = store.root();
    let diff_path = tmp.join("diff");
    std::fs::create_dir_all(&diff_path).ctx("creating layer directory", &diff_path)?;
    let mut splitter = Splitter::new(reader, &tmp.join(SPLIT_FILE))?;
    let mut records = Records::new(tmp);
    let stats = {
        let mut buffered = BufReader::with_capacity(256 * 1024, &mut splitter);
        let stats = extract(
            &mut buffered,
            &diff_path,
            &[],
            ExtractOpts {
                layer: true,
                preserve_owner: true,
            },
            Some(&mut records),
        )?;
        // Whatever follows the end marker is part of the layer's bytes.
        io::copy(&mut buffered, &mut io::sink())
            .map_err(|e| StoreError::BadArchive(format!("layer tar: {e}")))?;
        stats
    };
    if splitter.segments != records.list.len() as u64 {
        return Err(StoreError::BadArchive(format!(
            "layer tar: {} file contents but {} files (unsupported tar layout)",
            splitter.segments,
            records.list.len()
        )));
    }
    let (diff_id, len) = splitter.finish()?;
    if let Some(e) = expected {
        if *e != diff_id {
            return Err(StoreError::BadArchive(format!(
                "layer content digest mismatch: expected {e}, got {diff_id}"
            )));
        }
    }
    records.write(&tmp.join(FILES_FILE))?;
    std::fs::write(tmp.join(LEN_FILE), len.to_string()).ctx("writing layer tar size", tmp)?;
    // `size` last: its presence marks a complete layer.
    crate::atomic::write_file(&tmp.join("size"), stats.size.to_string().as_bytes())?;
    let target = layer_path(root, &diff_id);
    let mut st = store.lock();
    let created = if target.join("size").is_file() {
        false
    } else {
        if target.exists() {
            // A leftover without its size file: replace it.
            let _ = std::fs::remove_dir_all(&target);
        }
        std::fs::rename(tmp, &target).ctx("renaming layer into place", &target)?;
        fsync_dir(&root.join("layers"))?;
        true
    };
    st.pin(std::slice::from_ref(&diff_id));
    Ok(Ingested { diff_id, created })
}

/// Unpins layers when dropped (on success and on error alike).
pub(crate) struct PinGuard<'a> {
    store: &'a Store,
    pub diffs: Vec<Digest>,
}

impl<'a> PinGuard<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        PinGuard {
            store,
            diffs: Vec::new(),
        }
    }
}

impl Drop for PinGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.store.lock();
        st.unpin(&self.diffs);
    }
}
