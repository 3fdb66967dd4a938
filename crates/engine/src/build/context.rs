//! The build context: the request body (a tar, possibly compressed, or a
//! bare Dockerfile) unpacked into a private work directory, the Dockerfile
//! read from it and its `.dockerignore`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use berth_dockerfile::IgnoreMatcher;
use berth_store::decompress::{Compression, Decoder};

use crate::error::{EngineError, Result};

/// How many bytes are looked at to tell a tar from a Dockerfile.
const SNIFF: usize = 512;
/// The largest body taken as a bare Dockerfile.
const MAX_DOCKERFILE: u64 = 16 << 20;

/// What the body of a build request turned out to be, unpacked.
pub(crate) struct Context {
    /// The context root (empty when the body was a bare Dockerfile).
    pub dir: PathBuf,
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// The `.dockerignore` rules (empty when there is none).
    pub ignore: IgnoreMatcher,
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

/// Whether `head` starts with a tar header (ustar magic, or a v7 header
/// whose checksum is right).
pub(crate) fn is_tar(head: &[u8]) -> bool {
    if head.len() < SNIFF {
        return false;
    }
    if &head[257..262] == b"ustar" {
        return true;
    }
    // Old-style header: verify the checksum field.
    let field = String::from_utf8_lossy(&head[148..156]);
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = head[..SNIFF]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u32
            }
        })
        .sum();
    sum == stored && head[0] != 0
}

/// Read up to [`SNIFF`] bytes (fewer only at end of stream).
fn fill_head(r: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF);
    let mut take = r.by_ref().take(SNIFF as u64);
    take.read_to_end(&mut head)
        .map_err(|e| EngineError::invalid(format!("reading the build context: {e}")))?;
    Ok(head)
}

/// Unpack `body` under `work` (`work/context`) and read the Dockerfile
/// named `dockerfile` (`""` = `Dockerfile`) from it.
pub(crate) fn receive(
    body: Box<dyn Read + Send>,
    work: &Path,
    dockerfile: &str,
) -> Result<Context> {
    let dir = work.join("context");
    std::fs::create_dir_all(&dir)
        .map_err(|e| EngineError::io(format!("mkdir {}", dir.display()), e))?;
    let mut r = BufReader::with_capacity(256 * 1024, body);
    let head = fill_head(&mut r)?;
    let kind = sniff(&head);
    let rest = std::io::Cursor::new(head).chain(r);
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
            return Ok(Context {
                dir,
                dockerfile: String::from_utf8_lossy(&text).into_owned(),
                ignore: IgnoreMatcher::default(),
            });
        }
        Kind::Compressed(c) => {
            let r = Decoder::new(c, BufReader::new(rest)).map_err(|e| {
                EngineError::invalid(format!("reading the {} build context: {e}", c.name()))
            })?;
            unpack(r, &dir)?;
        }
        Kind::Tar => unpack(rest, &dir)?,
    }
    let ignore = match std::fs::read_to_string(dir.join(".dockerignore")) {
        Ok(text) => IgnoreMatcher::parse(&text)
            .map_err(|e| EngineError::invalid(format!("failed to parse .dockerignore: {e}")))?,
        Err(_) => IgnoreMatcher::default(),
    };
    let text = read_dockerfile(&dir, dockerfile)?;
    Ok(Context {
        dir,
        dockerfile: text,
        ignore,
    })
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

/// The Dockerfile at `name` inside the context (which it must not leave).
fn read_dockerfile(dir: &Path, name: &str) -> Result<String> {
    let name = if name.is_empty() { "Dockerfile" } else { name };
    let missing = || EngineError::invalid(format!("Cannot locate specified Dockerfile: {name}"));
    let mut candidates = vec![name.to_string()];
    if name == "Dockerfile" {
        // dockerd also accepts the lower-case name.
        candidates.push("dockerfile".into());
    }
    for c in candidates {
        let rel = Path::new(&c);
        let Ok(host) = berth_store::fs::resolve_in_root(dir, rel) else {
            continue;
        };
        // Follow a final symlink, still inside the context.
        let host = match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                let Ok(t) = std::fs::read_link(&host) else {
                    continue;
                };
                let base = host
                    .parent()
                    .unwrap_or(dir)
                    .strip_prefix(dir)
                    .unwrap_or(Path::new(""));
                match berth_store::fs::resolve_in_root(dir, &Path::new("/").join(base).join(t)) {
                    Ok(p) => p,
                    Err(_) => continue,
                }
            }
            Ok(_) => host,
            Err(_) => continue,
        };
        if !host.is_file() {
            continue;
        }
        return std::fs::read(&host)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| EngineError::io(format!("reading {}", host.display()), e));
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
        assert!(c.dir.join("sub/Other").is_file());
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
