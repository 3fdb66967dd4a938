//! `berth compose up -d` and `berth compose down`.

use berth_compose::apply::{self, DownOptions};
use clap::Args;

use super::ComposeArgs;
use crate::cli::error::{CliError, CliResult};

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
    if !a.detach {
        return Err(CliError::msg(
            "berth compose up runs detached only for now: use `berth compose up -d`, then `berth compose logs`-like `berth logs NAME`",
        ));
    }
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
        .map_err(apply_error)
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
