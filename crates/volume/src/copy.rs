//! Copy-up: fill an empty volume with the image's content at its mount
//! point, as dockerd does, keeping owners, modes, timestamps, symlinks,
//! special files and the directory's own owner and mode.
//!
//! Written here rather than taken from a crate: the few copy crates copy
//! contents and permissions but not owners, device nodes or timestamps of
//! symlinks, which a volume seeded from an image needs.

use std::ffi::OsStr;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use nix::sys::stat::{utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};

fn err(context: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{context}: {e}"))
}

fn nix_err(context: String) -> impl FnOnce(nix::Error) -> io::Error {
    move |e| io::Error::new(io::Error::from(e).kind(), format!("{context}: {e}"))
}

/// Set owner, mode (not for symlinks) and times of `dst` from `md`.
fn apply_meta(dst: &Path, md: &std::fs::Metadata) -> io::Result<()> {
    let is_link = md.file_type().is_symlink();
    nix::unistd::fchownat(
        None,
        dst,
        Some(Uid::from_raw(md.uid())),
        Some(Gid::from_raw(md.gid())),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(nix_err(format!("chown {}", dst.display())))?;
    if !is_link {
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(err(format!("chmod {}", dst.display())))?;
    }
    let atime = TimeSpec::new(md.atime(), md.atime_nsec());
    let mtime = TimeSpec::new(md.mtime(), md.mtime_nsec());
    utimensat(None, dst, &atime, &mtime, UtimensatFlags::NoFollowSymlink)
        .map_err(nix_err(format!("set times of {}", dst.display())))
}

/// Copy one entry (recursively for directories) from `src` to the new path `dst`.
fn copy_entry(src: &Path, dst: &Path) -> io::Result<()> {
    let md = std::fs::symlink_metadata(src).map_err(err(format!("stat {}", src.display())))?;
    let ft = md.file_type();
    if ft.is_dir() {
        std::fs::create_dir(dst).map_err(err(format!("mkdir {}", dst.display())))?;
        copy_children(src, dst)?;
    } else if ft.is_symlink() {
        let target = std::fs::read_link(src).map_err(err(format!("readlink {}", src.display())))?;
        std::os::unix::fs::symlink(&target, dst)
            .map_err(err(format!("symlink {}", dst.display())))?;
    } else if ft.is_file() {
        std::fs::copy(src, dst).map_err(err(format!(
            "copy {} to {}",
            src.display(),
            dst.display()
        )))?;
    } else {
        let kind = if ft.is_block_device() {
            SFlag::S_IFBLK
        } else if ft.is_char_device() {
            SFlag::S_IFCHR
        } else if ft.is_fifo() {
            SFlag::S_IFIFO
        } else {
            // Sockets are not copied (dockerd skips them too).
            return Ok(());
        };
        nix::sys::stat::mknod(
            dst,
            kind,
            Mode::from_bits_truncate(md.mode() & 0o7777),
            md.rdev(),
        )
        .map_err(nix_err(format!("mknod {}", dst.display())))?;
    }
    apply_meta(dst, &md)
}

fn copy_children(src: &Path, dst: &Path) -> io::Result<()> {
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(src)
        .map_err(err(format!("read {}", src.display())))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(err(format!("read {}", src.display())))?;
    names.sort();
    for name in &names {
        copy_entry(&src.join(name), &dst.join(name as &OsStr))?;
    }
    Ok(())
}

/// Copy the content of directory `src` into the existing directory `dst`,
/// then give `dst` the owner, mode and times of `src`. Nothing is done when
/// `src` is not a directory (a volume over a missing path stays empty).
pub fn copy_up(src: &Path, dst: &Path) -> io::Result<()> {
    let md = match std::fs::symlink_metadata(src) {
        Ok(md) if md.is_dir() => md,
        _ => return Ok(()),
    };
    copy_children(src, dst)?;
    apply_meta(dst, &md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_tree_with_metadata() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        std::fs::create_dir(s.join("sub")).unwrap();
        std::fs::write(s.join("sub/f"), b"hi\n").unwrap();
        std::os::unix::fs::symlink("sub/f", s.join("link")).unwrap();
        nix::unistd::mkfifo(&s.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        std::fs::set_permissions(s.join("sub/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        let am_root = nix::unistd::geteuid().is_root();
        if am_root {
            nix::unistd::chown(
                &s.join("sub/f"),
                Some(Uid::from_raw(1000)),
                Some(Gid::from_raw(1000)),
            )
            .unwrap();
        }
        std::fs::set_permissions(s, std::fs::Permissions::from_mode(0o750)).unwrap();
        let t = TimeSpec::new(1_600_000_000, 0);
        utimensat(
            None,
            &s.join("sub/f"),
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
        copy_up(s, dst.path()).unwrap();
        let d = dst.path();
        assert_eq!(std::fs::read(d.join("sub/f")).unwrap(), b"hi\n");
        let md = std::fs::metadata(d.join("sub/f")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o640);
        assert_eq!(md.mtime(), 1_600_000_000);
        if am_root {
            assert_eq!((md.uid(), md.gid()), (1000, 1000));
        }
        assert_eq!(
            std::fs::read_link(d.join("link")).unwrap(),
            Path::new("sub/f")
        );
        assert!(std::fs::symlink_metadata(d.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo());
        assert_eq!(std::fs::metadata(d).unwrap().mode() & 0o7777, 0o750);
    }

    #[test]
    fn missing_source_is_nothing_to_copy() {
        let dst = tempfile::tempdir().unwrap();
        copy_up(Path::new("/nonexistent/berth"), dst.path()).unwrap();
        assert_eq!(std::fs::read_dir(dst.path()).unwrap().count(), 0);
    }
}
