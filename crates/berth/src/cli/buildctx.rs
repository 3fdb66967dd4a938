//! The build context: a directory turned into the tar stream `POST /build`
//! receives, as the docker CLI makes it (entries in lexical order, files
//! owned by 0:0, `.dockerignore` honoured while the Dockerfile and
//! `.dockerignore` are always sent, hard links kept as links), plus the
//! Dockerfile from stdin or from outside the context added under a random
//! name (and appended to `.dockerignore`, so `COPY . .` leaves it out).

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_dockerfile::IgnoreMatcher;

use super::error::{CliError, CliResult};

/// What goes into the context tar.
pub struct ContextSpec {
    /// The context directory (absolute, symlinks resolved).
    pub dir: PathBuf,
    /// The Dockerfile's path inside the context (slash-separated), always sent.
    pub dockerfile: String,
    /// `.dockerignore` patterns.
    pub ignore: IgnoreMatcher,
    /// A Dockerfile to add under a name of its own: (name, contents).
    pub extra: Option<(String, Vec<u8>)>,
}

/// A random name for a Dockerfile added to the context, as the docker CLI
/// makes it (`.dockerfile.` and 20 hex digits).
pub fn random_dockerfile_name() -> String {
    let mut bytes = [0u8; 10];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !ok {
        // Not security relevant: any name unlikely to clash will do.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seed = nanos ^ u128::from(std::process::id());
        bytes.copy_from_slice(&seed.to_le_bytes()[..10]);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(".dockerfile.{hex}")
}

/// Whether the first bytes of a stream are an archive the daemon accepts as a
/// context (gzip, bzip2, xz or zstd, or a tar header), as the docker CLI
/// decides for `build -`; anything else is taken for a bare Dockerfile.
pub fn is_archive(head: &[u8]) -> bool {
    berth_spec::archive::is_archive(head)
}

/// A context holding only `Dockerfile` (what `build -` makes of a bare
/// Dockerfile on stdin).
pub fn dockerfile_tar(contents: &[u8]) -> CliResult<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(contents.len() as u64);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    h.set_mtime(now);
    b.append_data(&mut h, "Dockerfile", contents)
        .and_then(|_| b.into_inner())
        .map_err(|e| CliError::io("archive the Dockerfile from stdin", e))
}

/// Read `.dockerignore` of `dir` (absent = no patterns).
pub fn read_ignore(dir: &Path) -> CliResult<(IgnoreMatcher, Option<Vec<u8>>)> {
    let path = dir.join(".dockerignore");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let m = IgnoreMatcher::parse(&text).map_err(|e| {
                CliError::msg(format!(
                    "unable to prepare context: error reading .dockerignore: {e}"
                ))
            })?;
            Ok((m, Some(bytes)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((IgnoreMatcher::default(), None)),
        Err(e) => Err(CliError::io(format!("read {}", path.display()), e)),
    }
}

struct Walker<'a, W: Write> {
    spec: &'a ContextSpec,
    tar: tar::Builder<W>,
    /// First path seen of each multiply-linked inode.
    links: HashMap<(u64, u64), String>,
    /// Whether the root `.dockerignore` was written.
    wrote_ignore: bool,
}

/// Write the context of `spec` as a tar stream to `sink`.
pub fn write_context<W: Write>(spec: &ContextSpec, sink: W) -> CliResult<()> {
    let mut w = Walker {
        spec,
        tar: tar::Builder::new(sink),
        links: HashMap::new(),
        wrote_ignore: false,
    };
    w.walk(&spec.dir, "")?;
    if let Some((name, contents)) = &spec.extra {
        if !w.wrote_ignore {
            // A .dockerignore made up here ignores itself too (as the docker CLI's does).
            let text = format!(".dockerignore\n{name}\n");
            w.add_bytes(".dockerignore", text.as_bytes(), 0o644)?;
        }
        w.add_bytes(name, contents, 0o600)?;
    }
    let mut sink = w
        .tar
        .into_inner()
        .map_err(|e| CliError::io("write the build context", e))?;
    sink.flush()
        .map_err(|e| CliError::io("write the build context", e))?;
    Ok(())
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| {
        CliError::msg(format!(
            "error checking context: 'can't stat '{}'': {}",
            path.display(),
            super::output::go_error(&e)
        ))
    }
}

