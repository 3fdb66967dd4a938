//! `berth daemon`: run the engine and serve the Docker Engine API in the foreground.

use std::path::PathBuf;

use anyhow::{bail, Context};

/// Options of `berth daemon` (parsed, with their defaults, by the CLI's `DaemonArgs`).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Socket to listen on (`unix:///path`).
    pub host: String,
    /// Root of persisted state (images, containers).
    pub data_root: PathBuf,
    /// Root of run-time state (socket, pid file, runtime state).
    pub exec_root: PathBuf,
    /// Log level: error, warn, info, debug, trace.
    pub log_level: String,
}

/// The socket path of a `-H` value (`unix:///path` or a plain absolute path).
pub fn socket_path(host: &str) -> anyhow::Result<PathBuf> {
    if let Some(p) = host.strip_prefix("unix://") {
        if p.is_empty() {
            bail!("invalid host {host:?}: empty socket path");
        }
        return Ok(PathBuf::from(p));
    }
    if host.starts_with('/') {
        return Ok(PathBuf::from(host));
    }
    bail!("unsupported host {host:?}: berth listens on unix sockets only (unix:///path)")
}

/// The file our stderr goes to, when it is a regular file (the daemon log of an auto-started daemon).
fn stderr_log_file() -> Option<PathBuf> {
    let target = std::fs::read_link("/proc/self/fd/2").ok()?;
    let md = std::fs::metadata(&target).ok()?;
    md.is_file().then_some(target)
}

/// Run the daemon until SIGINT/SIGTERM.
pub fn run(opts: DaemonOptions) -> anyhow::Result<()> {
    berth_daemon::init_logging(&opts.log_level);
    let socket = socket_path(&opts.host)?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _locks = crate::daemon_lock::acquire(&socket, &opts.data_root, &args)?;
    let exe = std::env::current_exe().context("finding the berth executable")?;
    let shim_exe = crate::shimexe::read_only_exe(&opts.exec_root, &exe)?;
    let cfg = berth_daemon::DaemonConfig {
        socket,
        data_root: opts.data_root,
        exec_root: opts.exec_root,
        shim_exe: shim_exe.clone(),
        daemon_log: stderr_log_file(),
    };
    let served = berth_daemon::run(cfg);
    crate::shimexe::release(&shim_exe);
    served?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        assert_eq!(
            socket_path("unix:///run/x.sock").unwrap(),
            PathBuf::from("/run/x.sock")
        );
        assert_eq!(socket_path("/tmp/s").unwrap(), PathBuf::from("/tmp/s"));
        assert!(socket_path("tcp://1.2.3.4:2375").is_err());
        assert!(socket_path("unix://").is_err());
    }
}
