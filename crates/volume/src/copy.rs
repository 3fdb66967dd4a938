//! Copy-up: fill an empty volume with the image's content at its mount
//! point, as dockerd does, keeping owners, modes, timestamps, symlinks,
//! special files and the directory's own owner and mode.
//!
//! Written here rather than taken from a crate: the few copy crates copy
//! contents and permissions but not owners, device nodes or timestamps of
//! symlinks, which a volume seeded from an image needs.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};

fn err(context: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{context}: {e}"))
}

fn nix_err(context: String) -> impl FnOnce(nix::Error) -> io::Error {
    move |e| io::Error::new(io::Error::from(e).kind(), format!("{context}: {e}"))
}

/// Open `name` in `dir` (or the path `name` when `dir` is `None`) without
/// following a symlink at its last component.
fn open_at(dir: Option<&OwnedFd>, name: &Path, flags: OFlag, mode: Mode) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        dir.map(AsRawFd::as_raw_fd),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )?;
    // SAFETY: `fd` was just returned by a successful openat, so it is an
    // open descriptor, and nothing else owns it: the OwnedFd becomes its
    // only owner and closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Open the directory `name` of `dir` (not through a symlink).
fn open_dir(dir: Option<&OwnedFd>, name: &Path) -> nix::Result<OwnedFd> {
    open_at(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
}

fn times(md: &Metadata) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(md.atime(), md.atime_nsec()),
        TimeSpec::new(md.mtime(), md.mtime_nsec()),
    )
}

fn owner(md: &Metadata) -> (Option<Uid>, Option<Gid>) {
    (Some(Uid::from_raw(md.uid())), Some(Gid::from_raw(md.gid())))
}

/// Set owner, mode and times of the open file or directory `fd` from `md`
/// (owner first: a chown clears set-id bits).
fn apply_meta_fd(fd: &OwnedFd, md: &Metadata, dst: &Path) -> io::Result<()> {
    let (uid, gid) = owner(md);
    nix::unistd::fchown(fd.as_raw_fd(), uid, gid)
        .map_err(nix_err(format!("chown {}", dst.display())))?;
    nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(md.mode() & 0o7777))
        .map_err(nix_err(format!("chmod {}", dst.display())))?;
    let (atime, mtime) = times(md);
    nix::sys::stat::futimens(fd.as_raw_fd(), &atime, &mtime)
        .map_err(nix_err(format!("set times of {}", dst.display())))
}