impl<W: Write> Walker<'_, W> {
    /// Whether `rel` must be sent whatever `.dockerignore` says.
    fn always_sent(&self, rel: &str) -> bool {
        rel == ".dockerignore" || rel == self.spec.dockerfile
    }

    fn walk(&mut self, dir: &Path, rel_dir: &str) -> CliResult<()> {
        let mut entries: Vec<(Vec<u8>, PathBuf, String)> = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let e = e.map_err(io_err(dir))?;
            let name = e.file_name();
            let name_str = name.to_string_lossy().into_owned();
            let rel = if rel_dir.is_empty() {
                name_str
            } else {
                format!("{rel_dir}/{name_str}")
            };
            use std::os::unix::ffi::OsStrExt;
            entries.push((name.as_bytes().to_vec(), e.path(), rel));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, path, rel) in entries {
            let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let excluded = !self.spec.ignore.is_empty()
                && self.spec.ignore.is_excluded(&rel)
                && !self.always_sent(&rel);
            if meta.is_dir() {
                if excluded {
                    let keep_below = self.spec.ignore.may_include_below(&rel)
                        || self.spec.dockerfile.starts_with(&format!("{rel}/"));
                    if keep_below {
                        self.walk(&path, &rel)?;
                    }
                    continue;
                }
                self.add_entry(&path, &rel, &meta)?;
                self.walk(&path, &rel)?;
            } else if !excluded {
                self.add_entry(&path, &rel, &meta)?;
            }
        }
        Ok(())
    }

    fn header(meta: &Metadata) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        h.set_uid(0);
        h.set_gid(0);
        let _ = h.set_username("");
        let _ = h.set_groupname("");
        h
    }

    fn add_entry(&mut self, path: &Path, rel: &str, meta: &Metadata) -> CliResult<()> {
        let ft = meta.file_type();
        let err = |e: std::io::Error| CliError::io(format!("archive {}", path.display()), e);
        let mut h = Self::header(meta);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            self.tar
                .append_data(&mut h, format!("{rel}/"), std::io::empty())
                .map_err(err)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(path).map_err(err)?;
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            self.tar.append_link(&mut h, rel, &target).map_err(err)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.links.get(&key).cloned() {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    self.tar.append_link(&mut h, rel, &first).map_err(err)?;
                    return Ok(());
                }
                self.links.insert(key, rel.to_string());
            }
            if rel == ".dockerignore" {
                if let Some((name, _)) = &self.spec.extra {
                    let mut bytes = std::fs::read(path).map_err(err)?;
                    bytes.extend_from_slice(format!("\n{name}\n").as_bytes());
                    h.set_size(bytes.len() as u64);
                    self.tar
                        .append_data(&mut h, rel, bytes.as_slice())
                        .map_err(err)?;
                    self.wrote_ignore = true;
                    return Ok(());
                }
                self.wrote_ignore = true;
            }
            let f = std::fs::File::open(path).map_err(io_err(path))?;
            // The size in the header is the one stat saw; a file that changes
            // while being sent would corrupt the stream, so exactly that much
            // is read, and a file that shrank fails the archive.
            let mut exact = ExactReader {
                inner: f.take(meta.len()),
                remaining: meta.len(),
            };
            self.tar.append_data(&mut h, rel, &mut exact).map_err(err)?;
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            h.set_size(0);
            self.tar
                .append_data(&mut h, rel, std::io::empty())
                .map_err(err)?;
        }
        // Sockets are left out, as docker's archiver does.
        Ok(())
    }

    fn add_bytes(&mut self, name: &str, data: &[u8], mode: u32) -> CliResult<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        h.set_mtime(now);
        self.tar
            .append_data(&mut h, name, data)
            .map_err(|e| CliError::io(format!("archive {name}"), e))
    }
}

