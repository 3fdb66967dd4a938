//! Image commands: images, import, load, save, tag, rmi, history, prune.

use std::io::IsTerminal;

use berth_client::{file_body, reader_body, Client, ImportOptions};
use berth_spec::api::ImageSummary;
use berth_spec::units::human_size;
use chrono::{DateTime, TimeZone, Utc};
use clap::Args;

use super::error::{not_found_as, CliError, CliResult};
use super::format::{render, row};
use super::output::{confirm, copy_raw, go_error, out, outln};
use super::template::Val;
use super::timefmt::ago;

/// `berth images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print images using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Repository[:tag] to list
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `berth import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long = "message", value_name = "string")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// File (or - for stdin)
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    /// Repository and optional tag for the image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `berth load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long = "input", value_name = "string")]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `berth save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", value_name = "string")]
    pub output: Option<String>,
    /// Images to save
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `berth tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Source image
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// Target name
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

/// `berth rmi`.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Images to remove
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `berth history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Pretty-print images using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value = "true", value_name = "bool", action = clap::ArgAction::Set, hide_default_value = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub human: String,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Image
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `berth image prune`.
#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. 'until=<timestamp>')
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

fn short_id(id: &str, trunc: bool) -> String {
    if trunc {
        id.strip_prefix("sha256:")
            .unwrap_or(id)
            .chars()
            .take(12)
            .collect()
    } else {
        id.to_string()
    }
}

/// Split `repo:tag` at the last colon that is not part of a registry
/// host (`localhost:5000/a` has no tag).
pub fn split_repo_tag(reference: &str) -> (String, String) {
    match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
        _ => (reference.to_string(), String::new()),
    }
}

/// One row per tag of each image (`<none>` for untagged ones).
pub fn image_rows(images: &[ImageSummary], trunc: bool, now: DateTime<Utc>) -> Vec<Val> {
    let mut rows = Vec::new();
    for img in images {
        let tags: Vec<String> = img
            .repo_tags
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t != "<none>:<none>")
            .collect();
        let digests = img.repo_digests.clone().unwrap_or_default();
        let mut pairs: Vec<(String, String)> = tags.iter().map(|t| split_repo_tag(t)).collect();
        if pairs.is_empty() {
            // An untagged image shows its digest's repository if it has one.
            match digests.iter().find(|d| !d.starts_with("<none>")) {
                Some(d) => pairs.push((
                    d.split('@').next().unwrap_or("<none>").to_string(),
                    "<none>".into(),
                )),
                None => pairs.push(("<none>".into(), "<none>".into())),
            }
        }
        for (repo, tag) in pairs {
            let digest = digests
                .iter()
                .find(|d| d.split('@').next() == Some(repo.as_str()))
                .and_then(|d| d.split('@').nth(1))
                .unwrap_or("<none>")
                .to_string();
            let created_at = Utc
                .timestamp_opt(img.created, 0)
                .single()
                .map(super::timefmt::go_time_string)
                .unwrap_or_default();
            rows.push(row(
                vec![
                    ("ID", short_id(&img.id, trunc)),
                    ("Repository", repo),
                    ("Tag", tag),
                    ("Digest", digest),
                    ("CreatedSince", ago(img.created, now)),
                    ("CreatedAt", created_at),
                    ("Size", human_size(img.size.max(0) as u64, 3)),
                    ("VirtualSize", human_size(img.virtual_size.max(0) as u64, 3)),
                    (
                        "SharedSize",
                        if img.shared_size < 0 {
                            "N/A".into()
                        } else {
                            human_size(img.shared_size as u64, 3)
                        },
                    ),
                    (
                        "Containers",
                        if img.containers < 0 {
                            "N/A".into()
                        } else {
                            img.containers.to_string()
                        },
                    ),
                ],
                vec![],
            ));
        }
    }
    rows
}

/// Column titles of the image table.
pub fn image_header() -> Val {
    row(
        vec![
            ("ID", "IMAGE ID".into()),
            ("Repository", "REPOSITORY".into()),
            ("Tag", "TAG".into()),
            ("Digest", "DIGEST".into()),
            ("CreatedSince", "CREATED".into()),
            ("CreatedAt", "CREATED AT".into()),
            ("Size", "SIZE".into()),
            ("VirtualSize", "VIRTUAL SIZE".into()),
            ("SharedSize", "SHARED SIZE".into()),
            ("Containers", "CONTAINERS".into()),
        ],
        vec![],
    )
}

/// `berth images`.
pub async fn images(client: &Client, args: &ImagesArgs) -> CliResult {
    let mut filters = super::filters_from(&args.filter)?;
    if let Some(r) = &args.reference {
        filters
            .entry("reference".into())
            .or_default()
            .push(r.clone());
    }
    let list = client.images_list(args.all, args.digests, &filters).await?;
    let format = match (&args.format, args.quiet) {
        (_, true) => "{{.ID}}".to_string(),
        (Some(f), false) if !f.is_empty() && f != "table" => f.clone(),
        _ if args.digests => {
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                .into()
        }
        _ => "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".into(),
    };
    let rows = image_rows(&list, !args.no_trunc, Utc::now());
    out(&render(&format, &image_header(), &rows)?)
}

async fn open_input(path: Option<&str>) -> CliResult<berth_client::ReqBody> {
    match path {
        None | Some("-") => Ok(reader_body(tokio::io::stdin())),
        Some(p) => {
            let f = std::fs::File::open(p)
                .map_err(|e| CliError::msg(format!("open {p}: {}", go_error(&e))))?;
            file_body(f).map_err(|e| CliError::msg(format!("read {p}: {}", go_error(&e))))
        }
    }
}

/// `berth import`.
pub async fn import(client: &Client, args: &ImportArgs) -> CliResult {
    if args.source.contains("://") {
        return Err(CliError::msg(
            "importing from a URL is not supported; download the file first",
        ));
    }
    let body = open_input(Some(&args.source)).await?;
    let (repo, tag) = args
        .reference
        .as_deref()
        .map(split_repo_tag)
        .unwrap_or_default();
    let opts = ImportOptions {
        repo,
        tag,
        message: args.message.clone().unwrap_or_default(),
        changes: args.change.clone(),
    };
    let stream = client.image_import(body, &opts).await?;
    super::progress::show_stream(stream.into_messages(), super::progress::Sink::Stdout).await
}

/// `berth load`.
pub async fn load(client: &Client, args: &LoadArgs) -> CliResult {
    if args.input.is_none() && std::io::stdin().is_terminal() {
        return Err(CliError::msg(
            "requested load from stdin, but stdin is empty",
        ));
    }
    let body = open_input(args.input.as_deref()).await?;
    let stream = client.image_load(body, args.quiet).await?;
    // As docker: whatever the daemon sends is shown (with `-q` it sends only
    // the `Loaded image` lines); progress bars only on a terminal.
    super::progress::show_stream(stream.into_messages(), super::progress::Sink::Stdout).await
}

/// `berth save`.
pub async fn save(client: &Client, args: &SaveArgs) -> CliResult {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let stream = client.image_save(&args.images).await?;
    write_stream(stream, args.output.as_deref()).await
}

/// Copy a download to a file (written beside it, then renamed) or stdout.
pub async fn write_stream(stream: berth_client::RawStream, output: Option<&str>) -> CliResult {
    match output {
        None | Some("-") => {
            let mut stdout = std::io::stdout().lock();
            copy_raw(stream, &mut stdout).await
        }
        Some(path) => {
            let tmp = format!("{path}.berth-tmp");
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&tmp)
                    .map_err(|e| CliError::msg(format!("failed to save: {e}")))?,
            );
            let res = copy_raw(stream, &mut f).await;
            drop(f);
            match res {
                Ok(()) => std::fs::rename(&tmp, path)
                    .map_err(|e| CliError::msg(format!("failed to save: {e}"))),
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(e)
                }
            }
        }
    }
}

/// `berth tag`.
pub async fn tag(client: &Client, args: &TagArgs) -> CliResult {
    let (repo, tag) = split_repo_tag(&args.target);
    client.image_tag(&args.source, &repo, &tag).await?;
    Ok(())
}

/// `berth rmi`.
pub async fn rmi(client: &Client, args: &RmiArgs) -> CliResult {
    let mut errs = Vec::new();
    for img in &args.images {
        match client.image_remove(img, args.force, args.no_prune).await {
            Ok(items) => {
                for it in items {
                    if let Some(u) = it.untagged {
                        outln(&format!("Untagged: {u}"))?;
                    }
                    if let Some(d) = it.deleted {
                        outln(&format!("Deleted: {d}"))?;
                    }
                }
            }
            Err(e) => errs.push(not_found_as(e, "image", img).to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(errs.join("\n")))
    }
}

/// `berth history`.
pub async fn history(client: &Client, args: &HistoryArgs) -> CliResult {
    let items = client.image_history(&args.image).await?;
    let human = args.human != "false";
    let now = Utc::now();
    let trunc = !args.no_trunc;
    let rows: Vec<Val> = items
        .iter()
        .map(|h| {
            let id = if h.id == "<missing>" {
                h.id.clone()
            } else {
                short_id(&h.id, trunc)
            };
            let created_at = Utc
                .timestamp_opt(h.created, 0)
                .single()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            let created_by = h.created_by.replace('\t', " ");
            let created_by = if trunc {
                super::format::ellipsis(&created_by, 45)
            } else {
                created_by
            };
            let size = if human {
                human_size(h.size.max(0) as u64, 3)
            } else {
                h.size.to_string()
            };
            row(
                vec![
                    ("ID", id),
                    ("CreatedSince", ago(h.created, now)),
                    ("CreatedAt", created_at),
                    ("CreatedBy", created_by),
                    ("Size", size),
                    ("Comment", h.comment.clone()),
                ],
                vec![],
            )
        })
        .collect();
    let header = row(
        vec![
            ("ID", "IMAGE".into()),
            ("CreatedSince", "CREATED".into()),
            ("CreatedAt", "CREATED AT".into()),
            ("CreatedBy", "CREATED BY".into()),
            ("Size", "SIZE".into()),
            ("Comment", "COMMENT".into()),
        ],
        vec![],
    );
    let format = match (&args.format, args.quiet) {
        (_, true) => "{{.ID}}".to_string(),
        (Some(f), false) if !f.is_empty() => f.clone(),
        _ if human => {
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".into()
        }
        _ => "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".into(),
    };
    out(&render(&format, &header, &rows)?)
}

/// `berth image prune`.
pub async fn prune(client: &Client, args: &ImagePruneArgs) -> CliResult {
    let mut filters = super::filters_from(&args.filter)?;
    let warning = if args.all {
        filters
            .entry("dangling".into())
            .or_default()
            .push("false".into());
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        filters
            .entry("dangling".into())
            .or_default()
            .push("true".into());
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(&format!("{warning}\nAre you sure you want to continue?")) {
        return Ok(());
    }
    let report = client.images_prune(&filters).await?;
    let mut text = String::new();
    if let Some(items) = report.images_deleted.as_ref().filter(|d| !d.is_empty()) {
        text.push_str("Deleted Images:\n");
        for it in items {
            if let Some(u) = &it.untagged {
                text.push_str(&format!("untagged: {u}\n"));
            }
            if let Some(d) = &it.deleted {
                text.push_str(&format!("deleted: {d}\n"));
            }
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(report.space_reclaimed, 4)
    ));
    out(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_table_like_docker() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let imgs = vec![
            ImageSummary {
                id: "sha256:30f8d8962bc5beab9b230314197e3826befd58375b9bc6bc6fab07e5b338576f"
                    .into(),
                repo_tags: Some(vec!["busybox:local".into(), "bb:2".into()]),
                created: now.timestamp() - 3 * 86400,
                size: 1_982_256,
                ..Default::default()
            },
            ImageSummary {
                id: "sha256:aaaaaaaaaaaabbbb".into(),
                repo_tags: None,
                created: now.timestamp() - 10,
                size: 0,
                ..Default::default()
            },
        ];
        let rows = image_rows(&imgs, true, now);
        let out = render(
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
            &image_header(),
            &rows,
        )
        .unwrap();
        let want = "REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\n\
                    busybox      local     30f8d8962bc5   3 days ago       1.98MB\n\
                    bb           2         30f8d8962bc5   3 days ago       1.98MB\n\
                    <none>       <none>    aaaaaaaaaaaa   10 seconds ago   0B\n";
        assert_eq!(out, want);
    }

    #[test]
    fn splits_references() {
        assert_eq!(split_repo_tag("a:1"), ("a".into(), "1".into()));
        assert_eq!(
            split_repo_tag("localhost:5000/a"),
            ("localhost:5000/a".into(), String::new())
        );
        assert_eq!(
            split_repo_tag("localhost:5000/a:v"),
            ("localhost:5000/a".into(), "v".into())
        );
    }
}
