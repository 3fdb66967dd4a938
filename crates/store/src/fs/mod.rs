//! Filesystem helpers shared with the engine: safe tar extraction, tarring
//! from a container root, `docker diff` (overlay mounts live in berth-runtime's `mount` module).

mod changes;
pub(crate) mod extract;
pub(crate) mod resolve;
pub(crate) mod tarball;
#[cfg(test)]
mod tests;

use crate::error::{IoContext, StoreError};
use berth_spec::api::ChangeItem;
use extract::ExtractOpts;
use resolve::{join, resolve_parent_of, walk_dirs, Missing};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tarball::{TarOpts, TarWriter};

/// What extracting a layer found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Docker's layer size: regular file sizes plus symlink target lengths,
    /// hardlinks counted once.
    pub size: u64,
    /// Number of tar entries.
    pub entries: u64,
    /// The newest modification time (Unix seconds) among the entries.
    pub newest_mtime: u64,
}

/// Options of [`extract_into_with`] (`docker cp` into a container).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// Keep the uid/gid of the tar entries (`docker cp -a`); otherwise
    /// everything is owned by `0:0`.
    pub preserve_owner: bool,
}

/// What `docker cp` reports about a path (`X-Docker-Container-Path-Stat`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (type bits included), as Docker sends them.
    pub mode: u32,
    /// Modification time, RFC 3339.
    pub mtime: String,
    /// Symlink target (empty if not a symlink).
    pub link_target: String,
}

/// Extract an image layer tar into `dest` (created if missing), safely:
/// nothing is ever written outside `dest` whatever the tar says; `.wh.`
/// whiteouts become overlay whiteouts and `.wh..wh..opq` the opaque xattr.
pub fn extract_layer(reader: impl Read, dest: &Path) -> Result<LayerStats, StoreError> {
    std::fs::create_dir_all(dest).ctx("creating layer directory", dest)?;
    extract::extract(
        std::io::BufReader::with_capacity(256 * 1024, crate::split::Splitter::guard(reader)),
        dest,
        &[],
        ExtractOpts {
            layer: true,
            preserve_owner: true,
        },
        None,
    )
}

/// `docker cp` into a container: extract `reader` under `dest_in_root`
/// (resolved inside `root`, symlinks followed as if `root` were `/`), never
/// writing outside `root`. Entries are owned by 0:0.
pub fn extract_into(reader: impl Read, root: &Path, dest_in_root: &Path) -> Result<(), StoreError> {
    extract_into_with(reader, root, dest_in_root, CopyOptions::default())
}

/// [`extract_into`] with options.
pub fn extract_into_with(
    reader: impl Read,
    root: &Path,
    dest_in_root: &Path,
    opts: CopyOptions,
) -> Result<(), StoreError> {
    let dest = resolve_dir_in_root(root, dest_in_root)?;
    extract::extract(
        std::io::BufReader::with_capacity(256 * 1024, crate::split::Splitter::guard(reader)),
        root,
        &dest,
        ExtractOpts {
            layer: false,
            preserve_owner: opts.preserve_owner,
        },
        None,
    )
    .map(|_| ())
}

/// Resolve `path_in_root` inside `root` as if `root` were `/` (symlinks in
/// the parent components followed, never escaping `root`; the last
/// component not followed). Returns the host path.
pub fn resolve_in_root(root: &Path, path_in_root: &Path) -> Result<PathBuf, StoreError> {
    let (parent, last) = resolve_parent_of(root, path_in_root)?;
    let mut p = join(root, &parent);
    if let Some(l) = last {
        p.push(l);
    }
    Ok(p)
}

/// Create the directory `path_in_root` and its missing parents inside
/// `root` (symlinks followed with chroot semantics, never escaping `root`;
/// new directories get mode 0755). Returns the host path of the directory.
pub fn mkdir_all_in_root(root: &Path, path_in_root: &Path) -> Result<PathBuf, StoreError> {
    let comps: Vec<std::ffi::OsString> = path_in_root
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_os_string()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let resolved = walk_dirs(root, &[], &comps, Missing::Create)?;
    Ok(join(root, &resolved))
}

