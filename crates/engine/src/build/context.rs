//! The build context: the request body (a tar, possibly compressed, or a
//! bare Dockerfile) kept in a private work directory as one indexed tar
//! (extracted only as far as COPY/ADD need), the Dockerfile read from it
//! and its `.dockerignore`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_dockerfile::IgnoreMatcher;
use berth_store::decompress::{Compression, Decoder};

use super::index::ContextIndex;
use super::tree::{resolve, DiskTree, Node, NodeKind, Tree};
use crate::error::{EngineError, Result};

/// How many bytes are looked at to tell a tar from a Dockerfile.
const SNIFF: usize = berth_spec::archive::TAR_HEADER_LEN;
/// The largest body taken as a bare Dockerfile.
const MAX_DOCKERFILE: u64 = 16 << 20;

/// What the body of a build request turned out to be.
pub(crate) struct Context {
    /// The context root on disk (empty when the body was a bare
    /// Dockerfile; filled on demand when `index` is set).
    pub dir: PathBuf,
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// The `.dockerignore` rules (empty when there is none).
    pub ignore: IgnoreMatcher,
    /// The index of the context tar, when it was not extracted.
    pub index: Option<Arc<ContextIndex>>,
}

/// The kind of stream a body starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A plain tar.
    Tar,
    /// gzip, bzip2, xz or zstd.
    Compressed(Compression),
    /// Anything else: the body is the Dockerfile itself.
    Text,
}

/// Tell what `head` (the first bytes of a stream) is.
pub(crate) fn sniff(head: &[u8]) -> Kind {
    let c = Compression::sniff(head);
    if c != Compression::None {
        Kind::Compressed(c)
    } else if is_tar(head) {
        Kind::Tar
    } else {
        Kind::Text
    }
}

/// Whether `head` starts with a tar header (see
/// [`berth_spec::archive::is_tar`]).
pub(crate) fn is_tar(head: &[u8]) -> bool {
    berth_spec::archive::is_tar(head)
}

/// Read up to [`SNIFF`] bytes (fewer only at end of stream).
fn fill_head(r: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF);
    let mut take = r.by_ref().take(SNIFF as u64);
    take.read_to_end(&mut head)
        .map_err(|e| EngineError::invalid(format!("reading the build context: {e}")))?;
    Ok(head)
}

/// Receive `body` under `work`: a tar (after decompression) is written to
/// one file, `work/context.tar`, and indexed; nothing is extracted yet
/// (see [`ContextIndex`]) unless the tar is not a plain tree, in which
/// case it is extracted whole to `work/context`. The Dockerfile named
/// `dockerfile` (`""` = `Dockerfile`) and `.dockerignore` are read from it.
pub(crate) fn receive(
    body: Box<dyn Read + Send>,
    work: &Path,
    dockerfile: &str,
) -> Result<Context> {
    let dir = work.join("context");
    std::fs::create_dir_all(work)
        .map_err(|e| EngineError::io(format!("mkdir {}", work.display()), e))?;
    let mut r = BufReader::with_capacity(256 * 1024, body);
    let head = fill_head(&mut r)?;
    let kind = sniff(&head);
    let rest = std::io::Cursor::new(head).chain(r);
    let spool = work.join("context.tar");
    match kind {
        Kind::Text => {
            let mut text = Vec::new();
            rest.take(MAX_DOCKERFILE + 1)
                .read_to_end(&mut text)
                .map_err(|e| EngineError::invalid(format!("reading the Dockerfile: {e}")))?;
            if text.len() as u64 > MAX_DOCKERFILE {
                return Err(EngineError::invalid(
                    "the build context is neither a tar archive nor a Dockerfile (too large)",
                ));
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| EngineError::io(format!("mkdir {}", dir.display()), e))?;
            return Ok(Context {
                dir,
                dockerfile: String::from_utf8_lossy(&text).into_owned(),
                ignore: IgnoreMatcher::default(),
                index: None,
            });
        }
        Kind::Compressed(c) => {
            let r = Decoder::new(c, BufReader::new(rest)).map_err(|e| {
                EngineError::invalid(format!("reading the {} build context: {e}", c.name()))
            })?;
            write_spool(r, &spool)?;
        }
        Kind::Tar => write_spool(rest, &spool)?,
    }
    let index = match ContextIndex::build(&spool, &dir)? {
        Some(ix) => Some(Arc::new(ix)),
        None => {
            // Not a plain tree: extract it all, as dockerd does.
            std::fs::create_dir_all(&dir)
                .map_err(|e| EngineError::io(format!("mkdir {}", dir.display()), e))?;
            let f = std::fs::File::open(&spool)
                .map_err(|e| EngineError::io(format!("open {}", spool.display()), e))?;
            unpack(f, &dir)?;
            None
        }
    };
    let mut ctx = Context {
        dir,
        dockerfile: String::new(),
        ignore: IgnoreMatcher::default(),
        index,
    };
    let tree = ctx.tree();
    if let Some(Node {
        kind: NodeKind::File,
        ..
    }) = tree.lstat(".dockerignore")
    {
        let text = tree.read(".dockerignore", MAX_DOCKERFILE)?;
        ctx.ignore = IgnoreMatcher::parse(&String::from_utf8_lossy(&text))
            .map_err(|e| EngineError::invalid(format!("failed to parse .dockerignore: {e}")))?;
    }
    ctx.dockerfile = read_dockerfile(&*tree, dockerfile)?;
    Ok(ctx)
}

