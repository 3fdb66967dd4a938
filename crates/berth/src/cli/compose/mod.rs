//! `berth compose ...`: Compose v2's command line over the `berth-compose`
//! loader. Compose is a client: everything it does to containers goes
//! through the Engine API, so it works against berth and dockerd alike.

mod build;
mod config;
mod exec;
mod lifecycle;
mod logs;
mod ps;
mod up;

use std::io::Read;
use std::path::PathBuf;

use berth_compose::{load, Options, Project};
use clap::{Args, Subcommand};
use lifecycle::Action;

use super::error::{CliError, CliResult};

/// `berth compose`.
#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct ComposeArgs {
    /// Compose configuration files
    #[arg(short = 'f', long = "file", value_name = "stringArray")]
    pub file: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name", value_name = "string")]
    pub project_name: Option<String>,
    /// Specify an alternate working directory (default: the path of the first specified Compose file)
    #[arg(long = "project-directory", value_name = "string")]
    pub project_directory: Option<PathBuf>,
    /// Specify an alternate environment file
    #[arg(long = "env-file", value_name = "stringArray")]
    pub env_file: Vec<PathBuf>,
    /// Specify a profile to enable
    #[arg(long = "profile", value_name = "stringArray")]
    pub profile: Vec<String>,
    /// The command
    #[command(subcommand)]
    pub command: ComposeCommand,
}

/// `berth compose` commands.
#[derive(Debug, Subcommand)]
pub enum ComposeCommand {
    /// Parse, resolve and render compose file in canonical format
    #[command(alias = "convert")]
    Config(config::ConfigArgs),
    /// Build or rebuild services
    Build(build::ComposeBuildArgs),
    /// Create and start containers
    Up(up::UpArgs),
    /// Stop and remove containers, networks
    Down(up::DownArgs),
    /// List containers
    Ps(ps::PsArgs),
    /// View output from containers
    Logs(logs::LogsArgs),
    /// Stop services
    Stop(lifecycle::StopArgs),
    /// Start services
    Start(lifecycle::StartArgs),
    /// Restart service containers
    Restart(lifecycle::StopArgs),
    /// Execute a command in a running container
    #[command(override_usage = "berth compose exec [OPTIONS] SERVICE COMMAND [ARGS...]")]
    Exec(exec::ComposeExecArgs),
}

impl ComposeArgs {
    /// Run the command.
    pub async fn run(self, host: &str) -> CliResult {
        match &self.command {
            ComposeCommand::Config(a) => config::config(&self, a),
            ComposeCommand::Build(a) => {
                let project = self.project(&a.service)?;
                let client = crate::cli::client(host).await?;
                build::build_services(&client, &project, true, a).await
            }
            ComposeCommand::Up(a) => up::up(&self, a, host).await,
            ComposeCommand::Down(a) => up::down(&self, a, host).await,
            ComposeCommand::Ps(a) => ps::ps(&self, a, host).await,
            ComposeCommand::Logs(a) => logs::logs(&self, a, host).await,
            ComposeCommand::Exec(a) => exec::compose_exec(&self, a, host).await,
            ComposeCommand::Stop(a) => {
                lifecycle::lifecycle(&self, Action::Stop, &a.service, a.timeout, host).await
            }
            ComposeCommand::Start(a) => {
                lifecycle::lifecycle(&self, Action::Start, &a.service, None, host).await
            }
            ComposeCommand::Restart(a) => {
                lifecycle::lifecycle(&self, Action::Restart, &a.service, a.timeout, host).await
            }
        }
    }

    /// Load the project with these flags, naming `services` explicitly.
    /// Warnings go to stderr the way Compose prints them.
    pub fn project(&self, services: &[String]) -> CliResult<Project> {
        let stdin = if self.file.iter().any(|f| f.as_os_str() == "-") {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CliError::io("read the Compose file from stdin", e))?;
            Some(s)
        } else {
            None
        };
        let working_dir =
            std::env::current_dir().map_err(|e| CliError::io("find the current directory", e))?;
        let opts = Options {
            files: self.file.clone(),
            stdin,
            project_name: self.project_name.clone(),
            project_directory: self.project_directory.clone(),
            env_files: self.env_file.clone(),
            profiles: self.profile.clone(),
            services: services.to_vec(),
            working_dir,
            environment: std::env::vars().collect(),
        };
        let project = load(&opts).map_err(|e| CliError::msg(e.to_string()))?;
        warn(&project);
        Ok(project)
    }

    /// The project for commands that find containers by label (`ps`,
    /// `logs`, `down`): with `-p NAME` and no Compose file found, the name
    /// is enough.
    pub fn project_or_name(&self) -> CliResult<Project> {
        let Some(name) = self
            .project_name
            .as_deref()
            .filter(|_| self.file.is_empty())
        else {
            return self.project(&[]);
        };
        let working_dir =
            std::env::current_dir().map_err(|e| CliError::io("find the current directory", e))?;
        let opts = Options {
            project_name: Some(name.to_string()),
            project_directory: self.project_directory.clone(),
            env_files: self.env_file.clone(),
            profiles: self.profile.clone(),
            working_dir: working_dir.clone(),
            environment: std::env::vars().collect(),
            ..Options::default()
        };
        match load(&opts) {
            Ok(p) => {
                warn(&p);
                Ok(p)
            }
            Err(e) if e.is_no_file() => Ok(Project::named(name, working_dir)),
            Err(e) => Err(CliError::msg(e.to_string())),
        }
    }
}

/// Loader warnings, the way Compose prints them.
fn warn(project: &Project) {
    for w in &project.warnings {
        eprintln!("WARN[0000] {w}");
    }
}
