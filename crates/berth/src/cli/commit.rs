//! `berth commit`.

use berth_client::{Client, CommitOptions};
use clap::Args;

use super::error::CliResult;
use super::images::split_repo_tag;
use super::output::outln;

/// `berth commit`.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long, value_name = "string")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long, value_name = "string")]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value = "true", value_name = "bool", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", hide_default_value = true)]
    pub pause: String,
    /// Container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Repository and optional tag of the new image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `berth commit`.
pub async fn commit(client: &Client, args: &CommitArgs) -> CliResult {
    let (repo, tag) = args
        .reference
        .as_deref()
        .map(split_repo_tag)
        .unwrap_or_default();
    let opts = CommitOptions {
        container: args.container.clone(),
        repo,
        tag,
        comment: args.message.clone().unwrap_or_default(),
        author: args.author.clone().unwrap_or_default(),
        changes: args.change.clone(),
        pause: args.pause != "false",
    };
    let resp = client.commit(&opts, None).await?;
    outln(&resp.id)
}
