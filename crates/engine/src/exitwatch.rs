//! Waiting for a shim process to exit, for shims the daemon did not spawn too
//! (after a daemon restart): `pidfd_open(2)` polled through tokio, with a
//! `/proc` polling fallback on kernels without pidfds.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new file
    // descriptor or -1; it reads no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| std::io::Error::other("pidfd out of range"))?;
    // SAFETY: `fd` was just returned by the kernel, is open and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn pid_exists(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie ("Z" state) has exited.
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Resolve when process `pid` has exited (returns at once if it does not exist).
pub(crate) async fn wait_pid_exit(pid: i32) {
    if pid <= 0 {
        return;
    }
    match pidfd_open(pid) {
        // SAFETY: the OwnedFd is moved into the AsyncFd, so the descriptor
        // stays open and unchanged until the AsyncFd is dropped.
        Ok(fd) => match unsafe { AsyncFd::register(fd) } {
            Ok(afd) => {
                // A pidfd becomes readable when the process exits.
                if let Ok(mut guard) = afd.readable().await {
                    guard.retain_ready();
                }
                return;
            }
            Err(e) => tracing::warn!("AsyncFd for pidfd of {pid}: {e}; polling"),
        },
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return,
        Err(e) => tracing::debug!("pidfd_open {pid}: {e}; polling"),
    }
    while pid_exists(pid) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notices_exit_of_a_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let waiter = tokio::spawn(wait_pid_exit(pid));
        let started = std::time::Instant::now();
        // Reap from another thread so the pid stays valid until exit.
        std::thread::spawn(move || child.wait());
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(150));
        // Non-existent pid returns immediately.
        tokio::time::timeout(Duration::from_secs(1), wait_pid_exit(i32::MAX - 1))
            .await
            .unwrap();
    }
}
