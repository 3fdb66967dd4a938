//! The `berth` binary: CLI, daemon and shim entry points.

mod cli;
mod daemon_cmd;

fn main() {
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