/// Set owner, mode (not for symlinks) and times of the entry `name` of
/// `dir` from `md`, never following a symlink there.
fn apply_meta_at(dir: &OwnedFd, name: &OsStr, md: &Metadata, dst: &Path) -> io::Result<()> {
    let at = Some(dir.as_raw_fd());
    let (uid, gid) = owner(md);
    nix::unistd::fchownat(at, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(nix_err(format!("chown {}", dst.display())))?;
    if !md.file_type().is_symlink() {
        nix::sys::stat::fchmodat(
            at,
            name,
            Mode::from_bits_truncate(md.mode() & 0o7777),
            FchmodatFlags::NoFollowSymlink,
        )
        .map_err(nix_err(format!("chmod {}", dst.display())))?;
    }
    let (atime, mtime) = times(md);
    nix::sys::stat::utimensat(at, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink)
        .map_err(nix_err(format!("set times of {}", dst.display())))
}

/// Whether a create at the destination failed because the name is taken:
/// an existing entry (perhaps a symlink planted by another container
/// sharing the volume) is left alone, neither followed nor replaced.
fn taken(res: nix::Result<()>, dst: &Path, what: &str) -> io::Result<bool> {
    match res {
        Ok(()) => Ok(false),
        Err(Errno::EEXIST) => {
            tracing::debug!("copy-up: {} exists, not copied", dst.display());
            Ok(true)
        }
        Err(e) => Err(nix_err(format!("{what} {}", dst.display()))(e)),
    }
}

/// Copy the regular file `src` to the new entry `name` of `dir`.
fn copy_file(src: &Path, dir: &OwnedFd, name: &OsStr, md: &Metadata, dst: &Path) -> io::Result<()> {
    let created = open_at(
        Some(dir),
        Path::new(name),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        Mode::from_bits_truncate(0o600),
    );
    let out = match created {
        Ok(fd) => fd,
        Err(e) => {
            taken(Err(e), dst, "create")?;
            return Ok(());
        }
    };
    let mut input = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(src)
        .map_err(err(format!("open {}", src.display())))?;
    let mut output = std::fs::File::from(out);
    io::copy(&mut input, &mut output).map_err(err(format!(
        "copy {} to {}",
        src.display(),
        dst.display()
    )))?;
    apply_meta_fd(&OwnedFd::from(output), md, dst)
}

/// Copy one entry (recursively for directories) from `src` to the new
/// entry `name` of the directory `dir` (`dst` names it in messages). Every
/// destination operation is relative to `dir` and follows no symlink.
fn copy_entry(src: &Path, dir: &OwnedFd, name: &OsStr, dst: &Path) -> io::Result<()> {
    let md = std::fs::symlink_metadata(src).map_err(err(format!("stat {}", src.display())))?;
    let ft = md.file_type();
    let at = Some(dir.as_raw_fd());
    if ft.is_dir() {
        let made = nix::sys::stat::mkdirat(at, name, Mode::from_bits_truncate(0o700));
        if taken(made, dst, "mkdir")? {
            return Ok(());
        }
        let sub = open_dir(Some(dir), Path::new(name))
            .map_err(nix_err(format!("open {}", dst.display())))?;
        copy_children(src, &sub, dst)?;
        return apply_meta_fd(&sub, &md, dst);
    }
    if ft.is_file() {
        return copy_file(src, dir, name, &md, dst);
    }
    if ft.is_symlink() {
        let target = std::fs::read_link(src).map_err(err(format!("readlink {}", src.display())))?;
        if taken(nix::unistd::symlinkat(&target, at, name), dst, "symlink")? {
            return Ok(());
        }
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
        let made = nix::sys::stat::mknodat(
            at,
            name,
            kind,
            Mode::from_bits_truncate(md.mode() & 0o7777),
            md.rdev(),
        );
        if taken(made, dst, "mknod")? {
            return Ok(());
        }
    }
    apply_meta_at(dir, name, &md, dst)
}

fn copy_children(src: &Path, dir: &OwnedFd, dst: &Path) -> io::Result<()> {
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(src)
        .map_err(err(format!("read {}", src.display())))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(err(format!("read {}", src.display())))?;
    names.sort();
    for name in &names {
        copy_entry(&src.join(name), dir, name, &dst.join(name))?;
    }
    Ok(())
}

/// Copy the content of directory `src` into the existing directory `dst`,
/// then give `dst` the owner, mode and times of `src`. Nothing is done when
/// `src` is not a directory (a volume over a missing path stays empty).
///
/// The destination may be shared with running containers, so no symlink
/// there is ever followed: every entry is created relative to its parent's
/// descriptor, exclusively, and its metadata set through its own
/// descriptor or without following; an entry already there is skipped.
pub fn copy_up(src: &Path, dst: &Path) -> io::Result<()> {
    let md = match std::fs::symlink_metadata(src) {
        Ok(md) if md.is_dir() => md,
        _ => return Ok(()),
    };
    let root = open_dir(None, dst).map_err(nix_err(format!("open {}", dst.display())))?;
    copy_children(src, &root, dst)?;
    apply_meta_fd(&root, &md, dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::utimensat;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copies_tree_with_metadata() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        std::fs::create_dir(s.join("sub")).unwrap();
        std::fs::write(s.join("sub/f"), b"hi\n").unwrap();
        std::os::unix::fs::symlink("sub/f", s.join("link")).unwrap();
        nix::unistd::mkfifo(&s.join("fifo"), Mode::from_bits_truncate(0o640)).unwrap();
        std::fs::set_permissions(s.join("fifo"), std::fs::Permissions::from_mode(0o624)).unwrap();
        std::fs::set_permissions(s.join("sub/f"), std::fs::Permissions::from_mode(0o4750)).unwrap();
        nix::unistd::fchownat(
            None,
            &s.join("link"),
            Some(Uid::from_raw(7)),
            Some(Gid::from_raw(8)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
        nix::unistd::chown(
            &s.join("sub/f"),
            Some(Uid::from_raw(1000)),
            Some(Gid::from_raw(1000)),
        )
        .unwrap();
        std::fs::set_permissions(s.join("sub/f"), std::fs::Permissions::from_mode(0o4750)).unwrap();
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
        let t2 = TimeSpec::new(1_500_000_000, 0);
        utimensat(
            None,
            &s.join("sub"),
            &t2,
            &t2,
            UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
        copy_up(s, dst.path()).unwrap();
        let d = dst.path();
        assert_eq!(std::fs::read(d.join("sub/f")).unwrap(), b"hi\n");
        let md = std::fs::metadata(d.join("sub/f")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o4750);
        assert_eq!(md.mtime(), 1_600_000_000);
        assert_eq!((md.uid(), md.gid()), (1000, 1000));
        assert_eq!(
            std::fs::metadata(d.join("sub")).unwrap().mtime(),
            1_500_000_000
        );
        assert_eq!(
            std::fs::read_link(d.join("link")).unwrap(),
            Path::new("sub/f")
        );
        let lmd = std::fs::symlink_metadata(d.join("link")).unwrap();
        assert_eq!((lmd.uid(), lmd.gid()), (7, 8));
        let fifo = std::fs::symlink_metadata(d.join("fifo")).unwrap();
        assert!(fifo.file_type().is_fifo());
        assert_eq!(fifo.mode() & 0o7777, 0o624);
        assert_eq!(std::fs::metadata(d).unwrap().mode() & 0o7777, 0o750);
    }

    /// Symlinks planted in the volume (by another container sharing it)
    /// are neither followed nor replaced: nothing outside the volume is
    /// written, created, chowned or chmodded.
    #[test]
    fn planted_symlinks_are_not_followed() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let (s, d, o) = (src.path(), dst.path(), outside.path());
        // The image: a file, a directory with a file, a fifo.
        std::fs::write(s.join("f"), b"image").unwrap();
        std::fs::set_permissions(s.join("f"), std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::create_dir(s.join("dir")).unwrap();
        std::fs::write(s.join("dir/g"), b"image").unwrap();
        nix::unistd::mkfifo(&s.join("p"), Mode::from_bits_truncate(0o666)).unwrap();
        nix::unistd::chown(&s.join("f"), Some(Uid::from_raw(4242)), None).unwrap();
        // Outside: a victim file and directory.
        std::fs::write(o.join("victim"), b"host").unwrap();
        std::fs::set_permissions(o.join("victim"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::create_dir(o.join("vdir")).unwrap();
        // Planted in the volume.
        std::os::unix::fs::symlink(o.join("victim"), d.join("f")).unwrap();
        std::os::unix::fs::symlink(o.join("vdir"), d.join("dir")).unwrap();
        std::os::unix::fs::symlink(o.join("victim"), d.join("p")).unwrap();
        copy_up(s, d).unwrap();
        assert_eq!(std::fs::read(o.join("victim")).unwrap(), b"host");
        let vmd = std::fs::metadata(o.join("victim")).unwrap();
        assert_eq!(vmd.mode() & 0o7777, 0o600);
        assert_eq!(vmd.uid(), 0);
        assert_eq!(std::fs::read_dir(o.join("vdir")).unwrap().count(), 0);
        for planted in ["f", "dir", "p"] {
            assert!(std::fs::symlink_metadata(d.join(planted))
                .unwrap()
                .file_type()
                .is_symlink());
        }
        // A dangling planted symlink is not created through either.
        let src2 = tempfile::tempdir().unwrap();
        let dst2 = tempfile::tempdir().unwrap();
        std::fs::write(src2.path().join("new"), b"image").unwrap();
        std::os::unix::fs::symlink(o.join("created"), dst2.path().join("new")).unwrap();
        copy_up(src2.path(), dst2.path()).unwrap();
        assert!(!o.join("created").exists());
        // The volume root itself must not be a symlink.
        let link = o.join("rootlink");
        std::os::unix::fs::symlink(o.join("vdir"), &link).unwrap();
        assert!(copy_up(s, &link).is_err());
        assert_eq!(std::fs::read_dir(o.join("vdir")).unwrap().count(), 0);
    }

    #[test]
    fn missing_source_is_nothing_to_copy() {
        let dst = tempfile::tempdir().unwrap();
        copy_up(Path::new("/nonexistent/berth"), dst.path()).unwrap();
        assert_eq!(std::fs::read_dir(dst.path()).unwrap().count(), 0);
    }
}
