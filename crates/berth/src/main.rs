//! The `berth` binary: CLI, daemon and shim entry points.

mod cli;
mod daemon_cmd;
mod daemon_lock;
mod shimexe;

fn main() {
    mark_inherited_fds_cloexec();
    // Shim mode (`berth shim <container-dir> <exec-root>`) must be dispatched
    // before any thread or async runtime exists: libcontainer forks.
    {
        let args: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if berth_runtime::shim::is_shim_invocation(&args) {
            berth_runtime::shim::main(&args);
        }
    }
    // `berth daemon ...` has its own flags (the registry ones included).
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if daemon_cmd::is_daemon_invocation(&args) {
        std::process::exit(daemon_cmd::main(&args));
    }
    std::process::exit(cli::main());
}

/// Marks every descriptor above stderr that this process inherited (from the shell that started
/// the CLI, from a CLI that started the daemon, from the daemon that started a shim) close-on-exec,
/// so none of them reaches a container's or an exec'd process (CVE-2024-21626 class). Descriptors
/// meant for this process itself (the shim's attach socket, fd 3) stay usable here.
fn mark_inherited_fds_cloexec() {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // The descriptor of the directory listing itself is gone by now: EBADF is harmless.
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
}
