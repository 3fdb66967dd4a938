//! Shim phase 2: copy the container's output into the json-file log, reap the
//! init, record the exit and clean up.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;

use chrono::Utc;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::cgroup;
use crate::logs::{LineSplitter, LogWriter};
use crate::mount::unmount_all;
use crate::state::{exit_code_of, write_exit, ExitInfo};

use super::start::Started;

/// One of the container's output streams.
struct Stream {
    name: &'static str,
    file: Option<File>,
    splitter: LineSplitter,
}

/// Supervise the started container until its init exits; returns the shim's exit code.
pub fn supervise(started: Started) -> i32 {
    let Started {
        mut container,
        container_dir,
        rootfs_target,
        cgroup_path,
        init_pid,
        stdout,
        stderr,
        log_path,
        ..
    } = started;
    let mut log = match LogWriter::open(&log_path) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("berth shim: {e}");
            None
        }
    };
    let mut streams = [
        Stream {
            name: "stdout",
            file: Some(File::from(stdout)),
            splitter: LineSplitter::default(),
        },
        Stream {
            name: "stderr",
            file: Some(File::from(stderr)),
            splitter: LineSplitter::default(),
        },
    ];
    release_free_memory();
    pump(&mut streams, &mut log);

    // Both pipes are closed: every process of the container has exited or
    // closed its output. Reap the init (blocking).
    let pid = Pid::from_raw(init_pid);
    let exit_code = loop {
        match waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = exit_code_of(status) {
                    break code;
                }
                if let WaitStatus::StillAlive = status {
                    continue;
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
    let oom_killed = cgroup::oom_killed(&cgroup_path);

    // Clean up before recording the exit: once exit.json exists, the container
    // is fully stopped (rootfs unmounted, cgroup removed) and may be removed.
    if let Err(e) = container.delete(true) {
        eprintln!("berth shim: delete container: {e}");
    }
    drop(container);
    cgroup::remove_cgroup(&cgroup_path);
    unmount_all(&rootfs_target);
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
    match write_exit(&container_dir, &info) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth shim: {e}");
            1
        }
    }
}

/// Give the heap freed after the container's creation (spec, seccomp profile,
/// libcontainer's working data) back to the system: the shim lives as long as
/// the container, so its resident size matters.
fn release_free_memory() {
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

/// Copy both streams into the log until both reach end of file.
fn pump(streams: &mut [Stream; 2], log: &mut Option<LogWriter>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let open: Vec<usize> = (0..streams.len())
            .filter(|i| streams[*i].file.is_some())
            .collect();
        if open.is_empty() {
            return;
        }
        let mut ready = vec![false; streams.len()];
        {
            let mut fds: Vec<PollFd> = open
                .iter()
                .filter_map(|i| streams[*i].file.as_ref())
                .map(|f| PollFd::new(f.as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    eprintln!("berth shim: poll: {e}");
                    return;
                }
            }
            for (slot, fd) in open.iter().zip(fds.iter()) {
                ready[*slot] = fd.revents().is_some_and(|r| !r.is_empty());
            }
        }
        for (i, stream) in streams.iter_mut().enumerate() {
            if !ready[i] {
                continue;
            }
            let Some(file) = stream.file.as_mut() else {
                continue;
            };
            match file.read(&mut buf) {
                Ok(0) => {
                    finish(stream, log);
                }
                Ok(n) => {
                    let name = stream.name;
                    stream.splitter.push(&buf[..n], &mut |chunk| {
                        if let Some(l) = log.as_mut() {
                            if let Err(e) = l.write_entry(name, chunk) {
                                eprintln!("berth shim: write log: {e}");
                            }
                        }
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    eprintln!("berth shim: read {}: {e}", stream.name);
                    finish(stream, log);
                }
            }
        }
    }
}

fn finish(stream: &mut Stream, log: &mut Option<LogWriter>) {
    stream.file = None;
    let name = stream.name;
    stream.splitter.finish(&mut |chunk| {
        if let Some(l) = log.as_mut() {
            let _ = l.write_entry(name, chunk);
        }
    });
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
