//! Keeping a layer tar without storing it twice ("tar-split").
//!
//! A layer arrives as a tar stream that is extracted into `diff/`; `docker
//! save` must later give back the *exact* same bytes (their sha256 is the
//! layer's diff ID). Instead of also keeping the whole tar, the
//! [`Splitter`] records everything but the regular files' contents (tar
//! headers, extended headers, padding, end blocks) in a small `tar-split`
//! file, plus a data marker where each file's content goes; the extractor
//! records, in the same order, which file holds that content. The
//! [`LayerReader`] interleaves the two again and checks the result against
//! the diff ID.
//!
//! The splitter also guards the extractor: extended headers (PAX, GNU long
//! names) larger than [`MAX_EXT_HEADER`] are refused before the tar parser
//! would buffer them.

use crate::error::{IoContext, StoreError};
use berth_spec::digest::{Digest, Hasher};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Largest extended header (PAX record set, GNU long name) accepted.
pub(crate) const MAX_EXT_HEADER: u64 = 1 << 20;
/// Name of the skeleton file in a layer directory.
pub(crate) const SPLIT_FILE: &str = "tar-split";
/// Name of the content-file list in a layer directory.
pub(crate) const FILES_FILE: &str = "tar-files";
/// Name of the file holding the tar's total length.
pub(crate) const LEN_FILE: &str = "tar-size";

const REC_RAW: u8 = b'R';
const REC_DATA: u8 = b'D';

#[derive(Debug, Clone, Copy)]
enum State {
    Header,
    /// Extended header contents (kept in the skeleton).
    Meta {
        remaining: u64,
        collect: bool,
    },
    /// GNU sparse extension blocks.
    SparseExt,
    /// A regular file's content (not kept), then its padding.
    Data {
        remaining: u64,
        pad: u64,
    },
    /// Bytes kept in the skeleton, then back to a header.
    Keep {
        remaining: u64,
    },
    /// After the end-of-archive block: everything is kept.
    Trailer,
}

/// A reader adapter that hashes a tar stream and writes its skeleton.
pub(crate) struct Splitter<R: Read> {
    inner: R,
    hasher: Hasher,
    state: State,
    block: [u8; 512],
    block_len: usize,
    raw: Vec<u8>,
    /// The skeleton's destination; `None` when only guarding.
    out: Option<BufWriter<File>>,
    out_path: PathBuf,
    pax: Vec<u8>,
    next_size: Option<u64>,
    sparse_after: u64,
    /// Data segments seen so far.
    pub(crate) segments: u64,
}

impl<R: Read> Splitter<R> {
    /// Write the skeleton to `path`.
    pub(crate) fn new(inner: R, path: &Path) -> Result<Self, StoreError> {
        let f = File::create(path).ctx("creating tar-split file", path)?;
        Ok(Splitter {
            inner,
            hasher: Hasher::new(),
            state: State::Header,
            block: [0; 512],
            block_len: 0,
            raw: Vec::with_capacity(64 * 1024),
            out: Some(BufWriter::with_capacity(256 * 1024, f)),
            out_path: path.to_path_buf(),
            pax: Vec::new(),
            next_size: None,
            sparse_after: 0,
            segments: 0,
        })
    }

    /// Only guard `inner` (refuse huge extended headers); record nothing.
    pub(crate) fn guard(inner: R) -> Self {
        Splitter {
            inner,
            hasher: Hasher::new(),
            state: State::Header,
            block: [0; 512],
            block_len: 0,
            raw: Vec::new(),
            out: None,
            out_path: PathBuf::new(),
            pax: Vec::new(),
            next_size: None,
            sparse_after: 0,
            segments: 0,
        }
    }

    fn flush_raw(&mut self) -> io::Result<()> {
        if let Some(out) = self.out.as_mut() {
            if !self.raw.is_empty() {
                out.write_all(&[REC_RAW])?;
                out.write_all(&(self.raw.len() as u64).to_le_bytes())?;
                out.write_all(&self.raw)?;
            }
        }
        self.raw.clear();
        Ok(())
    }

