//! `berth push`.

use berth_client::Client;
use clap::Args;

use super::{parse_reference, registry_auth, request_privilege, show_stream, Sink};
use crate::cli::error::{CliError, CliResult};
use crate::cli::output::outln;

/// `berth push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Skip image signing (default true)
    #[arg(
        long = "disable-content-trust",
        value_name = "bool",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub disable_content_trust: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// NAME[:TAG]
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
}

/// `berth push`: docker's checks, the push with its progress, and with
/// `-q` only the reference.
pub async fn push(client: &Client, args: &PushArgs) -> CliResult {
    let mut reference = parse_reference(&args.name)?;
    let name_only = reference.tag().is_none() && reference.digest().is_none();
    if args.all_tags && !name_only {
        return Err(CliError::msg("tag can't be used with --all-tags/-a"));
    }
    if !args.all_tags && name_only {
        reference = reference.with_default_tag();
        if !args.quiet {
            outln(&format!(
                "Using default tag: {}",
                reference.tag().unwrap_or_default()
            ))?;
        }
    }
    if reference.digest().is_some() {
        return Err(CliError::msg("cannot push a digest reference"));
    }
    let auth = registry_auth(reference.domain());
    let tag = if args.all_tags { None } else { reference.tag() };
    let name = reference.familiar_name();
    let stream = match client.image_push(&name, tag, &auth).await {
        Err(e) if e.status() == Some(401) => {
            let auth = request_privilege(reference.domain(), "push")?;
            client.image_push(&name, tag, &auth).await?
        }
        other => other?,
    };
    if args.quiet {
        show_stream(stream, Sink::Discard).await?;
        return outln(&reference.to_string());
    }
    show_stream(stream, Sink::Stdout).await
}
