//! `berth compose config`: the project in canonical form, or parts of it.

use std::path::PathBuf;

use clap::Args;

use super::ComposeArgs;
use crate::cli::error::{CliError, CliResult};
use crate::cli::output::out;

/// `berth compose config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Format the output. Values: [yaml | json]
    #[arg(long, default_value = "yaml", value_name = "string")]
    pub format: String,
    /// Only validate the configuration, don't print anything
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Save to file (default to stdout)
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<PathBuf>,
    /// Services to show (with their dependencies)
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

/// Run `compose config`.
pub fn config(compose: &ComposeArgs, a: &ConfigArgs) -> CliResult {
    if !matches!(a.format.as_str(), "yaml" | "json") {
        return Err(CliError::msg(format!("unsupported format {:?}", a.format)));
    }
    let project = compose.project(&a.service)?;
    if a.quiet {
        return Ok(());
    }
    let lines = |items: Vec<String>| {
        let mut s: String = items.into_iter().map(|i| i + "\n").collect();
        if s.is_empty() {
            s = String::new();
        }
        s
    };
    let text = if a.services {
        lines(project.services.keys().cloned().collect())
    } else if a.volumes {
        lines(project.volumes.keys().cloned().collect())
    } else if a.profiles {
        lines(project.all_profiles.clone())
    } else if a.images {
        lines(
            project
                .services
                .iter()
                .map(|(name, s)| {
                    s.image
                        .clone()
                        .unwrap_or_else(|| format!("{}-{name}", project.name))
                })
                .collect(),
        )
    } else if a.format == "json" {
        berth_compose::to_json_string(&project)
    } else {
        berth_compose::to_yaml_string(&project)
    };
    match &a.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::io(format!("write {}", path.display()), e)),
        None => out(&text),
    }
}