    fn header(&mut self) -> io::Result<()> {
        let b = self.block;
        self.raw.extend_from_slice(&b);
        if self.raw.len() >= 64 * 1024 {
            self.flush_raw()?;
        }
        if b.iter().all(|&x| x == 0) {
            self.state = State::Trailer;
            return Ok(());
        }
        let typeflag = b[156];
        let mut size = parse_size(&b[124..136]).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "tar header with an invalid size field",
            )
        })?;
        let ext = matches!(typeflag, b'x' | b'g' | b'L' | b'K');
        if !ext {
            if let Some(s) = self.next_size.take() {
                size = s;
            }
        }
        let padded = size.div_ceil(512) * 512;
        self.state = match typeflag {
            b'x' | b'g' | b'L' | b'K' => {
                if size > MAX_EXT_HEADER {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("extended tar header of {size} bytes is too large"),
                    ));
                }
                self.pax.clear();
                State::Meta {
                    remaining: padded,
                    collect: typeflag == b'x',
                }
            }
            b'0' | 0 | b'7' if size > 0 => {
                self.flush_raw()?;
                if let Some(out) = self.out.as_mut() {
                    out.write_all(&[REC_DATA])?;
                    out.write_all(&size.to_le_bytes())?;
                }
                self.segments += 1;
                State::Data {
                    remaining: size,
                    pad: padded - size,
                }
            }
            b'S' if b[482] != 0 => {
                self.sparse_after = padded;
                State::SparseExt
            }
            _ => State::Keep { remaining: padded },
        };
        Ok(())
    }

    fn feed(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.state {
                State::Header | State::SparseExt => {
                    let k = (512 - self.block_len).min(bytes.len());
                    self.block[self.block_len..self.block_len + k].copy_from_slice(&bytes[..k]);
                    self.block_len += k;
                    bytes = &bytes[k..];
                    if self.block_len == 512 {
                        self.block_len = 0;
                        if matches!(self.state, State::SparseExt) {
                            let b = self.block;
                            self.raw.extend_from_slice(&b);
                            if b[504] == 0 {
                                self.state = State::Keep {
                                    remaining: self.sparse_after,
                                };
                            }
                        } else {
                            self.header()?;
                        }
                    }
                }
                State::Meta { remaining, collect } => {
                    let k = (remaining as usize).min(bytes.len());
                    self.raw.extend_from_slice(&bytes[..k]);
                    if collect {
                        self.pax.extend_from_slice(&bytes[..k]);
                    }
                    bytes = &bytes[k..];
                    let remaining = remaining - k as u64;
                    if remaining == 0 {
                        if collect {
                            self.next_size = pax_size(&self.pax);
                        }
                        self.state = State::Header;
                    } else {
                        self.state = State::Meta { remaining, collect };
                    }
                }
                State::Data { remaining, pad } => {
                    let k = (remaining as usize).min(bytes.len());
                    bytes = &bytes[k..];
                    let remaining = remaining - k as u64;
                    self.state = if remaining == 0 {
                        State::Keep { remaining: pad }
                    } else {
                        State::Data { remaining, pad }
                    };
                }
                State::Keep { remaining } => {
                    if remaining == 0 {
                        self.state = State::Header;
                        continue;
                    }
                    let k = (remaining as usize).min(bytes.len());
                    self.raw.extend_from_slice(&bytes[..k]);
                    bytes = &bytes[k..];
                    let remaining = remaining - k as u64;
                    self.state = if remaining == 0 {
                        State::Header
                    } else {
                        State::Keep { remaining }
                    };
                }
                State::Trailer => {
                    self.raw.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
            if self.raw.len() >= 256 * 1024 {
                self.flush_raw()?;
            }
        }
        Ok(())
    }

    /// Finish after the input is exhausted: returns the stream's digest and
    /// length. The skeleton is synced to disk.
    pub(crate) fn finish(mut self) -> Result<(Digest, u64), StoreError> {
        if self.block_len > 0 {
            let partial = self.block[..self.block_len].to_vec();
            self.raw.extend_from_slice(&partial);
        }
        let path = self.out_path.clone();
        self.flush_raw().ctx("writing tar-split file", &path)?;
        if let Some(out) = self.out.take() {
            let f = out
                .into_inner()
                .map_err(|e| e.into_error())
                .ctx("writing tar-split file", &path)?;
            f.sync_all().ctx("syncing tar-split file", &path)?;
        }
        let len = self.hasher.len();
        Ok((self.hasher.finish(), len))
    }
}

impl<R: Read> Read for Splitter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.feed(&buf[..n])?;
        Ok(n)
    }
}

