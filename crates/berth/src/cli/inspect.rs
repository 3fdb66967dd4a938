//! `berth inspect`, `berth container inspect`, `berth image inspect`:
//! the daemon's JSON re-indented with 4 spaces in its own key order, or a
//! Go template per object.

use berth_client::Method;
use berth_client::{encode, Client};
use clap::Args;

use super::error::{CliError, CliResult};
use super::output::out;
use super::template::{indent_json, Template, Val};

/// `berth inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    /// Return JSON for specified type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
    /// Objects to inspect
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// What kind of object the command inspects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything (`berth inspect`).
    Any,
    /// Containers only.
    Container,
    /// Images only.
    Image,
    /// Networks only (`--type network`).
    Network,
}

async fn fetch(client: &Client, kind: Kind, name: &str, size: bool) -> CliResult<Option<String>> {
    let name = encode(name);
    let container = format!(
        "/containers/{name}/json{}",
        if size { "?size=1" } else { "" }
    );
    let image = format!("/images/{name}/json");
    let network = format!("/networks/{name}");
    let paths = match kind {
        Kind::Container => vec![container],
        Kind::Image => vec![image],
        Kind::Network => vec![network],
        Kind::Any => vec![container, image, network],
    };
    for p in paths {
        match client.call(Method::GET, &p).await {
            Ok((_, body)) => return Ok(Some(String::from_utf8_lossy(&body).trim().to_string())),
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Run an inspect of `kind` objects.
pub async fn inspect(client: &Client, args: &InspectArgs, kind: Kind) -> CliResult {
    let kind = match (kind, args.kind.as_deref()) {
        (Kind::Any, Some("container")) => Kind::Container,
        (Kind::Any, Some("image")) => Kind::Image,
        (Kind::Any, Some("network")) => Kind::Network,
        (Kind::Any, Some(t)) if !t.is_empty() => {
            return Err(CliError::msg(format!(
                "\"{t}\" is not a valid value for --type"
            )))
        }
        (k, _) => k,
    };
    let template = match args.format.as_deref() {
        Some(f) if !f.is_empty() && f != "json" => Some(Template::parse(f)?),
        _ => None,
    };
    let mut raws = Vec::new();
    let mut errs = Vec::new();
    let mut text = String::new();
    for name in &args.names {
        match fetch(client, kind, name, args.size).await? {
            Some(raw) => {
                if let Some(t) = &template {
                    let v: Val =
                        serde_json::from_str(&raw).map_err(berth_client::ClientError::Json)?;
                    text.push_str(&t.execute(&v)?);
                    text.push('\n');
                } else {
                    raws.push(raw);
                }
            }
            None => errs.push(match kind {
                Kind::Any => format!("Error: No such object: {name}"),
                Kind::Container => format!("Error: No such container: {name}"),
                Kind::Image => format!("Error: No such image: {name}"),
                Kind::Network => format!("Error: No such network: {name}"),
            }),
        }
    }
    if template.is_none() {
        if raws.is_empty() {
            text = "[]\n".into();
        } else {
            text = indent_json(&format!("[{}]", raws.join(",")), "    ");
            text.push('\n');
        }
    }
    out(&text)?;
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(errs.join("\n")))
    }
}
