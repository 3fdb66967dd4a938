//! The shim process (`berth shim <container-dir> <exec-root>`): creates the
//! container with libcontainer, reports readiness to `spawn_shim`, then
//! supervises it (log, reap, record the exit, clean up).

mod exec_check;
mod monitor;
mod netns;
mod start;

pub use exec_check::{check_executable, DEFAULT_PATH};

use std::path::PathBuf;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::{fork, setsid, ForkResult};

/// Default exec root when the shim is started without one.
pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";

/// Whether `args` (the full argv) asks for the shim mode (`argv[1] == "shim"`).
pub fn is_shim_invocation(args: &[String]) -> bool {
    args.get(1).map(String::as_str) == Some("shim")
}

/// The shim entry point; `args` is the full argv
/// (`[exe, "shim", container_dir, exec_root]`). Must be called before any
/// thread exists (libcontainer forks with clone3). Never returns.
pub fn main(args: &[String]) -> ! {
    let Some(container_dir) = args.get(2).map(PathBuf::from) else {
        eprintln!("usage: berth shim <container-dir> [<exec-root>]");
        std::process::exit(2);
    };
    let exec_root = args
        .get(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_EXEC_ROOT));

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
    let code = match start::start(&container_dir, &exec_root) {
        Ok(started) => monitor::supervise(started),
        Err(e) => {
            start::report_failure(&e.to_string());
            1
        }
    };
    std::process::exit(code)
}