/// Reads exactly `remaining` bytes from `inner`, failing with "file
/// changed as we read it" when it ends sooner.
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "file changed as we read it: {} bytes missing",
                    self.remaining
                ),
            ));
        }
        self.remaining = self.remaining.saturating_sub(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar_bytes: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("b/sub")).unwrap();
        std::fs::write(p.join("Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(p.join("a.txt"), "a").unwrap();
        std::fs::write(p.join("b/sub/c.txt"), "c").unwrap();
        std::fs::write(p.join("Z"), "z").unwrap();
        std::os::unix::fs::symlink("a.txt", p.join("link")).unwrap();
        std::fs::hard_link(p.join("a.txt"), p.join("hard")).unwrap();
        d
    }

    #[test]
    fn sorted_entries_owned_by_root() {
        let d = tree();
        let spec = ContextSpec {
            dir: d.path().to_path_buf(),
            dockerfile: "Dockerfile".into(),
            ignore: IgnoreMatcher::default(),
            extra: None,
        };
        let mut out = Vec::new();
        write_context(&spec, &mut out).unwrap();
        assert_eq!(
            names(&out),
            vec![
                "Dockerfile",
                "Z",
                "a.txt",
                "b/",
                "b/sub/",
                "b/sub/c.txt",
                "hard",
                "link"
            ]
        );
        let mut a = tar::Archive::new(out.as_slice());
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            assert_eq!(e.header().uid().unwrap(), 0);
            assert_eq!(e.header().gid().unwrap(), 0);
            let p = e.path().unwrap().to_string_lossy().into_owned();
            if p == "hard" {
                assert_eq!(e.header().entry_type(), tar::EntryType::Link);
                assert_eq!(e.link_name().unwrap().unwrap().to_str(), Some("a.txt"));
            }
            if p == "link" {
                assert_eq!(e.header().entry_type(), tar::EntryType::Symlink);
            }
        }
    }

    #[test]
    fn archives_are_told_from_dockerfiles() {
        assert!(!is_archive(b"FROM busybox\nRUN true\n"));
        assert!(!is_archive(b""));
        assert!(is_archive(&[0x1f, 0x8b, 8, 0]));
        assert!(is_archive(b"BZh91AY"));
        let t = dockerfile_tar(b"FROM x\n").unwrap();
        assert!(is_archive(&t));
        assert_eq!(names(&t), vec!["Dockerfile"]);
        // A v7 header (no ustar magic) is recognised by its checksum.
        let mut v7 = t[..512].to_vec();
        v7[257..265].fill(0);
        let sum: u32 = v7
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(*b)
                }
            })
            .sum();
        v7[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert!(is_archive(&v7));
        v7[0] ^= 1;
        assert!(!is_archive(&v7));
    }

    #[test]
    fn extra_dockerfile_is_added_and_ignored() {
        let d = tree();
        let name = random_dockerfile_name();
        assert_eq!(name.len(), ".dockerfile.".len() + 20);
        let spec = ContextSpec {
            dir: d.path().to_path_buf(),
            dockerfile: name.clone(),
            ignore: IgnoreMatcher::default(),
            extra: Some((name.clone(), b"FROM y\n".to_vec())),
        };
        let mut out = Vec::new();
        write_context(&spec, &mut out).unwrap();
        let n = names(&out);
        assert_eq!(n[n.len() - 2], ".dockerignore");
        assert_eq!(n[n.len() - 1], name);
        let mut a = tar::Archive::new(out.as_slice());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            if p == ".dockerignore" {
                assert_eq!(s, format!(".dockerignore\n{name}\n"));
            } else if p == name {
                assert_eq!(s, "FROM y\n");
            }
        }
    }

    #[test]
    fn a_file_that_shrank_fails_the_archive() {
        let mut r = ExactReader {
            inner: std::io::Read::take(&b"abc"[..], 5),
            remaining: 5,
        };
        let mut out = Vec::new();
        let err = std::io::copy(&mut r, &mut out).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(
            err.to_string(),
            "file changed as we read it: 2 bytes missing"
        );
        assert_eq!(out, b"abc");
        let mut ok = ExactReader {
            inner: std::io::Read::take(&b"abcdef"[..], 3),
            remaining: 3,
        };
        let mut out = Vec::new();
        assert_eq!(std::io::copy(&mut ok, &mut out).unwrap(), 3);
        assert_eq!(out, b"abc");
    }
}
