//! Daemon-side control of shims: spawn, liveness, signals, cleanup.
//!
//! Everything here is safe to call from a multi-threaded (tokio) process:
//! it only uses `std::process::Command` (fork+exec), `kill(2)` and file operations,
//! never libcontainer.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::attach::{AttachConn, AttachOptions};
use crate::error::RuntimeError;
use crate::spec::ContainerSpec;
use crate::state::{ShimStarted, ShimState};

/// File name of the shim's own stderr inside the container directory.
pub const SHIM_LOG_FILE: &str = "shim.log";
/// Sub-directory of the exec root holding libcontainer's state.
pub const RUNTIME_STATE_DIR: &str = "runtime";

/// The one line the shim writes on its stdout when the container has started or failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Readiness {
    /// The container's init is running.
    Started {
        shim_pid: i32,
        init_pid: i32,
        started_at: chrono::DateTime<chrono::Utc>,
    },
    /// The container could not be started.
    Failed { message: String },
}

/// Spawn `<exe> shim <container_dir> <exec_root>` detached (the shim forks and
/// starts a new session; stdin is /dev/null, stderr goes to `container_dir/shim.log`)
/// and block until it reports that the container's process started or failed.
///
/// The engine must have written `container_dir/spec.json` first.
pub fn spawn_shim(
    exe: &Path,
    container_dir: &Path,
    exec_root: &Path,
) -> Result<ShimStarted, RuntimeError> {
    let args: Vec<OsString> = vec!["shim".into(), container_dir.into(), exec_root.into()];
    spawn_with(exe, &args, container_dir, None).map(|(s, _)| s)
}

/// [`spawn_shim`] with an attach client connected before the container's
/// process starts (so none of its output is missed: `docker run` without
/// `-d`, `start -a`). The connection uses the streams in `opts`.
pub fn spawn_shim_attached(
    exe: &Path,
    container_dir: &Path,
    exec_root: &Path,
    opts: AttachOptions,
) -> Result<(ShimStarted, AttachConn), RuntimeError> {
    let args: Vec<OsString> = vec!["shim".into(), container_dir.into(), exec_root.into()];
    match spawn_with(exe, &args, container_dir, Some(opts))? {
        (s, Some(c)) => Ok((s, c)),
        (_, None) => Err(RuntimeError::Shim("attach connection missing".into())),
    }
}