/// Stat a path inside a container root (for `docker cp`'s path stat).
pub fn stat_in_root(root: &Path, path_in_root: &Path) -> Result<PathStat, StoreError> {
    let (parent, last) = resolve_parent_of(root, path_in_root)?;
    let host = match &last {
        Some(l) => join(root, &parent).join(l),
        None => root.to_path_buf(),
    };
    let shown = path_in_root.to_string_lossy().into_owned();
    let meta =
        std::fs::symlink_metadata(&host).map_err(|_| StoreError::PathNotFound(shown.clone()))?;
    let link_target = if meta.file_type().is_symlink() {
        let t = std::fs::read_link(&host).ctx("reading symlink", &host)?;
        let mut base = PathBuf::from("/");
        for c in &parent {
            base.push(c);
        }
        clean_abs(&base.join(t))
    } else {
        String::new()
    };
    let mtime = chrono::DateTime::from_timestamp(meta.mtime(), meta.mtime_nsec() as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default();
    Ok(PathStat {
        name: last
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into()),
        size: meta.len() as i64,
        mode: go_file_mode(&meta),
        mtime,
        link_target,
    })
}

/// `docker cp` out of a container: tar the file or directory at
/// `path_in_root` (resolved inside `root`), named by its base name.
pub fn tar_path(root: &Path, path_in_root: &Path, out: impl Write) -> Result<(), StoreError> {
    let host = resolve_in_root(root, path_in_root)?;
    if std::fs::symlink_metadata(&host).is_err() {
        return Err(StoreError::PathNotFound(
            path_in_root.to_string_lossy().into_owned(),
        ));
    }
    let mut w = TarWriter::new(out, TarOpts::default());
    match host.file_name() {
        Some(name) if host != root => w.add_tree(&host, Path::new(name))?,
        _ => w.add_children(&host, Path::new(""))?,
    }
    w.finish().map(|_| ())
}

/// Tar the contents of `dir` deterministically (sorted names, no atime or
/// ctime), e.g. for `docker export` of a mounted rootfs.
pub fn tar_dir(dir: &Path, out: impl Write) -> Result<(), StoreError> {
    let mut w = TarWriter::new(out, TarOpts::default());
    w.add_children(dir, Path::new(""))?;
    w.finish().map(|_| ())
}

/// `docker diff`: the changes an overlay upper dir makes over `lower_dirs`
/// (any order), sorted by path.
pub fn changes(upper_dir: &Path, lower_dirs: &[PathBuf]) -> Result<Vec<ChangeItem>, StoreError> {
    changes::changes(upper_dir, lower_dirs)
}

/// Tar an overlay upper dir as an image layer (whiteouts converted),
/// leaving out `exclude` (paths relative to `dir`). Returns the writer.
pub fn tar_layer<W: Write>(dir: &Path, exclude: &[PathBuf], out: W) -> Result<W, StoreError> {
    tar_layer_clamped(dir, exclude, None, out)
}

/// [`tar_layer`] with modification times clamped to at most `clamp_mtime`
/// Unix seconds (`SOURCE_DATE_EPOCH`), for reproducible layers.
pub fn tar_layer_clamped<W: Write>(
    dir: &Path,
    exclude: &[PathBuf],
    clamp_mtime: Option<u64>,
    out: W,
) -> Result<W, StoreError> {
    let opts = TarOpts {
        layer: true,
        exclude: exclude.iter().cloned().collect(),
        clamp_mtime,
    };
    let mut w = TarWriter::new(out, opts);
    w.add_children(dir, Path::new(""))?;
    w.finish()
}

/// Resolve a directory inside `root` following every symlink (chroot
/// semantics); it must exist.
fn resolve_dir_in_root(root: &Path, dir: &Path) -> Result<Vec<std::ffi::OsString>, StoreError> {
    let comps: Vec<std::ffi::OsString> = dir
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_os_string()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    walk_dirs(root, &[], &comps, Missing::Fail)
}

/// Clean an absolute path lexically.
fn clean_abs(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// Go's `os.FileMode` for a file's metadata.
fn go_file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::FileTypeExt;
    let mode = meta.permissions().mode();
    let mut m = mode & 0o777;
    if mode & libc::S_ISUID != 0 {
        m |= 1 << 23;
    }
    if mode & libc::S_ISGID != 0 {
        m |= 1 << 22;
    }
    if mode & libc::S_ISVTX != 0 {
        m |= 1 << 20;
    }
    let ft = meta.file_type();
    if ft.is_dir() {
        m |= 1 << 31;
    } else if ft.is_symlink() {
        m |= 1 << 27;
    } else if ft.is_block_device() {
        m |= 1 << 26;
    } else if ft.is_char_device() {
        m |= (1 << 26) | (1 << 21);
    } else if ft.is_fifo() {
        m |= 1 << 25;
    } else if ft.is_socket() {
        m |= 1 << 24;
    }
    m
}
