//! Container files: `diff`, `export`, and the `/archive` endpoints of `cp`.
//!
//! A stopped container's rootfs is mounted for the duration of the
//! operation (under the container's operation lock); a running one is read
//! through the overlay mount its shim keeps in the host's mount namespace.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use berth_spec::api::ChangeItem;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::container::Container;
use crate::error::{EngineError, Result};
use crate::files_mounts::{archive_root, ArchiveRoot};
use crate::record::Status;
use crate::{blocking, Engine};

/// Paths (relative to the rootfs) that the runtime creates as mount points
/// in a container's upper dir: not the user's changes, so `diff` and
/// `commit` leave them out (Docker keeps them in a hidden init layer).
pub(crate) const MOUNT_PLACEHOLDERS: &[&str] = &[
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "dev",
    "proc",
    "sys",
    ".dockerenv",
];

fn is_placeholder(path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    MOUNT_PLACEHOLDERS
        .iter()
        .any(|p| rel == *p || rel.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

/// Drop mount-point placeholders from a change list, and the parent
/// directories reported as modified only because of them.
pub(crate) fn filter_changes(items: Vec<ChangeItem>) -> Vec<ChangeItem> {
    let (excluded, kept): (Vec<ChangeItem>, Vec<ChangeItem>) =
        items.into_iter().partition(|c| is_placeholder(&c.path));
    let under = |parent: &str, child: &str| {
        child.len() > parent.len()
            && child.starts_with(parent)
            && child.as_bytes()[parent.len()] == b'/'
    };
    kept.iter()
        .filter(|c| {
            if c.kind != 0 {
                return true;
            }
            let had_excluded = excluded.iter().any(|e| under(&c.path, &e.path));
            let has_kept_child = kept.iter().any(|k| under(&c.path, &k.path));
            !had_excluded || has_kept_child
        })
        .cloned()
        .collect()
}

/// A `std::io::Write` that forwards bytes in chunks to an async receiver
/// (for streaming tarballs out of blocking code). Fails once the receiver is gone.
pub struct ByteSender {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ByteSender {
    /// A sender and the receiver that gets its chunks.
    pub fn channel() -> (ByteSender, mpsc::Receiver<std::io::Result<Bytes>>) {
        let (tx, rx) = mpsc::channel(16);
        (
            ByteSender {
                tx,
                buf: Vec::with_capacity(CHUNK),
            },
            rx,
        )
    }

    fn send_buf(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(data))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }

    /// Send an error to the receiver (ends the stream with it).
    pub fn fail(self, err: std::io::Error) {
        let _ = self.tx.blocking_send(Err(err));
    }
}

impl Write for ByteSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_buf()
    }
}

impl Drop for ByteSender {
    fn drop(&mut self) {
        let _ = self.send_buf();
    }
}

/// The `X-Docker-Container-Path-Stat` JSON (before base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (type bits high, permissions low).
    pub mode: u32,
    /// RFC 3339 modification time.
    pub mtime: String,
    /// For a symlink: its target resolved inside the container (absolute).
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's `os.FileMode` for a file's metadata.
pub(crate) fn go_file_mode(md: &std::fs::Metadata) -> u32 {
    let mode = md.permissions().mode();
    let mut m = mode & 0o777;
    let ft = md.file_type();
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        m |= 1 << 31;
    } else if ft.is_symlink() {
        m |= 1 << 27;
    } else if ft.is_fifo() {
        m |= 1 << 25;
    } else if ft.is_socket() {
        m |= 1 << 24;
    } else if ft.is_block_device() {
        m |= 1 << 26;
    } else if ft.is_char_device() {
        m |= (1 << 26) | (1 << 21);
    }
    if mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m
}

/// Resolve `path` inside `root` like a chroot would: `..` never climbs above
/// `root`, and symlinks (absolute or relative) are resolved relative to
/// `root`. The last component is followed only when `follow_last`.
/// Returns the host path and the container path it stands for.
pub(crate) fn scoped_resolve(
    root: &Path,
    path: &str,
    follow_last: bool,
) -> Result<(PathBuf, String)> {
    let mut pending: Vec<String> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    pending.reverse();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            resolved.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        for r in &resolved {
            candidate.push(r);
        }
        candidate.push(&comp);
        let is_last = pending.is_empty();
        match std::fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() && (!is_last || follow_last) => {
                links += 1;
                if links > 255 {
                    return Err(EngineError::invalid(format!(
                        "too many levels of symbolic links in {path}"
                    )));
                }
                let target = std::fs::read_link(&candidate)
                    .map_err(|e| EngineError::io(format!("readlink {}", candidate.display()), e))?;
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut parts: Vec<String> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .collect();
                parts.reverse();
                pending.extend(parts);
            }
            _ => resolved.push(comp),
        }
    }
    let mut host = root.to_path_buf();
    for r in &resolved {
        host.push(r);
    }
    Ok((host, format!("/{}", resolved.join("/"))))
}

