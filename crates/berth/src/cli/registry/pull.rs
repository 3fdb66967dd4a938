//! `berth pull` and the pull of a missing image by `run`/`create`.

use berth_client::{Client, PullOptions};
use berth_spec::reference::Reference;
use clap::Args;

use super::{parse_reference, registry_auth, request_privilege, show_stream, Sink};
use crate::cli::error::{CliError, CliResult};
use crate::cli::output::outln;

/// `berth pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Skip image verification (default true)
    #[arg(
        long = "disable-content-trust",
        value_name = "bool",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub disable_content_trust: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(
        long = "platform",
        value_name = "string",
        env = "DOCKER_DEFAULT_PLATFORM"
    )]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// NAME[:TAG|@DIGEST]
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

/// What to pull: one tag or digest, or every tag of a repository.
#[derive(Debug, Clone)]
pub struct PullTarget {
    /// The reference (tagged or with a digest unless `all_tags`).
    pub reference: Reference,
    /// Every tag of the repository.
    pub all_tags: bool,
    /// `os[/arch[/variant]]`.
    pub platform: Option<String>,
}

/// Pull `target` through the daemon, drawing its progress to `sink`.
pub async fn pull_image(client: &Client, target: &PullTarget, sink: Sink) -> CliResult {
    pull_with(client, target, sink, false).await
}

/// [`pull_image`]; with `privileged`, a 401 from the daemon asks for
/// credentials and retries (what `berth pull` does, not `run`).
async fn pull_with(
    client: &Client,
    target: &PullTarget,
    sink: Sink,
    privileged: bool,
) -> CliResult {
    let r = &target.reference;
    let tag = match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => String::new(),
    };
    let mut opts = PullOptions {
        image: r.familiar_name(),
        tag,
        all_tags: target.all_tags,
        platform: target.platform.clone().filter(|p| !p.is_empty()),
        registry_auth: Some(registry_auth(r.domain())),
    };
    let stream = match client.image_pull(&opts).await {
        Err(e) if privileged && e.status() == Some(401) => {
            opts.registry_auth = Some(request_privilege(r.domain(), "pull")?);
            client.image_pull(&opts).await?
        }
        other => other?,
    };
    show_stream(stream, sink).await
}

/// `berth pull`: docker's checks, the pull, then the reference on stdout.
pub async fn pull(client: &Client, args: &PullArgs) -> CliResult {
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
    let target = PullTarget {
        reference,
        all_tags: args.all_tags,
        platform: args.platform.clone(),
    };
    let sink = if args.quiet {
        Sink::Discard
    } else {
        Sink::Stdout
    };
    pull_with(client, &target, sink, true).await?;
    outln(&target.reference.familiar_string())
}
