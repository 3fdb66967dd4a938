//! `berth env capture|diff|show`: the packages installed in a container or
//! image, the recipe that rebuilds them, what a container changed, and what
//! `berth commit` recorded. Served by berth's `GET /berth/env/{name}`
//! extension (a Docker daemon does not have it).

use std::path::PathBuf;

use berth_client::{encode, Client, ClientError};
use berth_envcapture::{diff, recipe, render, EnvDiff, Environment};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use super::error::{CliError, CliResult};
use super::output::outln;

/// The label `berth commit` records a container's package changes in.
const ENV_LABEL: &str = "io.berth.env";

/// `berth env ...`.
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Capture the installed packages of a container or image; with -o,
    /// write a recipe (Dockerfile + pinned package lists) that rebuilds them
    #[command(override_usage = "berth env capture [OPTIONS] CONTAINER|IMAGE")]
    Capture(CaptureArgs),
    /// Show the packages a container added, removed, upgraded or downgraded
    /// over its image (+ added, - removed, ^ upgraded, v downgraded)
    #[command(override_usage = "berth env diff [OPTIONS] CONTAINER")]
    Diff(DiffArgs),
    /// Show the package changes `berth commit` recorded in an image (the
    /// io.berth.env label), or its packages when none were recorded
    #[command(override_usage = "berth env show [OPTIONS] IMAGE")]
    Show(ShowArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
}

/// `berth env capture`.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Write the recipe into this directory (created if missing)
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Print every package (text) or the whole capture (json)
    #[arg(long, value_enum, value_name = "string")]
    pub format: Option<Format>,
    /// Container or image
    #[arg(value_name = "CONTAINER|IMAGE")]
    pub target: String,
}

/// `berth env diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "text", value_name = "string")]
    pub format: Format,
    /// Container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth env show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "text", value_name = "string")]
    pub format: Format,
    /// Image
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

impl EnvCommand {
    /// Run the subcommand.
    pub async fn run(&self, client: &Client) -> CliResult {
        match self {
            EnvCommand::Capture(a) => capture(client, a).await,
            EnvCommand::Diff(a) => env_diff(client, a).await,
            EnvCommand::Show(a) => show(client, a).await,
        }
    }
}

/// A daemon without the extension answers 404 "page not found".
fn unsupported(e: ClientError) -> CliError {
    match &e {
        ClientError::Daemon {
            status: 404,
            message,
        } if message == "page not found" => CliError::msg(
            "Error: berth env needs a berth daemon (this daemon has no /berth/env endpoint)",
        ),
        _ => e.into(),
    }
}

async fn env_of(client: &Client, name: &str, image: bool) -> CliResult<Environment> {
    client.env_capture(name, image).await.map_err(unsupported)
}

async fn image_json(client: &Client, name: &str) -> Result<Value, ClientError> {
    client
        .get_json(&format!("/images/{}/json", encode(name)))
        .await
}

/// How a recipe names its base: by repository digest when it has one,
/// else by image ID.
fn pinned(image: &Value) -> String {
    image["RepoDigests"]
        .as_array()
        .and_then(|d| d.first())
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| image["Id"].as_str().unwrap_or_default().to_string())
}

/// What `berth commit` recorded in an image, if anything.
fn recorded(image: &Value) -> Option<Value> {
    let label = image["Config"]["Labels"][ENV_LABEL].as_str()?;
    serde_json::from_str(label).ok()
}

fn json_out<T: serde::Serialize>(v: &T) -> CliResult {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| CliError::msg(format!("encoding JSON: {e}")))?;
    outln(&text)
}

fn print(text: &str) -> CliResult {
    for line in text.lines() {
        outln(line)?;
    }
    Ok(())
}

/// What a capture target is: its environment, its base's and the base's
/// pinned reference.
struct Target {
    env: Environment,
    base_env: Environment,
    from: String,
}

