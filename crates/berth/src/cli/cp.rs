//! `berth cp` and `berth export`: tar streams between the host and a
//! container with docker's path rules (`src/.` copies contents, an
//! existing destination directory receives the source, otherwise the
//! source takes the destination's name).

use std::io::{IsTerminal, Read};
use std::path::{Component, Path, PathBuf};

use berth_client::{channel_body, Client, RawStream};
use berth_spec::mounts::clean_path;
use bytes::Bytes;
use clap::Args;

use super::error::{not_found_as, CliError, CliResult};
use super::images::write_stream;

/// `berth cp`.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Source: CONTAINER:SRC_PATH or a local path (or - for a tar on stdin)
    #[arg(value_name = "SRC")]
    pub src: String,
    /// Destination: CONTAINER:DEST_PATH or a local path (or - for a tar on stdout)
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// `berth export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", value_name = "string")]
    pub output: Option<String>,
    /// Container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth export`.
pub async fn export(client: &Client, args: &ExportArgs) -> CliResult {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let stream = client.container_export(&args.container).await?;
    write_stream(stream, args.output.as_deref()).await
}

/// `CONTAINER:PATH` split, as docker's `splitCpArg` (a local path that
/// contains `/` before any `:` is local).
fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.contains('/') => (Some(c), p),
        _ => (None, arg),
    }
}

/// Docker's `SplitPathDirEntry`: clean the path, keeping a trailing `/.`.
fn split_dir_entry(path: &str) -> (String, String) {
    let cleaned = clean_path(path);
    let cleaned = if path.ends_with("/.") || path == "." {
        if cleaned == "/" {
            "/.".to_string()
        } else {
            format!("{cleaned}/.")
        }
    } else {
        cleaned
    };
    match cleaned.rsplit_once('/') {
        Some(("", base)) => ("/".into(), base.into()),
        Some((dir, base)) => (dir.into(), base.into()),
        None => (".".into(), cleaned),
    }
}

fn asserts_directory(path: &str) -> bool {
    path.ends_with('/') || path.ends_with("/.") || path == "."
}

/// Replace the first path component `old` of `name` by `new`.
fn rebase(name: &str, old: &str, new: &str) -> String {
    let name = name.strip_prefix("./").unwrap_or(name);
    if old == "." {
        if name == "." || name.is_empty() {
            return new.to_string();
        }
        return format!("{new}/{name}");
    }
    if name == old {
        new.to_string()
    } else if let Some(rest) = name.strip_prefix(&format!("{old}/")) {
        format!("{new}/{rest}")
    } else {
        name.to_string()
    }
}