/// Write the (decompressed) context tar to `spool`, completed by
/// [`TarTail`].
fn write_spool(r: impl Read, spool: &Path) -> Result<()> {
    let f = std::fs::File::create(spool)
        .map_err(|e| EngineError::io(format!("create {}", spool.display()), e))?;
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
    std::io::copy(&mut TarTail::new(r), &mut w)
        .map_err(|e| EngineError::invalid(format!("failed to read the build context: {e}")))?;
    w.flush()
        .map_err(|e| EngineError::io(format!("write {}", spool.display()), e))?;
    Ok(())
}

impl Context {
    /// The context as a tree: its index, or the extracted directory.
    pub(crate) fn tree(&self) -> Arc<dyn Tree> {
        match &self.index {
            Some(ix) => ix.clone(),
            None => Arc::new(DiskTree::new(self.dir.clone())),
        }
    }
}

/// A tar stream completed at its end: the docker CLI's `-f` with a
/// Dockerfile outside the context appends it to the tar without padding
/// it or writing the end-of-archive blocks (dockerd's reader accepts
/// that), so at end of input the stream is padded to a 512-byte block and
/// followed by two zero blocks. An aborted upload is an error from the
/// body reader, not an end of input, so nothing truncated is padded.
pub(crate) struct TarTail<R> {
    inner: R,
    total: u64,
    /// Zero bytes still to give after the input ended.
    tail: Option<u64>,
}

impl<R: Read> TarTail<R> {
    pub(crate) fn new(inner: R) -> Self {
        TarTail {
            inner,
            total: 0,
            tail: None,
        }
    }
}

impl<R: Read> Read for TarTail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.tail.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.total += n as u64;
                return Ok(n);
            }
            let pad = (512 - self.total % 512) % 512;
            self.tail = Some(pad + 1024);
        }
        let left = self.tail.unwrap_or(0);
        let n = (buf.len() as u64).min(left) as usize;
        buf[..n].fill(0);
        self.tail = Some(left - n as u64);
        Ok(n)
    }
}

/// Extract a tar stream into `dir`, never writing outside it.
fn unpack(r: impl Read, dir: &Path) -> Result<()> {
    berth_store::fs::extract_into(TarTail::new(r), dir, Path::new("/"))
        .map_err(|e| EngineError::invalid(format!("failed to read the build context: {e}")))
}