/// A rootfs kept mounted while it is used (unmounted on drop if we mounted it).
struct RootfsGuard {
    target: PathBuf,
    mounted_here: bool,
}

impl Drop for RootfsGuard {
    fn drop(&mut self) {
        if self.mounted_here {
            berth_runtime::mount::unmount_all(&self.target);
        }
    }
}

fn ensure_rootfs(
    c: &Container,
    running: bool,
    layers: Vec<PathBuf>,
    readonly: bool,
) -> Result<RootfsGuard> {
    let target = c.dir.join("rootfs");
    if running {
        return Ok(RootfsGuard {
            target,
            mounted_here: false,
        });
    }
    let spec = berth_runtime::RootfsSpec {
        lower_dirs: layers,
        upper_dir: c.dir.join("upper"),
        work_dir: c.dir.join("work"),
        target: target.clone(),
        readonly,
    };
    berth_runtime::mount::mount_rootfs(&spec)?;
    Ok(RootfsGuard {
        target,
        mounted_here: true,
    })
}

/// `stat` named after the path the client asked for (the last component of `orig`).
fn named(mut stat: ArchiveStat, orig: &str) -> ArchiveStat {
    stat.name = Path::new(orig)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    stat
}

fn mtime_rfc3339(md: &std::fs::Metadata) -> String {
    chrono::DateTime::from_timestamp(md.mtime(), md.mtime_nsec() as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| crate::timefmt::ZERO_TIME.to_string())
}

fn stat_path(root: &Path, path: &str) -> Result<(ArchiveStat, PathBuf)> {
    let (host, _) = scoped_resolve(root, path, false)?;
    let md = std::fs::symlink_metadata(&host).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            EngineError::not_found(format!("Could not find the file {path} in container"))
        } else {
            EngineError::io(format!("stat {path}"), e)
        }
    })?;
    let link_target = if md.file_type().is_symlink() {
        scoped_resolve(root, path, true)?.1
    } else {
        String::new()
    };
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    Ok((
        ArchiveStat {
            name,
            size: md.len() as i64,
            mode: go_file_mode(&md),
            mtime: mtime_rfc3339(&md),
            link_target,
        },
        host,
    ))
}

/// Append `host` to `builder` as `name` (recursing into directories, never following symlinks).
fn append_tree<W: Write>(
    builder: &mut tar::Builder<W>,
    host: &Path,
    name: &Path,
) -> std::io::Result<()> {
    let md = std::fs::symlink_metadata(host)?;
    if md.is_dir() {
        builder.append_dir(name, host)?;
        let mut entries: Vec<_> = std::fs::read_dir(host)?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        entries.sort();
        for e in entries {
            append_tree(builder, &host.join(&e), &name.join(&e))?;
        }
        Ok(())
    } else {
        builder.append_path_with_name(host, name)
    }
}

/// Tar `host` into `out` with entries named under `name`.
pub(crate) fn tar_tree<W: Write>(host: &Path, name: &Path, out: W) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    if std::fs::symlink_metadata(host)?.is_dir() && name == Path::new("") {
        let mut entries: Vec<_> = std::fs::read_dir(host)?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        entries.sort();
        for e in entries {
            append_tree(&mut builder, &host.join(&e), Path::new(&e))?;
        }
    } else {
        append_tree(&mut builder, host, name)?;
    }
    builder.finish()
}