/// A relative path inside the destination that cannot climb out of it.
fn safe_relative(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// `berth cp`.
pub async fn cp(client: &Client, args: &CpArgs) -> CliResult {
    match (split_cp_arg(&args.src), split_cp_arg(&args.dest)) {
        ((Some(_), _), (Some(_), _)) => {
            Err(CliError::msg("copying between containers is not supported"))
        }
        ((None, _), (None, _)) => Err(CliError::msg("must specify at least one container source")),
        ((Some(c), src), (None, dst)) => {
            from_container(client, c, src, dst, args.follow_link).await
        }
        ((None, src), (Some(c), dst)) => to_container(client, src, c, dst, args.follow_link).await,
    }
}

/// Feed an async stream to blocking code as a `Read`.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

async fn from_container(
    client: &Client,
    container: &str,
    src: &str,
    dst: &str,
    follow: bool,
) -> CliResult {
    let mut src_path = src.to_string();
    let mut rebase_name = None;
    if follow {
        let stat = client
            .archive_stat(container, src)
            .await
            .map_err(|e| not_found_as(e, "container:path", &format!("{container}:{src}")))?;
        if stat.mode & (1 << 27) != 0 {
            let (dir, base) = split_dir_entry(src);
            let target = if stat.link_target.starts_with('/') {
                stat.link_target.clone()
            } else {
                format!("{dir}/{}", stat.link_target)
            };
            rebase_name = Some(base);
            src_path = target;
        }
    }
    let (stat, stream) = client
        .archive_get(container, &src_path)
        .await
        .map_err(|e| not_found_as(e, "container:path", &format!("{container}:{src_path}")))?;
    if dst == "-" {
        return write_stream(stream, None).await;
    }
    let (_, mut src_base) = split_dir_entry(&src_path);
    if let Some(r) = &rebase_name {
        // Entries come named after the link target; present them under
        // the link's own name first.
        src_base = r.clone();
    }
    let dst_meta = std::fs::metadata(dst).ok();
    let (dst_parent, dst_base) = split_dir_entry(dst);
    let (extract_dir, old, new) = match &dst_meta {
        Some(m) if m.is_dir() => (PathBuf::from(dst), None, None),
        Some(_) if stat.is_dir() => return Err(CliError::msg("cannot copy directory")),
        _ if dst_meta.is_none() && !stat.is_dir() && asserts_directory(dst) => {
            return Err(CliError::msg("no such directory"))
        }
        _ => {
            if !Path::new(&dst_parent).is_dir() {
                return Err(CliError::msg(format!(
                    "destination directory does not exist: {dst_parent}"
                )));
            }
            (
                PathBuf::from(&dst_parent),
                Some(src_base.clone()),
                Some(dst_base),
            )
        }
    };
    let link_base = rebase_name.map(|_| {
        let (_, b) = split_dir_entry(&src_path);
        b
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let worker = tokio::task::spawn_blocking(move || {
        extract(
            ChannelReader {
                rx,
                cur: Bytes::new(),
            },
            &extract_dir,
            link_base.as_deref(),
            old.as_deref(),
            new.as_deref(),
        )
    });
    let pump = pump(stream, tx).await;
    let extracted = worker
        .await
        .map_err(|e| CliError::msg(format!("extraction task failed: {e}")))?;
    extracted?;
    pump
}

async fn pump(mut stream: RawStream, tx: tokio::sync::mpsc::Sender<Bytes>) -> CliResult {
    while let Some(chunk) = stream.next_chunk().await? {
        if tx.send(chunk).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Extract a tar into `dir`, renaming the first component `link_base`
/// (the link target's name when following a link) and then `old` to
/// `new`; refuses entries that would land outside `dir`.
fn extract(
    reader: impl Read,
    dir: &Path,
    link_base: Option<&str>,
    old: Option<&str>,
    new: Option<&str>,
) -> CliResult {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_overwrite(true);
    let root = dir
        .canonicalize()
        .map_err(|e| CliError::io(format!("resolve {}", dir.display()), e))?;
    let entries = archive
        .entries()
        .map_err(|e| CliError::io("read archive", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| CliError::io("read archive", e))?;
        let raw_name = entry
            .path()
            .map_err(|e| CliError::io("read archive", e))?
            .to_string_lossy()
            .into_owned();
        let mut name = raw_name.clone();
        if let (Some(lb), Some(o)) = (link_base, old) {
            name = rebase(&name, lb, o);
        }
        if let (Some(o), Some(n)) = (old, new) {
            name = rebase(&name, o, n);
        }
        let Some(rel) = safe_relative(&name) else {
            return Err(CliError::msg(format!(
                "refusing to extract {raw_name:?}: path escapes the destination"
            )));
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = root.join(&rel);
        if let Some(parent) = rel.parent() {
            make_parents_inside(&root, parent, &raw_name)?;
        }
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            let _ = std::fs::remove_file(&target);
        }
        if entry.header().entry_type() == tar::EntryType::Link {
            let link = entry
                .link_name()
                .map_err(|e| CliError::io("read archive", e))?
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut lname = link;
            if let (Some(lb), Some(o)) = (link_base, old) {
                lname = rebase(&lname, lb, o);
            }
            if let (Some(o), Some(n)) = (old, new) {
                lname = rebase(&lname, o, n);
            }
            let Some(lrel) = safe_relative(&lname) else {
                return Err(CliError::msg(format!(
                    "refusing hard link {raw_name:?} to {lname:?}"
                )));
            };
            let _ = std::fs::remove_file(&target);
            std::fs::hard_link(root.join(lrel), &target)
                .map_err(|e| CliError::io(format!("link {}", target.display()), e))?;
            continue;
        }
        entry
            .unpack(&target)
            .map_err(|e| CliError::io(format!("extract {}", target.display()), e))?;
    }
    Ok(())
}

/// Create the directories of `rel` under `root` one by one, refusing to
/// pass through a symlink (which could lead outside `root`).
fn make_parents_inside(root: &Path, rel: &Path, raw_name: &str) -> CliResult {
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(CliError::msg(format!(
                    "refusing to extract {raw_name:?}: {} is a symlink",
                    cur.display()
                )))
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(CliError::msg(format!(
                    "cannot extract {raw_name:?}: {} is not a directory",
                    cur.display()
                )))
            }
            Err(_) => std::fs::create_dir(&cur)
                .map_err(|e| CliError::io(format!("create {}", cur.display()), e))?,
        }
    }
    Ok(())
}

async fn to_container(
    client: &Client,
    src: &str,
    container: &str,
    dst: &str,
    follow: bool,
) -> CliResult {
    let mut dst_path = dst.to_string();
    let mut stat = client.archive_stat(container, dst).await;
    if let Ok(s) = &stat {
        if s.mode & (1 << 27) != 0 {
            let (parent, _) = split_dir_entry(dst);
            dst_path = if s.link_target.starts_with('/') {
                s.link_target.clone()
            } else {
                format!("{parent}/{}", s.link_target)
            };
            stat = client.archive_stat(container, &dst_path).await;
        }
    }
    let dst_exists = stat.is_ok();
    let dst_is_dir = stat.as_ref().map(|s| s.is_dir()).unwrap_or(false);
    if let Err(e) = &stat {
        if !e.is_not_found() {
            return Err(CliError::msg(e.to_string()));
        }
    }
    if src == "-" {
        if !dst_is_dir {
            return Err(CliError::msg(format!(
                "destination \"{container}:{dst}\" must be a directory"
            )));
        }
        let body = berth_client::reader_body(tokio::io::stdin());
        client
            .archive_put(container, &dst_path, body, true)
            .await
            .map_err(|e| not_found_as(e, "container:path", &format!("{container}:{dst_path}")))?;
        return Ok(());
    }
    let src_meta = if follow {
        std::fs::metadata(src)
    } else {
        std::fs::symlink_metadata(src)
    }
    .map_err(|e| CliError::msg(format!("lstat {src}: {}", super::output::go_error(&e))))?;
    let src_is_dir = src_meta.is_dir();
    let (src_dir, src_base) = split_dir_entry(src);
    let (dst_parent, dst_base) = split_dir_entry(&dst_path);
    let (put_dir, top_name) = if dst_exists && dst_is_dir {
        (dst_path.clone(), src_base.clone())
    } else if dst_exists && src_is_dir {
        return Err(CliError::msg("cannot copy directory"));
    } else if !dst_exists && !src_is_dir && asserts_directory(&dst_path) {
        return Err(CliError::msg("no such directory"));
    } else {
        (dst_parent, dst_base)
    };
    let source = if src_base == "." {
        PathBuf::from(&src_dir)
    } else {
        Path::new(&src_dir).join(&src_base)
    };
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let contents_only = src_base == "." && top_name == ".";
    let writer = tokio::task::spawn_blocking(move || {
        let sink = ChannelWriter { tx: tx.clone() };
        let res = write_tar(sink, &source, &top_name, src_is_dir, contents_only, follow);
        if let Err(e) = &res {
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        res
    });
    let put = client
        .archive_put(container, &put_dir, channel_body(rx), true)
        .await;
    let written = writer
        .await
        .map_err(|e| CliError::msg(format!("archive task failed: {e}")))?;
    written?;
    put.map_err(|e| not_found_as(e, "container:path", &format!("{container}:{put_dir}")))
}

/// A `Write` that sends chunks to a request body channel.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "upload ended"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_tar(
    sink: impl std::io::Write,
    source: &Path,
    top: &str,
    is_dir: bool,
    contents_only: bool,
    follow: bool,
) -> CliResult {
    let mut b = tar::Builder::new(std::io::BufWriter::with_capacity(256 * 1024, sink));
    b.follow_symlinks(follow);
    let io = |e| CliError::io(format!("archive {}", source.display()), e);
    if is_dir {
        let name = if contents_only { "." } else { top };
        b.append_dir_all(name, source).map_err(io)?;
    } else {
        b.append_path_with_name(source, top).map_err(io)?;
    }
    b.into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cp_args() {
        assert_eq!(
            split_cp_arg("web:/etc/passwd"),
            (Some("web"), "/etc/passwd")
        );
        assert_eq!(split_cp_arg("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split_cp_arg("./a:b"), (None, "./a:b"));
        assert_eq!(split_cp_arg("-"), (None, "-"));
    }

    #[test]
    fn path_entries_like_docker() {
        assert_eq!(
            split_dir_entry("/etc/passwd"),
            ("/etc".into(), "passwd".into())
        );
        assert_eq!(split_dir_entry("/etc/"), ("/".into(), "etc".into()));
        assert_eq!(split_dir_entry("/etc/."), ("/etc".into(), ".".into()));
        assert_eq!(split_dir_entry("a"), (".".into(), "a".into()));
        assert_eq!(clean_path("/a/../../b//c/."), "/b/c");
        assert!(asserts_directory("/x/"));
        assert!(!asserts_directory("/x"));
    }

    #[test]
    fn rebases_first_component() {
        assert_eq!(rebase("etc/passwd", "etc", "conf"), "conf/passwd");
        assert_eq!(rebase("etc", "etc", "conf"), "conf");
        assert_eq!(rebase("etcetera", "etc", "conf"), "etcetera");
        assert_eq!(rebase("./a", ".", "d"), "d/a");
        assert_eq!(rebase(".", ".", "d"), "d");
        assert!(safe_relative("../x").is_none());
        assert!(safe_relative("/x").is_none());
        assert_eq!(safe_relative("./a/b").unwrap(), PathBuf::from("a/b"));
    }

    #[test]
    fn extract_refuses_escapes_and_renames() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_data(&mut h, "hostname", &b"hi"[..]).unwrap();
        let data = b.into_inner().unwrap();
        extract(&data[..], dir.path(), None, Some("hostname"), Some("copy")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("copy")).unwrap(), b"hi");

        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_link(&mut h, "esc", "/").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_data(&mut h, "esc/tmp/pwned", &b"x"[..]).unwrap();
        let data = b.into_inner().unwrap();
        assert!(extract(&data[..], dir.path(), None, None, None).is_err());
        assert!(!Path::new("/tmp/pwned").exists());
    }
}