/// Run `<exe> <args>` as a shim reporting readiness on its stdout, its stderr
/// appended to `<dir>/shim.log`; with `attach`, one end of a socketpair is
/// handed to it as descriptor 3 (argument `attach=<flags>`) and the other
/// end returned.
pub(crate) fn spawn_with(
    exe: &Path,
    args: &[OsString],
    dir: &Path,
    attach: Option<AttachOptions>,
) -> Result<(ShimStarted, Option<AttachConn>), RuntimeError> {
    use std::os::unix::process::CommandExt;
    let log_path = dir.join(SHIM_LOG_FILE);
    let shim_log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| RuntimeError::io("open", &log_path, e))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(shim_log))
        .env_remove("RUST_LOG");
    let mut ours = None;
    if let Some(opts) = attach {
        let (mine, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| RuntimeError::io("socketpair", dir, e))?;
        cmd.arg(format!("{}{}", crate::shim::ATTACH_ARG, opts.flags()));
        let raw = theirs.as_raw_fd();
        let target = crate::shim::ATTACH_FD;
        // SAFETY: the closure runs in the forked child before exec and only
        // calls dup2/fcntl, which are async-signal-safe; `theirs` stays open
        // in the parent until the spawn returned, so `raw` is valid in the child.
        unsafe {
            cmd.pre_exec(move || {
                if raw == target {
                    if libc::fcntl(raw, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(raw, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        ours = Some((mine, theirs));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| RuntimeError::io("spawn shim", exe, e))?;
    // Our copy of the shim's end must go, or we would never see it close.
    let conn = ours.map(|(mine, theirs)| {
        drop(theirs);
        AttachConn::from_stream(mine)
    });
    let line = match child.stdout.take() {
        Some(out) => {
            if !wait_readable(&out, READINESS_TIMEOUT_MS) {
                let _ = child.wait();
                return Err(RuntimeError::Shim(format!(
                    "no readiness report within {} s: {}",
                    READINESS_TIMEOUT_MS / 1000,
                    shim_log_tail(dir)
                )));
            }
            let mut line = String::new();
            let mut reader = BufReader::new(out);
            reader
                .read_line(&mut line)
                .map_err(|e| RuntimeError::io("read shim readiness", dir, e))?;
            line
        }
        None => String::new(),
    };
    // The process we spawned forks the real shim and exits at once: reap it.
    let status = child
        .wait()
        .map_err(|e| RuntimeError::io("wait shim", exe, e))?;
    parse_readiness(&line, dir, status).map(|s| (s, conn))
}

/// How long `spawn_shim` waits for the shim's report before giving up.
const READINESS_TIMEOUT_MS: u16 = 60_000;

/// Wait until `fd` is readable (data or end of file); false on timeout.
fn wait_readable(fd: &impl std::os::fd::AsFd, timeout_ms: u16) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.into());
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let left_ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(left_ms)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(Errno::EINTR) => continue,
            // Let the read report the problem.
            Err(_) => return true,
        }
    }
}

fn parse_readiness(
    line: &str,
    container_dir: &Path,
    status: std::process::ExitStatus,
) -> Result<ShimStarted, RuntimeError> {
    if line.trim().is_empty() {
        let tail = shim_log_tail(container_dir);
        return Err(RuntimeError::Shim(format!(
            "shim exited ({status}) without reporting: {tail}"
        )));
    }
    match serde_json::from_str::<Readiness>(line.trim()) {
        Ok(Readiness::Started {
            shim_pid,
            init_pid,
            started_at,
        }) => Ok(ShimStarted {
            shim_pid,
            init_pid,
            started_at,
        }),
        Ok(Readiness::Failed { message }) => Err(RuntimeError::Start(message)),
        Err(e) => Err(RuntimeError::Shim(format!(
            "bad readiness line {line:?}: {e}"
        ))),
    }
}

fn shim_log_tail(container_dir: &Path) -> String {
    let text = std::fs::read_to_string(container_dir.join(SHIM_LOG_FILE)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("; ")
}

/// Prepare `exec_root/runtime` (libcontainer's state root) once at daemon
/// start: create it and, unless it already is on a tmpfs, mount a private tmpfs
/// there. libcontainer creates and deletes a few files per container in it;
/// on a disk file system (with `discard`, as on this kind of VM) each unlink
/// costs milliseconds on the `run` path. Idempotent: an existing tmpfs (with
/// the state of running containers) is kept, and so is a non-empty directory
/// on disk (it holds the state of containers started before; a tmpfs would
/// hide it). Returns whether it mounted a tmpfs (see [`release_exec_root`]).
pub fn prepare_exec_root(exec_root: &Path) -> Result<bool, RuntimeError> {
    let dir = exec_root.join(RUNTIME_STATE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io("mkdir", &dir, e))?;
    let fs = nix::sys::statfs::statfs(&dir)
        .map_err(|e| RuntimeError::sys(format!("statfs {}", dir.display()), e))?;
    if fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC {
        return Ok(false);
    }
    let empty = std::fs::read_dir(&dir)
        .map_err(|e| RuntimeError::io("read", &dir, e))?
        .next()
        .is_none();
    if !empty {
        return Ok(false);
    }
    nix::mount::mount(
        Some("tmpfs"),
        &dir,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV
            | nix::mount::MsFlags::MS_NOEXEC,
        Some("mode=0700"),
    )
    .map_err(|e| RuntimeError::sys(format!("mount tmpfs on {}", dir.display()), e))?;
    Ok(true)
}

/// Undo [`prepare_exec_root`]'s tmpfs when the daemon stops and no container
/// runs any more (their shims no longer need libcontainer's state): lazily
/// unmount `exec_root/runtime` if it is a tmpfs holding no container state.
/// Best effort, never fails.
pub fn release_exec_root(exec_root: &Path) {
    let dir = exec_root.join(RUNTIME_STATE_DIR);
    let is_tmpfs = nix::sys::statfs::statfs(&dir)
        .map(|fs| fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
        .unwrap_or(false);
    let empty = std::fs::read_dir(&dir)
        .map(|mut rd| rd.next().is_none())
        .unwrap_or(false);
    if is_tmpfs && empty {
        let _ = nix::mount::umount2(&dir, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Prefix of a libcontainer state directory awaiting deletion (renamed by a
/// shim at exit; [`sweep_exec_root`] deletes leftovers).
const TRASH_PREFIX: &str = ".deleted-";

/// A unique trash name beside `state_dir` (same file system, so a rename works).
pub(crate) fn trash_name(state_dir: &Path) -> std::path::PathBuf {
    let name = state_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    state_dir.with_file_name(format!("{TRASH_PREFIX}{name}-{}", std::process::id()))
}

/// Delete the state directories that shims renamed for deletion but did not
/// delete (a shim killed in its last milliseconds). Call at daemon start.
pub fn sweep_exec_root(exec_root: &Path) {
    let Ok(rd) = std::fs::read_dir(exec_root.join(RUNTIME_STATE_DIR)) else {
        return;
    };
    for entry in rd.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(TRASH_PREFIX)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether `state.shim_pid` is still the shim serving this container
/// (its `/proc/<pid>/cmdline` has the `shim` argument and the container dir);
/// guards against pid reuse after a reboot or a crash.
pub fn shim_alive(state: &ShimState) -> bool {
    if state.shim_pid <= 0 {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", state.shim_pid)) else {
        return false;
    };
    let dir = state.container_dir.as_os_str().as_encoded_bytes();
    let mut args = cmdline.split(|b| *b == 0);
    let _exe = args.next();
    let rest: Vec<&[u8]> = args.collect();
    // An exec shim of the same container is not the container's shim.
    rest.first() == Some(&b"shim".as_slice())
        && rest.get(1) != Some(&b"exec".as_slice())
        && rest.contains(&dir)
}

/// A pidfd for the shim process (`pidfd_open(2)`, works for non-children): it
/// becomes readable when the shim exits, after it wrote `exit.json`. Use it with
/// `tokio::io::unix::AsyncFd` to learn of a container's exit without polling.
/// Check [`shim_alive`] first: a pidfd of a reused pid watches the wrong process.
pub fn shim_pidfd(state: &ShimState) -> Result<std::os::fd::OwnedFd, RuntimeError> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
    // it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, state.shim_pid, 0) };
    if fd < 0 {
        return Err(RuntimeError::sys(
            format!("pidfd_open {}", state.shim_pid),
            Errno::last(),
        ));
    }
    let fd =
        i32::try_from(fd).map_err(|_| RuntimeError::Shim(format!("pidfd_open returned {fd}")))?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Send signal `sig` to the container's init process. `ESRCH`, and a container
/// whose `exit.json` exists (its pid may already be reused), count as success.
pub fn signal(state: &ShimState, sig: i32) -> Result<(), RuntimeError> {
    let signal =
        Signal::try_from(sig).map_err(|e| RuntimeError::sys(format!("signal {sig}"), e))?;
    // Once exit.json exists the init is reaped and its pid may be reused.
    if state.init_pid <= 0 || matches!(crate::state::read_exit(&state.container_dir), Ok(Some(_))) {
        return Ok(());
    }
    match kill(Pid::from_raw(state.init_pid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(RuntimeError::sys(
            format!("kill {} {}", state.init_pid, signal.as_str()),
            e,
        )),
    }
}

/// Best-effort cleanup for a container whose shim died without cleaning up:
/// kill any process still in the container's cgroup, unmount the rootfs,
/// remove libcontainer's state directory and the container's cgroups.
/// Never fails; safe to call more than once; may block for about a second when
/// processes must be killed. Never call it while the shim is alive.
pub fn cleanup(container_dir: &Path, exec_root: &Path) {
    let spec = ContainerSpec::load(container_dir).ok();
    let id = spec
        .as_ref()
        .map(|s| s.id.clone())
        .or_else(|| {
            container_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let target = spec
        .as_ref()
        .map(|s| s.rootfs.target.clone())
        .unwrap_or_else(|| container_dir.join("rootfs"));
    let parent = spec
        .as_ref()
        .map(|s| s.cgroup_parent.as_str())
        .unwrap_or_default();
    release_resources(&id, parent, &target, exec_root);
    // The dead shim's sockets: connecting must fail at once.
    let _ = std::fs::remove_file(container_dir.join(crate::attach::ATTACH_SOCKET));
}

/// Kill what is left in the container's cgroup and remove it, unmount the
/// rootfs at `target` and remove libcontainer's state directory (best effort;
/// the cgroup and state steps only for a valid `id`). Shared by [`cleanup`]
/// and the shim's failed start.
pub(crate) fn release_resources(id: &str, cgroup_parent: &str, target: &Path, exec_root: &Path) {
    let valid_id = crate::rootpath::is_plain_name(id.as_ref());
    if valid_id {
        crate::cgroup::kill_and_remove(&crate::cgroup::cgroup_path(cgroup_parent, id));
    }
    crate::mount::unmount_all(target);
    if valid_id {
        let _ = std::fs::remove_dir_all(exec_root.join(RUNTIME_STATE_DIR).join(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::path::PathBuf;

    #[test]
    fn readiness_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let ok = ExitStatusExt::from_raw(0);
        let line = serde_json::to_string(&Readiness::Started {
            shim_pid: 4,
            init_pid: 5,
            started_at: chrono::Utc::now(),
        })
        .unwrap();
        let s = parse_readiness(&line, dir.path(), ok).unwrap();
        assert_eq!((s.shim_pid, s.init_pid), (4, 5));
        let line = serde_json::to_string(&Readiness::Failed {
            message: "exec: \"x\": executable file not found in $PATH".into(),
        })
        .unwrap();
        let e = parse_readiness(&line, dir.path(), ok).unwrap_err();
        assert!(matches!(e, RuntimeError::Start(_)));
        assert!(e.to_string().contains("executable file not found"));
        std::fs::write(dir.path().join(SHIM_LOG_FILE), "boom\n").unwrap();
        let e = parse_readiness("", dir.path(), ok).unwrap_err();
        assert!(e.to_string().contains("boom"), "{e}");
    }

    #[test]
    fn alive_checks_cmdline() {
        let st = ShimState {
            id: "x".into(),
            container_dir: PathBuf::from("/nonexistent/dir"),
            shim_pid: std::process::id() as i32,
            init_pid: 0,
            started_at: chrono::Utc::now(),
        };
        // The test process is not a shim.
        assert!(!shim_alive(&st));
        let dead = ShimState {
            shim_pid: 0,
            ..st.clone()
        };
        assert!(!shim_alive(&dead));
        // Signal to pid 0 (unset) is a no-op.
        signal(&dead, 15).unwrap();
    }
}
