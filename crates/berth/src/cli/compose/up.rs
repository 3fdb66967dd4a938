//! `berth compose up -d` and `berth compose down`.

use berth_client::{Client, LogsOptions};
use berth_compose::apply::{self, labels, project_containers, DownOptions};
use berth_compose::Project;
use clap::Args;
use futures_util::future::join_all;

use super::ComposeArgs;
use crate::cli::error::{CliError, CliResult};
use crate::cli::output::out;

/// `berth compose up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached mode: Run containers in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing
    #[arg(long = "no-build", conflicts_with = "build")]
    pub no_build: bool,
    /// Services to start (with their dependencies)
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

/// `berth compose down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long, value_name = "int")]
    pub timeout: Option<i64>,
    /// Remove containers for services not defined in the Compose file
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
}

/// Compose's plain progress line, on stderr.
fn progress(kind: &str, name: &str, status: &str) {
    eprintln!(" {kind} {name}  {status}");
}

fn apply_error(e: apply::ApplyError) -> CliError {
    match e {
        apply::ApplyError::Api(c) => CliError::Client(c),
        apply::ApplyError::Project(m) => CliError::msg(m),
    }
}

/// Run `compose up`.
pub async fn up(compose: &ComposeArgs, a: &UpArgs, host: &str) -> CliResult {
    let project = compose.project(&a.service)?;
    let client = crate::cli::client(host).await?;
    if !a.no_build {
        let opts = super::build::ComposeBuildArgs {
            no_cache: false,
            build_arg: Vec::new(),
            quiet: false,
            service: Vec::new(),
        };
        super::build::build_services(&client, &project, a.build, &opts).await?;
    }
    apply::up(&client, &project, &mut progress)
        .await
        .map_err(apply_error)?;
    if a.detach {
        return Ok(());
    }
    attach(&client, &project).await
}

/// `up` in the foreground: follow every container's output until they
/// all exit; Ctrl+C stops them.
async fn attach(client: &Client, project: &Project) -> CliResult {
    let mut list = project_containers(client, &project.name, None, true).await?;
    list.retain(|c| {
        c.labels
            .get(labels::SERVICE)
            .is_some_and(|s| project.services.contains_key(s))
    });
    let names: Vec<String> = list.iter().map(super::logs::name_of).collect();
    out(&format!("Attaching to {}\n", names.join(", ")))?;
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let opts = LogsOptions {
        follow: true,
        timestamps: false,
        tail: Some("all".into()),
        since: None,
        until: None,
    };
    let follow = join_all(list.iter().zip(&names).map(|(c, name)| {
        let opts = &opts;
        async move {
            super::logs::one(client, &c.id, format!("{name:<width$} | "), opts).await?;
            let code = client.container_inspect(&c.id).await?.state.exit_code;
            out(&format!("{name} exited with code {code}\n"))
        }
    }));
    tokio::select! {
        results = follow => {
            for r in results {
                r?;
            }
            Ok(())
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
            let stops = list.iter().zip(&names).map(|(c, name)| async move {
                progress("Container", name, "Stopping");
                let r = client.container_stop(&c.id, None).await;
                progress("Container", name, "Stopped");
                r
            });
            tokio::select! {
                results = join_all(stops) => {
                    for r in results {
                        r?;
                    }
                    Err(CliError::status(130, ""))
                }
                _ = tokio::signal::ctrl_c() => Err(CliError::status(130, "")),
            }
        }
    }
}

/// Run `compose down`.
pub async fn down(compose: &ComposeArgs, a: &DownArgs, host: &str) -> CliResult {
    let project = compose.project_or_name()?;
    let client = crate::cli::client(host).await?;
    let opts = DownOptions {
        volumes: a.volumes,
        timeout: a.timeout,
    };
    let found = apply::down(&client, &project, opts, &mut progress)
        .await
        .map_err(apply_error)?;
    if !found {
        eprintln!(
            "Warning: No resource found to remove for project {:?}.",
            project.name
        );
    }
    Ok(())
}
