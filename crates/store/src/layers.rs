//! Unpacked layers under `layers/<diff-id-hex>/` (`diff/` plus a `size`
//! file) and the one-pass ingestion of a layer tar: the stream is hashed
//! and written as a blob while it is being extracted.

use crate::atomic::{fsync_dir, temp_name};
use crate::blobs::{has_blob, BlobWriter};
use crate::error::{IoContext, StoreError};
use crate::fs::extract::{extract, ExtractOpts};
use crate::Store;
use berth_spec::digest::Digest;
use berth_spec::image::ImageConfig;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// `layers/<hex>`.
pub(crate) fn layer_path(root: &Path, diff: &Digest) -> PathBuf {
    root.join("layers").join(diff.hex())
}

/// `layers/<hex>/diff`: the overlay lower dir.
pub(crate) fn diff_dir(root: &Path, diff: &Digest) -> PathBuf {
    layer_path(root, diff).join("diff")
}

/// Whether a layer is fully present (unpacked and its tar blob stored).
pub(crate) fn has_layer(root: &Path, diff: &Digest) -> bool {
    layer_path(root, diff).join("size").is_file() && has_blob(root, diff)
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
    config.rootfs.diff_ids.iter().map(|d| layer_size(root, d)).sum()
}

/// A reader that copies everything it reads into a writer.
struct Tee<'a, R: Read> {
    inner: R,
    out: &'a mut BlobWriter,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Decompress if the stream starts with a gzip header; otherwise pass it
/// through. (zstd is not supported.)
pub(crate) fn decompressed<'a, R: BufRead + 'a>(mut r: R) -> Result<Box<dyn Read + 'a>, StoreError> {
    let head = r.fill_buf().map_err(|e| StoreError::BadArchive(format!("reading input: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err(StoreError::BadArchive("zstd-compressed input is not supported".into()))
    } else if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(StoreError::BadArchive("bzip2/xz-compressed input is not supported; use gzip or none".into()))
    } else {
        Ok(Box::new(r))
    }
}

/// Flush a file system's dirty data (the one holding `dir`).
fn syncfs(dir: &Path) -> Result<(), StoreError> {
    let f = std::fs::File::open(dir).ctx("opening for sync", dir)?;
    // SAFETY: the fd is valid for the lifetime of `f`; syncfs only reads it.
    let r = unsafe { libc::syncfs(f.as_raw_fd()) };
    if r != 0 {
        return Err(io::Error::last_os_error()).ctx("syncing file system", dir);
    }
    Ok(())
}

/// A layer that ingestion made available (and pinned).
#[derive(Debug, Clone)]
pub(crate) struct Ingested {
    pub diff_id: Digest,
    /// Whether this call created it (false: it was already present).
    pub created: bool,
}

/// Ingest an uncompressed layer tar from `reader` in one pass: hash it,
/// store it as a blob and extract it at the same time. If `expected` is
/// given the content must hash to it. The result is pinned in the store's
/// state: the caller must unpin it (see [`crate::meta::State::unpin`]).
pub(crate) fn ingest(store: &Store, reader: impl Read, expected: Option<&Digest>) -> Result<Ingested, StoreError> {
    let root = store.root();
    let layers_dir = root.join("layers");
    let tmp = temp_name(&layers_dir, "layer");
    let result = ingest_into(store, reader, expected, &tmp);
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn ingest_into(store: &Store, reader: impl Read, expected: Option<&Digest>, tmp: &Path) -> Result<Ingested, StoreError> {
    let root = store.root();
    let diff_path = tmp.join("diff");
    std::fs::create_dir_all(&diff_path).ctx("creating layer directory", &diff_path)?;
    let mut blob = BlobWriter::new(root)?;
    let stats = {
        let tee = Tee {
            inner: reader,
            out: &mut blob,
        };
        let mut buffered = BufReader::with_capacity(256 * 1024, tee);
        let stats = extract(
            &mut buffered,
            &diff_path,
            &[],
            ExtractOpts {
                layer: true,
                preserve_owner: true,
            },
        )?;
        // The tar's padding after its end marker is part of the blob.
        io::copy(&mut buffered, &mut io::sink()).map_err(|e| StoreError::BadArchive(format!("layer tar: {e}")))?;
        stats
    };
    let diff_id = blob.commit(expected)?;
    std::fs::write(tmp.join("size"), stats.size.to_string()).ctx("writing layer size", tmp)?;
    syncfs(tmp)?;
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

/// Pin a layer if it is fully present (so that a load can skip it).
pub(crate) fn pin_if_present(store: &Store, diff: &Digest) -> bool {
    let mut st = store.lock();
    if has_layer(store.root(), diff) {
        st.pin(std::slice::from_ref(diff));
        true
    } else {
        false
    }
}

/// Unpins layers when dropped (on success and on error alike).
pub(crate) struct PinGuard<'a> {
    store: &'a Store,
    pub diffs: Vec<Digest>,
}

impl<'a> PinGuard<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        PinGuard { store, diffs: Vec::new() }
    }
}

impl Drop for PinGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.store.lock();
        st.unpin(&self.diffs);
    }
}
