//! `berth compose build`, and the builds `up` needs: each service with a
//! `build:` section is built by the classic builder (`POST /build`, as
//! `berth build` does) and tagged with its image name (`image:` or
//! `PROJECT-SERVICE`).

use std::path::Path;

use berth_client::{encode, Client};
use berth_compose::apply::labels::image_of;
use berth_compose::Project;
use clap::Args;

use crate::cli::build::{build, BuildArgs};
use crate::cli::error::CliResult;

/// `berth compose build`.
#[derive(Debug, Args)]
pub struct ComposeBuildArgs {
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Set build-time variables for services
    #[arg(long = "build-arg", value_name = "stringArray")]
    pub build_arg: Vec<String>,
    /// Don't print anything to STDOUT
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Services to build
    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

/// Whether the engine has `image`.
async fn has_image(client: &Client, image: &str) -> CliResult<bool> {
    match client
        .get_json::<serde_json::Value>(&format!("/images/{}/json", encode(image)))
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Build the project's buildable services: all of them (`always`), or
/// only those whose image is missing. `extra_args` are `--build-arg`s.
pub async fn build_services(
    client: &Client,
    project: &Project,
    always: bool,
    opts: &ComposeBuildArgs,
) -> CliResult {
    for (name, svc) in &project.services {
        let Some(b) = &svc.build else { continue };
        if !opts.service.is_empty() && !opts.service.contains(name) {
            continue;
        }
        let image = image_of(project, name, svc);
        if !always && has_image(client, &image).await? {
            continue;
        }
        let dockerfile = Path::new(&b.context).join(&b.dockerfile);
        let mut build_arg: Vec<String> = b
            .args
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect();
        build_arg.extend(opts.build_arg.iter().cloned());
        let args = BuildArgs {
            tag: vec![image],
            file: Some(dockerfile.to_string_lossy().into_owned()),
            build_arg,
            target: b.target.clone(),
            no_cache: opts.no_cache,
            pull: false,
            quiet: opts.quiet,
            label: b.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            network: "default".into(),
            iidfile: None,
            rm: "true".into(),
            force_rm: false,
            cache_from: b.cache_from.clone(),
            progress: None,
            compress: false,
            platform: None,
            context: b.context.clone(),
        };
        eprintln!(" Service {name}  Building");
        build(client, &args).await?;
        eprintln!(" Service {name}  Built");
    }
    Ok(())
}