/// A tar numeric field: octal text, or GNU base-256 (high bit set).
fn parse_size(f: &[u8]) -> Option<u64> {
    if f[0] & 0x80 != 0 {
        let mut v: u64 = (f[0] & 0x7f) as u64;
        for &b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let s: Vec<u8> = f.iter().copied().filter(|&b| b != 0 && b != b' ').collect();
    if s.is_empty() {
        return Some(0);
    }
    let text = std::str::from_utf8(&s).ok()?;
    u64::from_str_radix(text, 8).ok()
}

/// The `size` record of a PAX extended header, if any.
fn pax_size(data: &[u8]) -> Option<u64> {
    let mut rest = data;
    let mut size = None;
    while !rest.is_empty() {
        let sp = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > rest.len() {
            return size;
        }
        let rec = &rest[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Some(v) = rec.strip_prefix(b"size=") {
            size = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
        }
        rest = &rest[len..];
    }
    size
}

/// Reads a stored layer back as its exact original tar stream, verifying
/// it against the diff ID at the end.
pub(crate) struct LayerReader {
    layer_dir: PathBuf,
    skel: BufReader<File>,
    files: Vec<PathBuf>,
    next_file: usize,
    raw_left: u64,
    data: Option<(File, u64)>,
    hasher: Option<Hasher>,
    expected: Digest,
}

impl LayerReader {
    /// Open the layer in `layer_dir` (with diff ID `expected`); returns the
    /// reader and the tar's length.
    pub(crate) fn open(
        layer_dir: &Path,
        expected: &Digest,
    ) -> Result<(LayerReader, u64), StoreError> {
        let sp = layer_dir.join(SPLIT_FILE);
        let skel = File::open(&sp).ctx("opening tar-split file", &sp)?;
        let fp = layer_dir.join(FILES_FILE);
        let list = std::fs::read(&fp).ctx("reading tar-files list", &fp)?;
        let files = list
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(std::ffi::OsStr::from_bytes(s)))
            .collect();
        let lp = layer_dir.join(LEN_FILE);
        let len = std::fs::read_to_string(&lp)
            .ctx("reading tar-size", &lp)?
            .trim()
            .parse::<u64>()
            .map_err(|_| StoreError::Corrupt(format!("{} is not a number", lp.display())))?;
        Ok((
            LayerReader {
                layer_dir: layer_dir.to_path_buf(),
                skel: BufReader::with_capacity(256 * 1024, skel),
                files,
                next_file: 0,
                raw_left: 0,
                data: None,
                hasher: Some(Hasher::new()),
                expected: expected.clone(),
            },
            len,
        ))
    }

    fn corrupt(&self, what: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("layer {} is corrupt: {what}", self.expected),
        )
    }

    fn next_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.raw_left > 0 {
                let k = (self.raw_left as usize).min(buf.len());
                self.skel.read_exact(&mut buf[..k])?;
                self.raw_left -= k as u64;
                return Ok(k);
            }
            if let Some((f, left)) = self.data.as_mut() {
                if *left > 0 {
                    let k = (*left as usize).min(buf.len());
                    let n = f.read(&mut buf[..k])?;
                    if n == 0 {
                        return Err(
                            self.corrupt("a file is shorter than when it was stored".into())
                        );
                    }
                    *left -= n as u64;
                    return Ok(n);
                }
                self.data = None;
            }
            let mut head = [0u8; 9];
            match self.skel.read(&mut head[..1])? {
                0 => return Ok(0),
                _ => self.skel.read_exact(&mut head[1..])?,
            }
            let mut lb = [0u8; 8];
            lb.copy_from_slice(&head[1..]);
            let len = u64::from_le_bytes(lb);
            match head[0] {
                REC_RAW => self.raw_left = len,
                REC_DATA => {
                    let rel = self
                        .files
                        .get(self.next_file)
                        .cloned()
                        .ok_or_else(|| self.corrupt("more data segments than files".into()))?;
                    self.next_file += 1;
                    let p = self.layer_dir.join(&rel);
                    let f = crate::fs::extract::open_nofollow(&p)
                        .map_err(|e| self.corrupt(format!("{}: {e}", rel.display())))?;
                    self.data = Some((f, len));
                }
                _ => return Err(self.corrupt("bad tar-split record".into())),
            }
        }
    }
}

impl Read for LayerReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.next_chunk(buf)?;
        if n == 0 {
            if let Some(h) = self.hasher.take() {
                let got = h.finish();
                if got != self.expected {
                    return Err(self.corrupt(format!("its content hashes to {got}")));
                }
            }
        } else if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_fields() {
        assert_eq!(parse_size(b"00000000012\0"), Some(10));
        assert_eq!(parse_size(b"           \0"), Some(0));
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[11] = 5;
        b256[10] = 1;
        assert_eq!(parse_size(&b256), Some(261));
        assert_eq!(parse_size(b"0000000009x\0"), None);
        assert_eq!(pax_size(b"12 size=100\n20 path=a/b/c/d/e/f\n"), Some(100));
        assert_eq!(pax_size(b"20 path=a/b/c/d/e/f\n"), None);
    }
}
