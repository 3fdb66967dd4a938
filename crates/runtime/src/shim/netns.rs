//! Bring up the loopback interface in a container's new network namespace
//! (Docker's `--network none` gives a container `lo`, UP, with 127.0.0.1).
//! libcontainer does not do it, so the single-threaded shim enters the
//! namespace for a moment.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};

use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::error::RuntimeError;

/// Set `lo` UP inside the network namespace of process `pid`.
pub fn loopback_up(pid: i32) -> Result<(), RuntimeError> {
    let own_path = "/proc/self/ns/net";
    let own = File::open(own_path).map_err(|e| RuntimeError::io("open", own_path, e))?;
    let target_path = format!("/proc/{pid}/ns/net");
    let target = File::open(&target_path).map_err(|e| RuntimeError::io("open", &target_path, e))?;
    setns(target.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|e| RuntimeError::sys(format!("setns {target_path}"), e))?;
    let result = set_up("lo");
    setns(own.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|e| RuntimeError::sys("setns back to the host network namespace", e))?;
    result
}

fn set_up(name: &str) -> Result<(), RuntimeError> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| RuntimeError::sys("socket", e))?;
    // SAFETY: ifreq is a plain C struct (integers and unions of integers);
    // all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *dst = src as libc::c_char;
    }
    // SAFETY: `sock` is an open socket for the duration of the call and `req`
    // is a valid, properly aligned ifreq the kernel reads and writes in place.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
    if rc < 0 {
        return Err(RuntimeError::sys(
            format!("SIOCGIFFLAGS {name}"),
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: SIOCGIFFLAGS succeeded, so the union holds the flags member.
    unsafe {
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
    }
    // SAFETY: as above; the kernel only reads `req`.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) };
    if rc < 0 {
        return Err(RuntimeError::sys(
            format!("SIOCSIFFLAGS {name}"),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}
