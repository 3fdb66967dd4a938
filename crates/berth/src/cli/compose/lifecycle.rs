//! `berth compose stop`, `start` and `restart`: the project's existing
//! containers, found by label.

use berth_compose::apply::{labels, project_containers, start_order};
use clap::Args;
use futures_util::future::join_all;

use super::logs::name_of;
use super::ComposeArgs;
use crate::cli::error::CliResult;

/// `berth compose stop` / `restart`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long, value_name = "int")]
    pub timeout: Option<i64>,
    /// Services to act on (default: all)
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

/// `berth compose start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Services to start (default: all)
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

/// Which lifecycle command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop running containers.
    Stop,
    /// Start stopped containers, dependencies first.
    Start,
    /// Stop then start.
    Restart,
}

/// Run `compose stop|start|restart`.
pub async fn lifecycle(
    compose: &ComposeArgs,
    action: Action,
    services: &[String],
    timeout: Option<i64>,
    host: &str,
) -> CliResult {
    let project = compose.project_or_name()?;
    let client = crate::cli::client(host).await?;
    let mut list = project_containers(&client, &project.name, None, true).await?;
    list.retain(|c| {
        services.is_empty()
            || c.labels
                .get(labels::SERVICE)
                .is_some_and(|s| services.contains(s))
    });
    let say = |name: &str, status: &str| eprintln!(" Container {name}  {status}");
    if matches!(action, Action::Stop | Action::Restart) {
        let running: Vec<_> = list.iter().filter(|c| c.state == "running").collect();
        let stops = running.iter().map(|c| {
            let name = name_of(c);
            let client = &client;
            async move {
                say(&name, "Stopping");
                client.container_stop(&c.id, timeout).await?;
                say(&name, "Stopped");
                Ok::<(), crate::cli::CliError>(())
            }
        });
        for r in join_all(stops).await {
            r?;
        }
    }
    if matches!(action, Action::Start | Action::Restart) {
        let order = start_order(&project);
        list.sort_by_key(|c| {
            let s = c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
            order.iter().position(|o| *o == s).unwrap_or(usize::MAX)
        });
        for c in &list {
            let name = name_of(c);
            say(&name, "Starting");
            client.container_start(&c.id).await?;
            say(&name, "Started");
        }
    }
    Ok(())
}
