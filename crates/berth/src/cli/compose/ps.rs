//! `berth compose ps`: the project's containers with Compose v2's columns.

use berth_compose::apply::{labels, project_containers};
use chrono::Utc;
use clap::Args;

use super::ComposeArgs;
use crate::cli::error::CliResult;
use crate::cli::format::{ellipsis, render, row};
use crate::cli::output::{go_quote, out};
use crate::cli::ps::display_ports;
use crate::cli::template::Val;
use crate::cli::timefmt::ago;

const FORMAT: &str = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";

/// `berth compose ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Services to list
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

/// Run `compose ps`.
pub async fn ps(compose: &ComposeArgs, a: &PsArgs, host: &str) -> CliResult {
    let project = compose.project_or_name()?;
    let client = crate::cli::client(host).await?;
    let mut list = project_containers(&client, &project.name, None, a.all).await?;
    list.retain(|c| {
        a.service.is_empty()
            || c.labels
                .get(labels::SERVICE)
                .is_some_and(|s| a.service.contains(s))
    });
    if a.quiet {
        return out(&list
            .iter()
            .map(|c| format!("{}\n", c.id))
            .collect::<String>());
    }
    if a.services {
        let mut names: Vec<String> = list
            .iter()
            .filter_map(|c| c.labels.get(labels::SERVICE).cloned())
            .collect();
        names.dedup();
        return out(&names.iter().map(|n| format!("{n}\n")).collect::<String>());
    }
    let now = Utc::now();
    let fields = |name: &str,
                  image: &str,
                  command: &str,
                  service: &str,
                  created: &str,
                  status: &str,
                  ports: &str| {
        row(
            vec![
                ("Name", name.into()),
                ("Image", image.into()),
                ("Command", command.into()),
                ("Service", service.into()),
                ("RunningFor", created.into()),
                ("Status", status.into()),
                ("Ports", ports.into()),
            ],
            vec![],
        )
    };
    let header = fields(
        "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
    );
    let rows: Vec<Val> = list
        .iter()
        .map(|c| {
            let name = c
                .names
                .first()
                .map(|n| n.trim_start_matches('/'))
                .unwrap_or("");
            fields(
                name,
                &c.image,
                &go_quote(&ellipsis(&c.command, 20)),
                c.labels
                    .get(labels::SERVICE)
                    .map(String::as_str)
                    .unwrap_or(""),
                &ago(c.created, now),
                &c.status,
                &display_ports(&c.ports),
            )
        })
        .collect();
    out(&render(FORMAT, &header, &rows)?)
}
