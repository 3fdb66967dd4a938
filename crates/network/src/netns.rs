//! Network namespaces bind-mounted on files (`<exec_root>/netns/<id>`).
//!
//! Namespaces are per thread, so every operation that has to be inside a namespace runs on a
//! short-lived dedicated std thread; the caller's thread (maybe a tokio worker) never changes
//! namespace. All functions here are blocking.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::{NetError, Result};

/// `NSFS_MAGIC` from linux/magic.h: the filesystem type of namespace files.
const NSFS_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0x6e73_6673);

/// Creates a new network namespace and bind-mounts it on `path` (parent directories are
/// created); its `lo` is brought up. Fails if `path` already holds a namespace.
pub fn create(path: &Path) -> Result<()> {
    if exists(path) {
        return Err(NetError::Other(format!(
            "network namespace {} already exists",
            path.display()
        )));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| NetError::io(format!("creating {}", parent.display()), e))?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| NetError::io(format!("creating {}", path.display()), e))?;
    let target = path.to_path_buf();
    let res = std::thread::Builder::new()
        .name("berth-netns".into())
        .spawn(move || -> Result<()> {
            unshare(CloneFlags::CLONE_NEWNET)
                .map_err(|e| NetError::errno("unshare(CLONE_NEWNET)", e))?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| {
                NetError::errno(format!("bind-mounting netns on {}", target.display()), e)
            })?;
            loopback_up()
        })
        .map_err(|e| NetError::io("spawning netns thread", e))?
        .join()
        .unwrap_or_else(|_| Err(NetError::Other("netns thread panicked".into())));
    if res.is_err() {
        let _ = remove(path);
    }
    res
}

/// Brings `lo` of the current thread's network namespace up (SIOCSIFFLAGS).
fn loopback_up() -> Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| NetError::errno("socket for lo", e))?;
    // SAFETY: `ifreq` is a plain C struct for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: `sock` is an open socket, `req` a valid, NUL-terminated ifreq that outlives the
    // call; SIOCGIFFLAGS only writes `ifr_flags` inside it.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
    if rc < 0 {
        return Err(NetError::io(
            "SIOCGIFFLAGS lo",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the kernel filled `ifru_flags` (a c_short, any bit pattern is valid) above.
    unsafe {
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
    }
    // SAFETY: as above; SIOCSIFFLAGS only reads the ifreq.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) };
    if rc < 0 {
        return Err(NetError::io(
            "SIOCSIFFLAGS lo up",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Unmounts (lazily) and unlinks the namespace file at `path`; Ok if absent.
///
/// When no process, socket or other mount holds the namespace any more, the kernel destroys it
/// asynchronously, deleting its interfaces and so the host side of their veth pairs.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(NetError::errno(format!("unmounting {}", path.display()), e)),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetError::io(format!("removing {}", path.display()), e)),
    }
}

/// Whether `path` is a mounted namespace file.
pub fn exists(path: &Path) -> bool {
    match nix::sys::statfs::statfs(path) {
        Ok(st) => st.filesystem_type() == NSFS_MAGIC,
        Err(_) => false,
    }
}

/// Opens the namespace file at `path` (for `setns` or `IFLA_NET_NS_FD`).
pub fn open(path: &Path) -> Result<File> {
    if !exists(path) {
        return Err(NetError::Other(format!(
            "{} is not a network namespace",
            path.display()
        )));
    }
    File::open(path).map_err(|e| NetError::io(format!("opening netns {}", path.display()), e))
}

/// Runs `f` on a dedicated thread that has joined the network namespace `ns` (an open
/// namespace file), and returns its result. The calling thread's namespace is untouched.
pub fn run_in<T, F>(ns: &File, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("berth-netns".into())
            .spawn_scoped(s, move || -> Result<T> {
                setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| NetError::errno("setns", e))?;
                Ok(f())
            })
            .map_err(|e| NetError::io("spawning netns thread", e))?
            .join()
            .unwrap_or_else(|_| Err(NetError::Other("netns thread panicked".into())))
    })
}