/// The Dockerfile at `name` inside the context (which it must not leave;
/// symlinks are followed inside it).
fn read_dockerfile(tree: &dyn Tree, name: &str) -> Result<String> {
    let name = if name.is_empty() { "Dockerfile" } else { name };
    let missing = || EngineError::invalid(format!("Cannot locate specified Dockerfile: {name}"));
    let mut candidates = vec![name.to_string()];
    if name == "Dockerfile" {
        // dockerd also accepts the lower-case name.
        candidates.push("dockerfile".into());
    }
    for c in candidates {
        let Ok(rel) = resolve(tree, &c, true) else {
            continue;
        };
        match tree.lstat(&rel) {
            Some(n) if n.kind == NodeKind::File => {}
            _ => continue,
        }
        let text = tree.read(&rel, MAX_DOCKERFILE)?;
        return Ok(String::from_utf8_lossy(&text).into_owned());
    }
    Err(missing())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn sniffs_tar_gzip_and_text() {
        let t = tar_with(&[("Dockerfile", b"FROM scratch\n")]);
        assert_eq!(sniff(&t[..512]), Kind::Tar);
        assert_eq!(sniff(b"FROM busybox\nRUN true\n"), Kind::Text);
        assert_eq!(
            sniff(&[0x1f, 0x8b, 8, 0]),
            Kind::Compressed(Compression::Gzip)
        );
        assert_eq!(sniff(b"BZh91AY"), Kind::Compressed(Compression::Bzip2));
    }

    #[test]
    fn accepts_a_tar_without_its_end_blocks() {
        // What the docker CLI sends for `-f` outside the context.
        let t = tar_with(&[("a", b"x"), ("Dockerfile", b"FROM scratch\n")]);
        let cut = 512 + 512 + 512 + 13;
        let work = tempfile::tempdir().unwrap();
        let c = receive(
            Box::new(std::io::Cursor::new(t[..cut].to_vec())),
            work.path(),
            "",
        )
        .unwrap();
        assert_eq!(c.dockerfile, "FROM scratch\n");
        let mut padded = Vec::new();
        TarTail::new(&b"abc"[..]).read_to_end(&mut padded).unwrap();
        assert_eq!(padded.len(), 512 + 1024);
    }

    #[test]
    fn receives_compressed_contexts() {
        use std::io::Write;
        let t = tar_with(&[("Dockerfile", b"FROM scratch\n")]);
        let packs: [(&str, Vec<u8>); 3] = [
            ("zstd", zstd::encode_all(&t[..], 3).unwrap()),
            ("bzip2", {
                let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                w.write_all(&t).unwrap();
                w.finish().unwrap()
            }),
            ("xz", {
                let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
                w.write_all(&t).unwrap();
                w.finish().unwrap()
            }),
        ];
        for (tool, packed) in packs {
            let work = tempfile::tempdir().unwrap();
            let c = receive(Box::new(std::io::Cursor::new(packed)), work.path(), "").unwrap();
            assert_eq!(c.dockerfile, "FROM scratch\n", "{tool}");
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).unwrap();
        let work = tempfile::tempdir().unwrap();
        let c = receive(
            Box::new(std::io::Cursor::new(gz.finish().unwrap())),
            work.path(),
            "",
        )
        .unwrap();
        assert_eq!(c.dockerfile, "FROM scratch\n");
    }

    #[test]
    fn receives_a_tar_and_a_bare_dockerfile() {
        let work = tempfile::tempdir().unwrap();
        let t = tar_with(&[
            ("Dockerfile", b"FROM scratch\n"),
            ("sub/Other", b"FROM busybox\n"),
        ]);
        let c = receive(Box::new(std::io::Cursor::new(t.clone())), work.path(), "").unwrap();
        assert_eq!(c.dockerfile, "FROM scratch\n");
        assert!(c.index.is_some());
        assert!(!c.dir.join("sub/Other").exists());
        assert_eq!(c.tree().lstat("sub/Other").unwrap().size, 13);
        let work2 = tempfile::tempdir().unwrap();
        let c = receive(
            Box::new(std::io::Cursor::new(t.clone())),
            work2.path(),
            "sub/Other",
        )
        .unwrap();
        assert_eq!(c.dockerfile, "FROM busybox\n");
        let work3 = tempfile::tempdir().unwrap();
        let err = receive(Box::new(std::io::Cursor::new(t)), work3.path(), "../x")
            .err()
            .unwrap();
        assert_eq!(err.message, "Cannot locate specified Dockerfile: ../x");
        let work4 = tempfile::tempdir().unwrap();
        let c = receive(
            Box::new(std::io::Cursor::new(b"FROM busybox\n".to_vec())),
            work4.path(),
            "",
        )
        .unwrap();
        assert_eq!(c.dockerfile, "FROM busybox\n");
    }
}
