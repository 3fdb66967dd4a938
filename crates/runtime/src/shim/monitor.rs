//! Shim phase 2: copy the container's output into the json-file log, reap the
//! init, record the exit and clean up.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};

use chrono::Utc;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::cgroup;
use crate::logs::LogWriter;
use crate::mount::unmount_all;
use crate::state::{exit_code_of, write_exit, ExitInfo};

use super::oom::OomWatch;
use super::relay::{pidfd, Relay, RelayConfig};
use super::start::Started;

/// How long a container runs before the shim gives back the memory it used
/// to create it: short-lived containers (`run --rm ... true`) exit first and
/// spare the shim refaulting its code pages for the teardown.
const RELEASE_MEMORY_AFTER_MS: u16 = 200;

/// Supervise the started container until its init exits; returns the shim's exit code.
pub fn supervise(started: Started) -> i32 {
    let Started {
        container,
        container_dir,
        rootfs_target,
        cgroup_path,
        init_pid,
        io,
        listener,
        clients,
        stdin_once,
        log_path,
    } = started;
    let log = match LogWriter::open(&log_path) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("berth shim: {e}");
            None
        }
    };
    let mut relay = Relay::new(RelayConfig {
        listener,
        clients,
        io,
        stdin_once,
        log,
        pidfd: pidfd(init_pid),
        oom: OomWatch::new(&cgroup_path, &container_dir, Some(init_pid)),
        idle_hook: Some((
            std::time::Duration::from_millis(RELEASE_MEMORY_AFTER_MS.into()),
            release_free_memory,
        )),
    });
    relay.run();

    // The output has ended and the init has exited (or closed its output
    // and must be waited for). Reap it.
    let pid = Pid::from_raw(init_pid);
    let exit_code = loop {
        match waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = exit_code_of(status) {
                    break code;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("berth shim: waitpid {init_pid}: {e}");
                break 255;
            }
        }
    };
    let finished_at = Utc::now();
    let oom_killed = match relay.oom_mut() {
        Some(watch) => watch.finish(),
        None => cgroup::oom_killed(&cgroup_path),
    };
    relay.tell_oom_kills();
    relay.finish(exit_code);

    // Clean up before recording the exit: once exit.json exists, the container
    // is stopped (cgroup removed, rootfs unmounted from the host) and may be
    // removed. Only the cheap steps happen here; the slow one (the final
    // release of the overlay superblock, which syncs the whole upper file
    // system) is left to a detached child after the exit is recorded.
    let deferred = teardown(container, &cgroup_path, &rootfs_target);
    // Reap anything else that was our child (libcontainer helpers).
    while let Ok(status) = waitpid(None::<Pid>, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
    let info = ExitInfo {
        exit_code,
        oom_killed,
        finished_at,
    };
    let code = match write_exit(&container_dir, &info) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth shim: {e}");
            1
        }
    };
    release_in_background(deferred);
    code
}

/// Stop using the container's resources: kill what is left in its cgroup and
/// remove the cgroup, remove libcontainer's state directory (what
/// libcontainer's `delete` does for a stopped container without hooks, minus
/// its costly cgroup discovery), and lazily unmount the rootfs. Returns an
/// `O_PATH` descriptor of the detached rootfs (when it could be opened): it
/// holds the last reference of the overlay mount, so the expensive release of
/// the superblock happens when it is closed, not inside `umount2`. The state
/// directory is renamed to a trash name ([`crate::control::trash_name`]),
/// deleted later.
fn teardown(
    container: libcontainer::container::Container,
    cgroup_path: &str,
    rootfs_target: &std::path::Path,
) -> Deferred {
    let state_dir = container.root.clone();
    drop(container);
    cgroup::kill_and_remove(cgroup_path);
    // Renaming is one cheap metadata operation; deleting the files can cost
    // milliseconds each on a disk file system, so the child does it.
    let trash = crate::control::trash_name(&state_dir);
    let state_trash = match std::fs::rename(&state_dir, &trash) {
        Ok(()) => Some(trash),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            eprintln!("berth shim: rename {}: {e}", state_dir.display());
            let _ = std::fs::remove_dir_all(&state_dir);
            None
        }
    };
    let rootfs_ref = nix::fcntl::open(
        rootfs_target,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
    // SAFETY: `open` just returned this descriptor and nothing else owns it.
    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    unmount_all(rootfs_target);
    Deferred {
        rootfs_ref,
        state_trash,
    }
}

