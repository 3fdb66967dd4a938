//! `berth volume ...`: create, ls, inspect, rm and prune, with the docker
//! CLI's flags, output and errors.

use berth_client::Client;
use berth_spec::volume_api::{Volume, VolumeCreateRequest};
use clap::{Args, Subcommand};

use super::error::{not_found_as, CliError, CliResult};
use super::format::render;
use super::format::row;
use super::inspect::{found, print_inspect};
use super::manage::{client_subcommands, kv_map};
use super::output::{confirm, out, outln};
use super::template::{Val, ECHO_KEY};

/// `berth volume ...`.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    #[command(override_usage = "berth volume create [OPTIONS] [VOLUME]")]
    Create(CreateArgs),
    /// Display detailed information on one or more volumes
    #[command(override_usage = "berth volume inspect [OPTIONS] VOLUME [VOLUME...]")]
    Inspect(InspectArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove all unused local volumes
    Prune(PruneArgs),
    /// Remove one or more volumes
    #[command(
        alias = "remove",
        override_usage = "berth volume rm [OPTIONS] VOLUME [VOLUME...]"
    )]
    Rm(RmArgs),
}

/// `berth volume create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, default_value = "local", value_name = "string")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long, value_name = "list")]
    pub label: Vec<String>,
    /// Specify volume name
    #[arg(long, value_name = "string", hide = true)]
    pub name: Option<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    /// The volume's name
    #[arg(value_name = "VOLUME")]
    pub volume: Option<String>,
}

/// `berth volume ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Provide filter values (e.g. 'dangling=true')
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print volumes using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `berth volume inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Volumes to inspect
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

/// `berth volume rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Volumes to remove
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

/// `berth volume prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Provide filter values (e.g. 'label=<label>')
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

client_subcommands!(VolumeCommand {
    Create => create,
    Ls => ls,
    Inspect => inspect,
    Rm => rm,
    Prune => prune,
});

/// The create request the docker CLI sends for these flags.
pub fn create_request(a: &CreateArgs) -> Result<VolumeCreateRequest, String> {
    let name =
        match (&a.name, &a.volume) {
            (Some(_), Some(_)) => return Err(
                "conflicting options: either specify --name or provide positional arg, not both"
                    .into(),
            ),
            (Some(n), None) | (None, Some(n)) => n.clone(),
            (None, None) => String::new(),
        };
    Ok(VolumeCreateRequest {
        name,
        driver: a.driver.clone(),
        driver_opts: Some(kv_map(&a.opt)),
        labels: Some(kv_map(&a.label)),
    })
}

async fn create(client: &Client, a: &CreateArgs) -> CliResult {
    let req = create_request(a).map_err(CliError::msg)?;
    let v = client.volume_create(&req).await?;
    outln(&v.name)
}

const LS_FORMAT: &str = "table {{.Driver}}\t{{.Name}}";

/// The template value of one `volume ls` row.
pub fn volume_row(v: &Volume) -> Val {
    let labels = v.labels.clone().unwrap_or_default();
    let label_list: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let label_map = Val::Obj(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Val::s(v.clone())))
            .collect(),
    );
    row(
        vec![
            ("Name", v.name.clone()),
            ("Driver", v.driver.clone()),
            ("Scope", v.scope.clone()),
            ("Mountpoint", v.mountpoint.clone()),
            ("Labels", label_list.join(",")),
            ("Links", "N/A".into()),
            ("Size", "N/A".into()),
        ],
        vec![("Label", label_map)],
    )
}

/// Column titles of `volume ls`.
pub fn volume_header() -> Val {
    row(
        vec![
            ("Name", "VOLUME NAME".into()),
            ("Driver", "DRIVER".into()),
            ("Scope", "SCOPE".into()),
            ("Mountpoint", "MOUNTPOINT".into()),
            ("Labels", "LABELS".into()),
            ("Links", "LINKS".into()),
            ("Size", "SIZE".into()),
        ],
        vec![("Label", Val::s(ECHO_KEY))],
    )
}

async fn ls(client: &Client, a: &LsArgs) -> CliResult {
    let filters = super::filters_from(&a.filter)?;
    let list = client.volumes_list(&filters).await?;
    if let Some(w) = &list.warnings {
        for w in w {
            eprintln!("{w}");
        }
    }
    let format = match (&a.format, a.quiet) {
        (_, true) => "{{.Name}}".to_string(),
        (Some(f), false) if !f.is_empty() && f != "table" => f.clone(),
        _ => LS_FORMAT.to_string(),
    };
    let rows: Vec<Val> = list.volumes.iter().map(volume_row).collect();
    out(&render(&format, &volume_header(), &rows)?)
}

async fn inspect(client: &Client, a: &InspectArgs) -> CliResult {
    print_inspect(&a.volumes, a.format.as_deref(), "volume", async |name| {
        Ok(found(client.volume_inspect_raw(name).await)?.map(|raw| raw.to_string()))
    })
    .await
}

async fn rm(client: &Client, a: &RmArgs) -> CliResult {
    let mut errs = Vec::new();
    for name in &a.volumes {
        match client.volume_remove(name, a.force).await {
            Ok(()) => outln(name)?,
            Err(e) => errs.push(not_found_as(e, "volume", name).to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(errs.join("\n")))
    }
}

async fn prune(client: &Client, a: &PruneArgs) -> CliResult {
    let filters = super::filters_from(&a.filter)?;
    if !a.force
        && !confirm(
            "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?",
        )
    {
        // The docker CLI reports nothing reclaimed when the prompt is declined.
        return outln("Total reclaimed space: 0B");
    }
    let report = client.volumes_prune(&filters).await?;
    let deleted = report.volumes_deleted.unwrap_or_default();
    out(&super::output::prune_report(
        "Deleted Volumes:",
        &deleted,
        Some(report.space_reclaimed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_requests() {
        let a = CreateArgs {
            driver: "local".into(),
            label: vec!["a=b".into()],
            name: None,
            opt: vec![],
            volume: Some("v1".into()),
        };
        let r = create_request(&a).unwrap();
        assert_eq!(r.name, "v1");
        assert_eq!(r.labels.unwrap().get("a").map(String::as_str), Some("b"));
        let both = CreateArgs {
            name: Some("x".into()),
            ..a
        };
        assert!(create_request(&both)
            .unwrap_err()
            .starts_with("conflicting options"));
    }

    #[test]
    fn ls_table_layout() {
        let v = Volume {
            name: "named1".into(),
            driver: "local".into(),
            scope: "local".into(),
            ..Default::default()
        };
        let text = render(LS_FORMAT, &volume_header(), &[volume_row(&v)]).unwrap();
        assert_eq!(text, "DRIVER    VOLUME NAME\nlocal     named1\n");
    }
}
