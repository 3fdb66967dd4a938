//! Connecting to the daemon, starting it in the background when its unix
//! socket is absent or refuses connections.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_client::Client;

use super::error::{CliError, CliResult};

/// Where an auto-started daemon logs.
pub const DAEMON_LOG: &str = "/var/log/berth/daemon.log";
/// The default API socket.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// A client for `host` with the API version negotiated; starts the daemon
/// when needed and `autostart` allows it.
pub async fn connect(host: &str, autostart: bool) -> CliResult<Client> {
    let mut client = Client::new(host)?;
    match client.negotiate().await {
        Ok(_) => Ok(client),
        Err(e) if e.is_unavailable() && autostart => {
            start_daemon(host)?;
            wait_ready(&mut client, Duration::from_secs(10)).await?;
            Ok(client)
        }
        Err(e) => Err(e.into()),
    }
}

/// Spawn `berth daemon -H <host>` detached (own session, stdin from
/// /dev/null, output appended to the daemon log).
fn start_daemon(host: &str) -> CliResult {
    let exe = std::env::current_exe().map_err(|e| CliError::io("locate the berth binary", e))?;
    let log_path = Path::new(DAEMON_LOG);
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::io(format!("create {}", dir.display()), e))?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| CliError::io(format!("open {}", log_path.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| CliError::io(format!("open {}", log_path.display()), e))?;
    let mut cmd = Command::new(exe);
    // The daemon that served this socket before is restarted as it was started (its data
    // root, exec root and other options); a socket never served gets the defaults.
    let record = crate::daemon_cmd::socket_path(host)
        .ok()
        .and_then(|s| crate::daemon_lock::recorded(&s));
    match record {
        Some(r) => {
            cmd.args(&r.args);
            if r.cwd.is_dir() {
                cmd.current_dir(&r.cwd);
            }
        }
        None => {
            cmd.args(["daemon", "-H", host]);
        }
    }
    cmd.stdin(Stdio::null()).stdout(log).stderr(log_err);
    // SAFETY: the closure runs in the forked child before exec and only
    // calls setsid(2), which is async-signal-safe and touches no memory
    // shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn()
        .map_err(|e| CliError::io("start the berth daemon", e))?;
    eprintln!("berth: started the daemon in the background (log: {DAEMON_LOG})");
    Ok(())
}

/// Poll `/_ping` every 15 ms until the daemon answers or `limit` passes.
async fn wait_ready(client: &mut Client, limit: Duration) -> CliResult {
    let deadline = Instant::now() + limit;
    loop {
        match client.negotiate().await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_unavailable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            Err(e) if e.is_unavailable() => {
                return Err(CliError::msg(format!(
                    "{e}\nThe daemon did not come up within {} s; see {DAEMON_LOG}",
                    limit.as_secs()
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
}