impl Engine {
    /// Runs `f` on the container's merged root; with `freeze`, a running container's
    /// processes are frozen meanwhile (see [`crate::freeze`]).
    async fn with_rootfs<T, F>(self: &Arc<Self>, name: &str, freeze: bool, f: F) -> Result<T>
    where
        F: FnOnce(&Path) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let c = self.lookup(name)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, name)?;
        let rec = c.snapshot();
        let running = rec.state.status == Status::Running;
        let store = self.store();
        let c2 = Arc::clone(&c);
        blocking(move || {
            let layers = store.layer_dirs(&rec.image_id)?;
            let guard = ensure_rootfs(&c2, running, layers, false)?;
            let _frozen = if freeze {
                Some(crate::freeze::Frozen::for_copy(&c2.dir, running)?)
            } else {
                None
            };
            f(&guard.target)
        })
        .await
    }

    /// Run `f` on the host directory that holds `path` (a volume's or bind's source when the
    /// path lies in one, else the container's rootfs) and the path inside it.
    async fn with_archive_root<T, F>(self: &Arc<Self>, name: &str, path: &str, f: F) -> Result<T>
    where
        F: FnOnce(&Path, &ArchiveRoot) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let c = self.lookup(name)?;
        let target = archive_root(&c.rec().mounts, path);
        match target.source.clone() {
            Some(source) => {
                let _op = c.op.lock().await;
                self.ensure_registered(&c, name)?;
                // The container's processes can swap paths inside its volumes too.
                let running = c.rec().state.status == Status::Running;
                let dir = c.dir.clone();
                blocking(move || {
                    let _frozen = crate::freeze::Frozen::for_copy(&dir, running)?;
                    f(&source, &target)
                })
                .await
            }
            None => {
                self.with_rootfs(name, true, move |root| f(root, &target))
                    .await
            }
        }
    }

    /// `docker diff`: changes of the container's upper dir against its image.
    pub async fn changes(self: &Arc<Self>, name: &str) -> Result<Vec<ChangeItem>> {
        let c = self.lookup(name)?;
        let rec = c.snapshot();
        let store = self.store();
        let upper = c.dir.join("upper");
        blocking(move || {
            let layers = store.layer_dirs(&rec.image_id)?;
            Ok(filter_changes(berth_store::fs::changes(&upper, &layers)?))
        })
        .await
    }

    /// `docker export`: a tar stream of the container's merged rootfs.
    pub async fn export(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<mpsc::Receiver<std::io::Result<Bytes>>> {
        let (tx, rx) = ByteSender::channel();
        let c = self.lookup(name)?;
        let engine = Arc::clone(self);
        let id = c.id.clone();
        tokio::spawn(async move {
            let res = engine
                .with_rootfs(&id, false, move |root| {
                    let mut tx = tx;
                    match tar_tree(root, Path::new(""), &mut tx) {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            tx.fail(std::io::Error::new(e.kind(), e.to_string()));
                            Ok(())
                        }
                    }
                })
                .await;
            match res {
                Ok(()) => engine.log_container_event(&id, "export", &[]).unwrap_or(()),
                Err(e) => tracing::warn!("export {id}: {e}"),
            }
        });
        Ok(rx)
    }

    /// `HEAD /containers/{id}/archive`: stat a path inside the container.
    pub async fn archive_stat(self: &Arc<Self>, name: &str, path: &str) -> Result<ArchiveStat> {
        let orig = path.to_string();
        self.with_archive_root(name, path, move |root, t| {
            Ok(named(stat_path(root, &t.path)?.0, &orig))
        })
        .await
    }

    /// `GET /containers/{id}/archive`: the stat and a tar stream of the path.
    pub async fn archive_get(
        self: &Arc<Self>,
        name: &str,
        path: &str,
    ) -> Result<(ArchiveStat, mpsc::Receiver<std::io::Result<Bytes>>)> {
        let (stat_tx, stat_rx) = tokio::sync::oneshot::channel();
        let (tx, rx) = ByteSender::channel();
        let engine = Arc::clone(self);
        let name_for_err = name.to_string();
        let name = name.to_string();
        let path = path.to_string();
        tokio::spawn(async move {
            let res = engine
                .with_archive_root(&name, &path.clone(), move |root, t| {
                    let (stat, host) = match stat_path(root, &t.path) {
                        Ok((stat, host)) => (named(stat, &path), host),
                        Err(e) => {
                            let _ = stat_tx.send(Err(e));
                            return Ok(());
                        }
                    };
                    let _ = stat_tx.send(Ok(stat.clone()));
                    let rebase = if path.ends_with("/.") || path == "." {
                        PathBuf::from(".")
                    } else {
                        PathBuf::from(&stat.name)
                    };
                    let mut tx = tx;
                    if let Err(e) = tar_tree(&host, &rebase, &mut tx) {
                        tx.fail(e);
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = res {
                tracing::warn!("archive: {e}");
            }
        });
        // If the task failed before sending a stat, the sender is dropped.
        let stat = match stat_rx.await {
            Ok(r) => r?,
            Err(_) => {
                // The task failed before stat: report why (e.g. no such container).
                self.lookup(&name_for_err)?;
                return Err(EngineError::system(
                    "archive failed: could not mount the container's rootfs",
                ));
            }
        };
        Ok((stat, rx))
    }

    /// `PUT /containers/{id}/archive`: extract a tar stream into a directory of the container.
    pub async fn archive_put(
        self: &Arc<Self>,
        name: &str,
        path: &str,
        body: Box<dyn std::io::Read + Send>,
    ) -> Result<()> {
        let c = self.lookup(name)?;
        if c.rec().host_config.readonly_rootfs {
            return Err(EngineError::new(
                crate::error::ErrorKind::Conflict,
                "container rootfs is marked read-only",
            ));
        }
        let path = path.to_string();
        self.with_archive_root(name, &path.clone(), move |root, t| {
            if !t.rw {
                return Err(EngineError::invalid(
                    "mounted volume is marked read-only".to_string(),
                ));
            }
            let (host, inner) = scoped_resolve(root, &t.path, true)?;
            let md = std::fs::metadata(&host).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    EngineError::not_found(format!("Could not find the file {path} in container"))
                } else {
                    EngineError::io(format!("stat {path}"), e)
                }
            })?;
            if !md.is_dir() {
                return Err(EngineError::invalid(format!(
                    "extraction point is not a directory: {path}"
                )));
            }
            berth_store::fs::extract_into(body, root, Path::new(&inner))?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn scoped_resolution_never_escapes() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/passwd"), "container").unwrap();
        std::fs::create_dir_all(r.join("tmp")).unwrap();
        symlink("/etc", r.join("tmp/hostetc")).unwrap();
        symlink("../../../../etc", r.join("tmp/rel")).unwrap();
        let (host, inner) = scoped_resolve(r, "/tmp/hostetc/passwd", false).unwrap();
        assert_eq!(host, r.join("etc/passwd"));
        assert_eq!(inner, "/etc/passwd");
        let (host, _) = scoped_resolve(r, "/tmp/rel/passwd", false).unwrap();
        assert_eq!(host, r.join("etc/passwd"));
        let (host, _) = scoped_resolve(r, "/../../etc/passwd", false).unwrap();
        assert_eq!(host, r.join("etc/passwd"));
        // The last component is not followed unless asked.
        let (host, _) = scoped_resolve(r, "/tmp/hostetc", false).unwrap();
        assert_eq!(host, r.join("tmp/hostetc"));
        let (_, inner) = scoped_resolve(r, "/tmp/hostetc", true).unwrap();
        assert_eq!(inner, "/etc");
        symlink("loop", r.join("loop")).unwrap();
        assert!(scoped_resolve(r, "/loop/x", false).is_err());
    }

    #[test]
    fn placeholders_are_filtered_from_changes() {
        let c = |p: &str, k: u8| ChangeItem {
            path: p.into(),
            kind: k,
        };
        let out = filter_changes(vec![
            c("/etc", 0),
            c("/etc/hosts", 1),
            c("/tmp", 0),
            c("/tmp/x", 1),
            c("/dev", 0),
            c("/dev/shm", 1),
        ]);
        assert_eq!(out, vec![c("/tmp", 0), c("/tmp/x", 1)]);
        let out = filter_changes(vec![c("/etc", 0), c("/etc/hosts", 1), c("/etc/motd", 1)]);
        assert_eq!(out, vec![c("/etc", 0), c("/etc/motd", 1)]);
    }

    #[test]
    fn go_modes() {
        let d = tempfile::tempdir().unwrap();
        let md = std::fs::metadata(d.path()).unwrap();
        assert_ne!(go_file_mode(&md) & (1 << 31), 0);
    }

    #[test]
    fn tar_tree_names_entries() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/b/f"), "x").unwrap();
        symlink("/etc/passwd", d.path().join("a/link")).unwrap();
        let mut out = Vec::new();
        tar_tree(&d.path().join("a"), Path::new("a"), &mut out).unwrap();
        let mut ar = tar::Archive::new(&out[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"a/b/f".to_string()), "{names:?}");
        assert!(names.contains(&"a/link".to_string()));
    }
}