/// The slow part of the teardown, done after the exit is recorded.
struct Deferred {
    /// `O_PATH` descriptor holding the detached rootfs mount.
    rootfs_ref: Option<OwnedFd>,
    /// libcontainer's state directory, renamed, to delete.
    state_trash: Option<std::path::PathBuf>,
}

impl Deferred {
    fn finish(self) {
        drop(self.rootfs_ref);
        if let Some(dir) = self.state_trash {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Finish the teardown in a forked child: close the last reference of the
/// detached rootfs (the file system's shutdown syncs its upper file system)
/// and delete libcontainer's old state. The daemon learns of the exit when
/// the shim exits and must not wait for that. Without a child (fork or pipe
/// failed) it is done here.
fn release_in_background(work: Deferred) {
    if work.rootfs_ref.is_none() && work.state_trash.is_none() {
        return;
    }
    // The child must hold the last reference: it waits for the end of file on
    // this pipe, which comes once the shim dropped its copies.
    let (gate_r, gate_w) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("berth shim: pipe: {e}");
            work.finish();
            return;
        }
    };
    // SAFETY: the shim is single-threaded (libcontainer requires it and no
    // thread was started), so the child is a complete copy of the process and
    // may run any code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(gate_w);
            let mut gate = File::from(gate_r);
            let mut byte = [0u8; 1];
            while matches!(gate.read(&mut byte), Err(ref e) if e.kind() == std::io::ErrorKind::Interrupted)
            {
            }
            work.finish();
            // SAFETY: _exit ends the process at once without running the
            // parent's atexit handlers or flushing its stdio buffers twice.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(gate_r);
            drop(work.rootfs_ref);
            drop(gate_w);
        }
        Err(e) => {
            eprintln!("berth shim: fork: {e}");
            drop((gate_r, gate_w));
            work.finish();
        }
    }
}

/// Give the heap freed after the container's creation (spec, seccomp profile,
/// libcontainer's working data) back to the system: the shim lives as long as
/// the container, so its resident size matters.
pub(super) fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap pages; it has no
    // preconditions and the shim is single-threaded.
    unsafe {
        libc::malloc_trim(0);
    }
    drop_code_pages();
}

/// Parse the address range of a read+execute private file mapping from a
/// `/proc/self/maps` line (`start-end r-xp offset dev inode path`).
fn code_mapping(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let path = fields.nth(3)?;
    if perms != "r-xp" || !path.starts_with('/') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then_some((start, end))
}

/// Unmap from this process the code pages touched while creating the
/// container (libcontainer, serde, ...): they stay in the page cache and fault
/// back in on use, so the waiting shim's resident set is only what the log
/// loop needs.
fn drop_code_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for (start, end) in maps.lines().filter_map(code_mapping) {
        // SAFETY: [start, end) is a whole private, read+execute mapping of a
        // file (the executable or a shared library), page-aligned as every
        // mapping is. Such a mapping is never written (no text relocations in
        // PIE Rust binaries and system libraries), so its pages equal the file's
        // contents; MADV_DONTNEED only drops them from our page tables and the
        // next access reads the identical bytes back from the page cache. No
        // Rust reference points into code pages.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::code_mapping;

    #[test]
    fn selects_only_file_code_mappings() {
        assert_eq!(
            code_mapping("56500355f000-5650039bf000 r-xp 001b1000 fe:00 5424622   /usr/bin/berth"),
            Some((0x5650_0355_f000, 0x5650_039b_f000))
        );
        assert_eq!(
            code_mapping("7ffd1000-7ffd3000 r-xp 00000000 00:00 0   [vdso]"),
            None
        );
        assert_eq!(
            code_mapping("5650-5660 r--p 00000000 fe:00 1   /usr/bin/berth"),
            None
        );
        assert_eq!(code_mapping("5650-5660 rw-p 00000000 00:00 0"), None);
        // Drops this test process's own code pages: it must keep running.
        super::drop_code_pages();
    }
}