async fn resolve_target(client: &Client, name: &str) -> CliResult<Target> {
    match client.container_inspect(name).await {
        Ok(c) => {
            let env = env_of(client, name, false).await?;
            let base_env = env_of(client, &c.image, true).await?;
            let from = match image_json(client, &c.image).await {
                Ok(img) => pinned(&img),
                Err(_) => c.image.clone(),
            };
            Ok(Target {
                env,
                base_env,
                from,
            })
        }
        Err(e) if e.is_not_found() => {
            let img = image_json(client, name).await.map_err(|e| {
                if e.is_not_found() {
                    CliError::msg(format!("Error: No such container or image: {name}"))
                } else {
                    e.into()
                }
            })?;
            let env = env_of(client, name, true).await?;
            // The base of a committed image is the one its label names;
            // else the image is its own base (the recipe only pins it, and
            // README.txt lists what it holds).
            let base = recorded(&img).and_then(|r| r["base"].as_str().map(str::to_string));
            if let Some(base) = base {
                if let Ok(base_img) = image_json(client, &base).await {
                    let base_env = env_of(client, &base, true).await?;
                    return Ok(Target {
                        env,
                        base_env,
                        from: pinned(&base_img),
                    });
                }
            }
            Ok(Target {
                base_env: env.clone(),
                env,
                from: pinned(&img),
            })
        }
        Err(e) => Err(e.into()),
    }
}

async fn capture(client: &Client, args: &CaptureArgs) -> CliResult {
    let t = resolve_target(client, &args.target).await?;
    if let Some(dir) = &args.output {
        let r = recipe::plan(&t.from, &t.base_env, &t.env, &args.target);
        let written = r
            .write_to(dir)
            .map_err(|e| CliError::msg(format!("Error: {e}")))?;
        for w in &t.env.warnings {
            eprintln!("warning: {}: {}", w.path, w.message);
        }
        for p in written {
            outln(&p.display().to_string())?;
        }
        return Ok(());
    }
    match args.format {
        Some(Format::Json) => json_out(&t.env),
        Some(Format::Text) => print(&render::listing(&t.env)),
        None => print(&render::summary(&t.env)),
    }
}

async fn env_diff(client: &Client, args: &DiffArgs) -> CliResult {
    let c = client
        .container_inspect(&args.container)
        .await
        .map_err(|e| super::error::not_found_as(e, "container", &args.container))?;
    let env = env_of(client, &args.container, false).await?;
    let base = env_of(client, &c.image, true).await?;
    let d: EnvDiff = diff(&base, &env);
    match args.format {
        Format::Json => json_out(&d),
        Format::Text => print(&render::diff_text(&d)),
    }
}

async fn show(client: &Client, args: &ShowArgs) -> CliResult {
    let img = image_json(client, &args.image)
        .await
        .map_err(|e| super::error::not_found_as(e, "image", &args.image))?;
    match recorded(&img) {
        Some(rec) => match args.format {
            Format::Json => json_out(&rec),
            Format::Text => {
                let changes: EnvDiff = serde_json::from_value(rec["changes"].clone())
                    .map_err(|e| CliError::msg(format!("Error: bad {ENV_LABEL} label: {e}")))?;
                outln(&format!(
                    "Recorded at commit, over image {}:",
                    rec["base"].as_str().unwrap_or("?")
                ))?;
                print(&render::diff_text(&changes))?;
                if let Some(counts) = rec["counts"].as_object() {
                    for (k, v) in counts {
                        outln(&format!("{k}: {}", v.as_str().unwrap_or_default()))?;
                    }
                }
                Ok(())
            }
        },
        None => {
            let env = env_of(client, &args.image, true).await?;
            match args.format {
                Format::Json => json_out(&env),
                Format::Text => {
                    outln(&format!(
                        "No environment recorded at commit in {}; its packages:",
                        args.image
                    ))?;
                    print(&render::summary(&env))
                }
            }
        }
    }
}
