//! Container lifecycle commands that act on existing containers: start,
//! stop, kill, restart, rm, wait, rename, top, diff, logs, prune.

use berth_client::{Client, LogsOptions};
use chrono::Utc;
use clap::Args;

use super::error::{not_found_as, CliError, CliResult};
use super::format::tabwrite;
use super::output::{confirm, copy_mux, outln};
use super::timefmt::api_timestamp;
use super::{filters_from, Filters};

/// `berth start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value = "true", value_name = "bool", action = clap::ArgAction::Set, hide_default_value = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: String,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Containers to start
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth stop` / `berth restart`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for stop before killing it
    #[arg(
        short = 't',
        long = "time",
        default_value_t = 10,
        allow_negative_numbers = true
    )]
    pub time: i64,
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    /// Containers to kill
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove the specified link
    #[arg(short = 'l', long)]
    pub link: bool,
    /// Containers to remove
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Containers to wait for
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth rename`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Container to rename
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Its new name
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

/// `berth top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// ps options
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ps OPTIONS"
    )]
    pub ps_args: Vec<String>,
}

/// `berth diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth container prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Provide filter values (e.g. 'until=<timestamp>')
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Run `op` on each container, printing its name on success; errors are
/// gathered and reported together at the end, as the docker CLI does.
async fn each<F, Fut>(containers: &[String], mut op: F) -> CliResult
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), berth_client::ClientError>>,
{
    let mut errs = Vec::new();
    for c in containers {
        match op(c.clone()).await {
            Ok(()) => outln(c)?,
            Err(e) => errs.push(e.to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(errs.join("\n")))
    }
}

/// `berth start`.
pub async fn start(client: &Client, args: &StartArgs) -> CliResult {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            return Err(CliError::msg(
                "you cannot start and attach multiple containers at once",
            ));
        }
        return super::run::start_attached(
            client,
            &args.containers[0],
            args.interactive,
            args.sig_proxy != "false",
            args.detach_keys.as_deref(),
        )
        .await;
    }
    let mut failed = Vec::new();
    let mut started = Vec::new();
    for c in &args.containers {
        match client.container_start(c).await {
            Ok(_) => {
                outln(c)?;
                started.push(c.clone());
            }
            Err(e) => {
                eprintln!("{e}");
                failed.push(c.clone());
            }
        }
    }
    super::startwatch::explain(client, &started).await;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        )))
    }
}

/// `berth stop`.
pub async fn stop(client: &Client, args: &StopArgs) -> CliResult {
    each(&args.containers, |c| async move {
        client.container_stop(&c, Some(args.time)).await.map(|_| ())
    })
    .await
}

/// `berth restart`.
pub async fn restart(client: &Client, args: &StopArgs) -> CliResult {
    each(&args.containers, |c| async move {
        client.container_restart(&c, Some(args.time)).await
    })
    .await
}

/// `berth kill`.
pub async fn kill(client: &Client, args: &KillArgs) -> CliResult {
    each(&args.containers, |c| async move {
        client.container_kill(&c, Some(&args.signal)).await
    })
    .await
}

/// `berth rm`.
pub async fn rm(client: &Client, args: &RmArgs) -> CliResult {
    let mut errs = Vec::new();
    for c in &args.containers {
        match client.container_remove(c, args.force, args.volumes).await {
            Ok(()) => outln(c)?,
            Err(e) => errs.push(not_found_as(e, "container", c).to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(errs.join("\n")))
    }
}

/// `berth wait`.
pub async fn wait(client: &Client, args: &WaitArgs) -> CliResult {
    let mut errs = Vec::new();
    for c in &args.containers {
        match client.container_wait(c, None).await {
            Ok(r) => outln(&r.status_code.to_string())?,
            Err(e) => errs.push(e.to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(errs.join("\n")))
    }
}

/// `berth rename`.
pub async fn rename(client: &Client, args: &RenameArgs) -> CliResult {
    let new_name = args.new_name.trim();
    if args.container.trim().is_empty() || new_name.is_empty() {
        return Err(CliError::msg(
            "Error: Neither old nor new names may be empty",
        ));
    }
    client
        .container_rename(&args.container, new_name)
        .await
        .map_err(|e| {
            CliError::msg(format!(
                "{e}\nError: failed to rename container named {}",
                args.container
            ))
        })
}

/// `berth top`.
pub async fn top(client: &Client, args: &TopArgs) -> CliResult {
    let ps_args = args.ps_args.join(" ");
    let ps = if ps_args.is_empty() {
        None
    } else {
        Some(ps_args.as_str())
    };
    let top = client.container_top(&args.container, ps).await?;
    let mut text = top.titles.join("\t");
    text.push('\n');
    for p in &top.processes {
        text.push_str(&p.join("\t"));
        text.push('\n');
    }
    super::output::out(&tabwrite(&text, 20, 3))
}

/// `berth diff`.
pub async fn diff(client: &Client, args: &DiffArgs) -> CliResult {
    let changes = client.container_changes(&args.container).await?;
    let mut text = String::new();
    for c in changes {
        let kind = match c.kind {
            0 => "C",
            1 => "A",
            2 => "D",
            _ => "?",
        };
        text.push_str(&format!("{kind} {}\n", c.path));
    }
    super::output::out(&text)
}

/// `berth logs`.
pub async fn logs(client: &Client, args: &LogsArgs) -> CliResult {
    let now = Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|s| api_timestamp(s, now))
        .transpose()
        .map_err(|e| CliError::msg(format!("invalid value for \"since\": {e}")))?;
    let until = args
        .until
        .as_deref()
        .map(|s| api_timestamp(s, now))
        .transpose()
        .map_err(|e| CliError::msg(format!("invalid value for \"until\": {e}")))?;
    let opts = LogsOptions {
        follow: args.follow,
        timestamps: args.timestamps,
        tail: Some(args.tail.clone()),
        since,
        until,
    };
    let stream = client.container_logs(&args.container, &opts).await?;
    copy_mux(stream).await
}

/// `berth container prune`.
pub async fn prune(client: &Client, args: &PruneArgs) -> CliResult {
    let filters: Filters = filters_from(&args.filter)?;
    if !args.force
        && !confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
        )
    {
        return Ok(());
    }
    let report = client.containers_prune(&filters).await?;
    let deleted = report.containers_deleted.unwrap_or_default();
    super::output::out(&super::output::prune_report(
        "Deleted Containers:",
        &deleted,
        Some(report.space_reclaimed),
    ))
}
