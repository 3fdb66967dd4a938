//! Unpacked layers under `layers/<diff-id-hex>/` (`diff/`, a `size` file,
//! and the tar-split files) and the one-pass ingestion of a layer tar: the
//! stream is hashed and split while it is being extracted.

use crate::atomic::{fsync_dir, temp_name};
use crate::error::{IoContext, StoreError};
use crate::fs::extract::{extract, ExtractOpts, Records};
use crate::fs::LayerStats;
use crate::split::{Splitter, FILES_FILE, LEN_FILE, SPLIT_FILE};
use crate::Store;
use berth_spec::digest::Digest;
use berth_spec::image::ImageConfig;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

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

/// Decompress by the stream's first bytes (gzip, bzip2, xz, zstd or none),
/// as Docker's `DecompressStream` does.
pub(crate) fn decompressed<'a, R: BufRead + 'a>(r: R) -> Result<Box<dyn Read + 'a>, StoreError> {
    let d = crate::decompress::Decoder::sniffed(r)
        .map_err(|e| StoreError::BadArchive(format!("reading input: {e}")))?;
    Ok(Box::new(d))
}

/// Size of the chunks passed from the reading to the extracting thread.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the two threads.
const PIPE_DEPTH: usize = 4;

/// The extracting thread's end of the pipe: chunks from a channel, their
/// buffers sent back for reuse.
struct ChannelReader {
    rx: mpsc::Receiver<(Vec<u8>, usize)>,
    cur: Vec<u8>,
    /// Valid bytes in `cur`.
    len: usize,
    pos: usize,
    pool: mpsc::Sender<Vec<u8>>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            match self.rx.recv() {
                Ok((next, len)) => {
                    let done = std::mem::replace(&mut self.cur, next);
                    if done.len() == CHUNK {
                        let _ = self.pool.send(done);
                    }
                    self.len = len;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A layer that ingestion made available (and pinned).
#[derive(Debug, Clone)]
pub(crate) struct Ingested {
    pub diff_id: Digest,
    /// Whether this call created it (false: it was already present).
    pub created: bool,
    /// The newest modification time (Unix seconds) of the layer's entries.
    pub newest_mtime: u64,
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
    // Two threads: this one reads, hashes and splits the stream; the other
    // extracts it. Each does about half the work (hashing vs. writing
    // files), and both cores get used.
    let (stats, produced) = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(PIPE_DEPTH);
        let (pool_tx, pool_rx) = mpsc::channel::<Vec<u8>>();
        let records = &mut records;
        let diff_path = &diff_path;
        let consumer = scope.spawn(move || -> Result<LayerStats, StoreError> {
            let mut r = ChannelReader {
                rx,
                cur: Vec::new(),
                len: 0,
                pos: 0,
                pool: pool_tx,
            };
            let stats = extract(
                &mut r,
                diff_path,
                &[],
                ExtractOpts {
                    layer: true,
                    preserve_owner: true,
                },
                Some(records),
            )?;
            // Whatever follows the end marker is part of the layer's bytes.
            io::copy(&mut r, &mut io::sink())
                .map_err(|e| StoreError::BadArchive(format!("layer tar: {e}")))?;
            Ok(stats)
        });
        // Fill whole chunks (the input may come in small pieces, e.g. from
        // an HTTP body) so that the threads switch rarely.
        let produced: Result<(), StoreError> = 'outer: loop {
            let mut buf = pool_rx.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
            let mut n = 0;
            while n < CHUNK {
                match splitter.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break 'outer Err(StoreError::BadArchive(format!("layer tar: {e}"))),
                }
            }
            if n == 0 {
                break Ok(());
            }
            if tx.send((buf, n)).is_err() {
                // The extractor stopped: its error tells why.
                break Ok(());
            }
            if n < CHUNK {
                break Ok(()); // End of input.
            }
        };
        drop(tx);
        let stats = consumer
            .join()
            .unwrap_or_else(|_| Err(StoreError::Corrupt("layer extraction panicked".into())));
        (stats, produced)
    });
    // A failed read is the cause of whatever the extractor then saw.
    produced?;
    let stats = stats?;
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
    Ok(Ingested {
        diff_id,
        created,
        newest_mtime: stats.newest_mtime,
    })
}

/// Pin a layer if it is already fully present (so it need not be
/// extracted again). Returns whether it was.
pub(crate) fn pin_existing(store: &Store, diff: &Digest) -> bool {
    let mut st = store.lock();
    if layer_path(store.root(), diff).join("size").is_file() {
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
