//! `berth compose exec`: a command in a service's running container,
//! through the same path as `berth exec`.

use std::io::IsTerminal;

use berth_compose::apply::labels::container_name;
use berth_compose::apply::project_containers;
use clap::Args;

use super::ComposeArgs;
use crate::cli::error::{CliError, CliResult};
use crate::cli::exec::{exec, ExecArgs};

/// `berth compose exec`.
#[derive(Debug, Args)]
pub struct ComposeExecArgs {
    /// Detached mode: Run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "stringArray")]
    pub env: Vec<String>,
    /// Disable pseudo-TTY allocation. By default `compose exec` allocates a TTY
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Run the command as this user
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,
    /// Path to workdir directory for this command
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,
    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1, value_name = "int")]
    pub index: u64,
    /// The service
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// The command and its arguments
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true
    )]
    pub command: Vec<String>,
}

/// Run `compose exec`.
pub async fn compose_exec(compose: &ComposeArgs, a: &ComposeExecArgs, host: &str) -> CliResult {
    let project = compose.project(&[])?;
    let Some(svc) = project.services.get(&a.service) else {
        return Err(CliError::msg(format!("no such service: {}", a.service)));
    };
    let client = crate::cli::client(host).await?;
    let name = container_name(&project, &a.service, svc, a.index);
    let running = project_containers(&client, &project.name, Some(&a.service), false)
        .await?
        .iter()
        .any(|c| c.names.iter().any(|n| n.trim_start_matches('/') == name));
    if !running {
        return Err(CliError::msg(format!(
            "service {:?} is not running",
            a.service
        )));
    }
    let tty = !a.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let args = ExecArgs {
        detach: a.detach,
        detach_keys: None,
        env: a.env.clone(),
        env_file: Vec::new(),
        interactive: !a.detach,
        privileged: a.privileged,
        tty,
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        container: name,
        command: a.command.clone(),
    };
    exec(&client, &args).await
}
