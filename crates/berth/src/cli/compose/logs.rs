//! `berth compose logs`: the output of the project's containers, each
//! line prefixed with the container's name (`proj-web-1  | `), followed
//! together with `-f`.

use std::io::Write;

use berth_client::{Client, LogsOptions, MuxDecoder};
use berth_compose::apply::{labels, project_containers};
use clap::Args;
use futures_util::future::join_all;

use super::ComposeArgs;
use crate::cli::error::{CliError, CliResult};

/// `berth compose logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, default_value = "all", value_name = "string")]
    pub tail: String,
    /// Don't print prefix in logs
    #[arg(long = "no-log-prefix")]
    pub no_log_prefix: bool,
    /// Produce monochrome output (berth's output is always monochrome)
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Services whose logs to show
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

/// Writes whole lines with a prefix; keeps a partial last line until the
/// next chunk completes it.
struct Prefixed {
    prefix: String,
    pending: Vec<u8>,
}

impl Prefixed {
    fn push(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.pending.extend_from_slice(data);
        while let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            let mut o = std::io::stdout().lock();
            o.write_all(self.prefix.as_bytes())?;
            o.write_all(&line)?;
            o.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.pending.push(b'\n');
            let rest = std::mem::take(&mut self.pending);
            self.push(&rest)?;
        }
        Ok(())
    }
}

/// Copy one container's log stream to stdout, each line after `prefix`.
pub(super) async fn one(
    client: &Client,
    id: &str,
    prefix: String,
    opts: &LogsOptions,
) -> CliResult {
    let tty = client.container_inspect(id).await?.config.tty;
    let mut stream = client.container_logs(id, opts).await?;
    let mut out = Prefixed {
        prefix,
        pending: Vec::new(),
    };
    let mut dec = MuxDecoder::new();
    let io = |e: std::io::Error| CliError::io("write to stdout", e);
    while let Some(chunk) = stream.next_chunk().await? {
        if tty {
            out.push(&chunk).map_err(io)?;
            continue;
        }
        dec.push(&chunk);
        while let Some(frame) = dec
            .next_frame()
            .map_err(|e| CliError::msg(format!("error from daemon in stream: {e}")))?
        {
            out.push(&frame.data).map_err(io)?;
        }
    }
    out.finish().map_err(io)
}

/// Run `compose logs`.
pub async fn logs(compose: &ComposeArgs, a: &LogsArgs, host: &str) -> CliResult {
    let project = compose.project_or_name()?;
    for s in &a.service {
        // A project known only by `-p NAME` has no service list to check.
        if !project.config_files.is_empty() && !project.services.contains_key(s) {
            return Err(CliError::msg(format!("no such service: {s}")));
        }
    }
    let client = crate::cli::client(host).await?;
    let mut list = project_containers(&client, &project.name, None, true).await?;
    list.retain(|c| {
        a.service.is_empty()
            || c.labels
                .get(labels::SERVICE)
                .is_some_and(|s| a.service.contains(s))
    });
    let names: Vec<String> = list.iter().map(name_of).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let opts = LogsOptions {
        follow: a.follow,
        timestamps: a.timestamps,
        tail: Some(a.tail.clone()),
        since: None,
        until: None,
    };
    let jobs = list.iter().zip(&names).map(|(c, name)| {
        let prefix = if a.no_log_prefix {
            String::new()
        } else {
            format!("{name:<width$} | ")
        };
        one(&client, &c.id, prefix, &opts)
    });
    for r in join_all(jobs).await {
        r?;
    }
    Ok(())
}

/// A container's name without its leading `/`.
pub(super) fn name_of(c: &berth_spec::api::ContainerSummary) -> String {
    c.names
        .first()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}
