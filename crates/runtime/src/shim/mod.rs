//! The shim process (`berth shim <container-dir> <exec-root>`): creates the
//! container with libcontainer, reports readiness to `spawn_shim`, then
//! supervises it (log, reap, record the exit, clean up).

mod direct;
mod exec;
mod exec_check;
mod monitor;
mod netns;
mod oom;
mod relay;
mod start;
mod stdio;

pub use exec_check::{check_executable, DEFAULT_PATH};
pub use stdio::{ATTACH_ARG, ATTACH_FD};

use std::path::PathBuf;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::{fork, setsid, ForkResult};

/// Default exec root when the shim is started without one.
pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";

/// Whether `args` (the full argv) asks for the shim mode (`argv[1] == "shim"`).
pub fn is_shim_invocation(args: &[String]) -> bool {
    args.get(1).map(String::as_str) == Some("shim")
}

/// The shim entry point; `args` is the full argv:
/// `[exe, "shim", container_dir, exec_root, ["attach=<flags>"]]` for a
/// container, `[exe, "shim", "exec", container_dir, exec_root, exec_dir,
/// ["attach=<flags>"]]` for an exec. With `attach=<flags>`, descriptor 3 is a
/// connected attach client ([`crate::attach`] flags). Must be called before
/// any thread exists (libcontainer forks with clone3). Never returns.
pub fn main(args: &[String]) -> ! {
    let exec_mode = args.get(2).map(String::as_str) == Some("exec");
    let base = if exec_mode { 3 } else { 2 };
    let Some(container_dir) = args.get(base).map(PathBuf::from) else {
        eprintln!("usage: berth shim [exec] <container-dir> <exec-root> [<exec-dir>]");
        std::process::exit(2);
    };
    let exec_root = args
        .get(base + 1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_EXEC_ROOT));
    let exec_dir = if exec_mode {
        match args.get(base + 2) {
            Some(d) => Some(PathBuf::from(d)),
            None => {
                eprintln!("usage: berth shim exec <container-dir> <exec-root> <exec-dir>");
                std::process::exit(2);
            }
        }
    } else {
        None
    };
    let attach_arg = args
        .iter()
        .skip(base + 2)
        .find(|a| a.starts_with(ATTACH_ARG))
        .map(String::as_str);
    let client = stdio::inherited_client(attach_arg);

    // SAFETY: called at the top of main before any other thread exists (the
    // documented contract of this function), so the child is a complete copy
    // of a single-threaded process and may run arbitrary code.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => {
            // The spawner reaps us at once; the real shim lives on, detached.
            std::process::exit(0)
        }
        Ok(ForkResult::Child) => {}
        Err(e) => {
            start::report_failure(&format!("shim: fork: {e}"));
            std::process::exit(1)
        }
    }
    // A new session: no controlling terminal, immune to the daemon's group signals.
    let _ = setsid();
    // Do not pin the daemon's working directory.
    let _ = std::env::set_current_dir("/");
    for sig in [Signal::SIGHUP, Signal::SIGPIPE] {
        // SAFETY: SIG_IGN installs no handler code; nothing can run concurrently.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    let code = match exec_dir {
        Some(exec_dir) => match exec::start(&container_dir, &exec_root, &exec_dir, client) {
            Ok(started) => exec::supervise(started),
            Err(e) => {
                start::report_failure(&e.to_string());
                1
            }
        },
        None => match start::start(&container_dir, &exec_root, client) {
            Ok(started) => monitor::supervise(started),
            Err(e) => {
                start::report_failure(&e.to_string());
                1
            }
        },
    };
    std::process::exit(code)
}
