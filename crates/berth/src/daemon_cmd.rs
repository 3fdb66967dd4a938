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

/// The daemon's registry flags (dockerd's names and defaults).
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Enable insecure registry communication (host[:port] or CIDR; repeatable)
    #[arg(long = "insecure-registry", value_name = "list")]
    pub insecure_registries: Vec<String>,
    /// Preferred Docker registry mirror (repeatable)
    #[arg(long = "registry-mirror", value_name = "list")]
    pub registry_mirrors: Vec<String>,
    /// Set the max concurrent downloads for each pull
    #[arg(
        long = "max-concurrent-downloads",
        default_value_t = 3,
        value_name = "int"
    )]
    pub max_concurrent_downloads: usize,
    /// Set the max concurrent uploads for each push
    #[arg(
        long = "max-concurrent-uploads",
        default_value_t = 5,
        value_name = "int"
    )]
    pub max_concurrent_uploads: usize,
}

impl Default for RegistryArgs {
    fn default() -> Self {
        RegistryArgs {
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
        }
    }
}

impl RegistryArgs {
    fn settings(&self) -> anyhow::Result<berth_engine::RegistrySettings> {
        for m in &self.registry_mirrors {
            if !(m.starts_with("http://") || m.starts_with("https://")) {
                let scheme = m.split_once("://").map(|(s, _)| s).unwrap_or("");
                bail!("invalid mirror: unsupported scheme {scheme:?} in {m:?}");
            }
        }
        if self.max_concurrent_downloads == 0 || self.max_concurrent_uploads == 0 {
            bail!("max-concurrent-downloads and max-concurrent-uploads must be positive");
        }
        let defaults = berth_engine::RegistrySettings::default();
        Ok(berth_engine::RegistrySettings {
            options: berth_registry::RegistryOptions {
                insecure: self.insecure_registries.clone(),
                mirrors: self.registry_mirrors.clone(),
                ..defaults.options
            },
            max_concurrent_downloads: self.max_concurrent_downloads,
            max_concurrent_uploads: self.max_concurrent_uploads,
        })
    }
}

/// `berth daemon [OPTIONS]` parsed on its own (all of dockerd's flags that
/// berth has, registry flags included).
#[derive(Debug, clap::Parser)]
#[command(
    name = "berth daemon",
    about = "Run the berth daemon in the foreground"
)]
struct DaemonCli {
    /// Daemon socket to listen on
    #[arg(
        short = 'H',
        long = "host",
        env = "BERTH_HOST",
        value_name = "unix:///path"
    )]
    host: Option<String>,
    /// Root directory of persistent state
    #[arg(
        long = "data-root",
        default_value = "/var/lib/berth",
        value_name = "string"
    )]
    data_root: PathBuf,
    /// Root directory for execution state files
    #[arg(
        long = "exec-root",
        default_value = "/run/berth",
        value_name = "string"
    )]
    exec_root: PathBuf,
    /// Set the logging level
    #[arg(
        short = 'l',
        long = "log-level",
        default_value = "info",
        value_name = "string"
    )]
    log_level: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Whether `args` (the process arguments) are `berth daemon ...`: the
/// daemon's flags are parsed here, not by the client CLI.
pub fn is_daemon_invocation(args: &[String]) -> bool {
    args.get(1).is_some_and(|a| a == "daemon")
}

/// Parse `berth daemon ...` and run it; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = DaemonCli::command().bin_name("berth daemon");
    let parsed = cmd
        .try_get_matches_from_mut(args.iter().skip(1))
        .and_then(|m| DaemonCli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 125 } else { 0 };
        }
    };
    let opts = DaemonOptions {
        host: cli
            .host
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_string()),
        data_root: cli.data_root,
        exec_root: cli.exec_root,
        log_level: cli.log_level,
    };
    match run_with(opts, &cli.registry) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth daemon: {e:#}");
            1
        }
    }
}

/// The default socket (the client CLI's default too).
const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

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

/// Run the daemon until SIGINT/SIGTERM, with the default registry settings.
pub fn run(opts: DaemonOptions) -> anyhow::Result<()> {
    run_with(opts, &RegistryArgs::default())
}

/// Run the daemon until SIGINT/SIGTERM.
pub fn run_with(opts: DaemonOptions, registry: &RegistryArgs) -> anyhow::Result<()> {
    let registry = registry.settings()?;
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
        registry,
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
