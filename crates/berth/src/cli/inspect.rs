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
    /// Volumes only (`--type volume`).
    Volume,
}

async fn fetch(client: &Client, kind: Kind, name: &str, size: bool) -> CliResult<Option<String>> {
    let name = encode(name);
    let container = format!(
        "/containers/{name}/json{}",
        if size { "?size=1" } else { "" }
    );
    let image = format!("/images/{name}/json");
    let network = format!("/networks/{name}");
    let volume = format!("/volumes/{name}");
    // The docker CLI's order for an untyped inspect.
    let paths = match kind {
        Kind::Container => vec![container],
        Kind::Image => vec![image],
        Kind::Network => vec![network],
        Kind::Volume => vec![volume],
        Kind::Any => vec![container, image, network, volume],
    };
    for p in paths {
        if let Some((_, body)) = found(client.call(Method::GET, &p).await)? {
            return Ok(Some(String::from_utf8_lossy(&body).trim().to_string()));
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
        (Kind::Any, Some("volume")) => Kind::Volume,
        (Kind::Any, Some(t)) if !t.is_empty() => {
            return Err(CliError::msg(format!(
                "\"{t}\" is not a valid value for --type"
            )))
        }
        (k, _) => k,
    };
    let noun = match kind {
        Kind::Any => "object",
        Kind::Container => "container",
        Kind::Image => "image",
        Kind::Network => "network",
        Kind::Volume => "volume",
    };
    print_inspect(&args.names, args.format.as_deref(), noun, async |name| {
        fetch(client, kind, name, args.size).await
    })
    .await
}

/// Print `names` the way the docker CLI's inspect commands do (see [`render_inspect`]),
/// then fail with the `Error: No such <noun>: <name>` lines of the missing ones, if any.
pub async fn print_inspect(
    names: &[String],
    format: Option<&str>,
    noun: &str,
    fetch: impl AsyncFnMut(&str) -> CliResult<Option<String>>,
) -> CliResult {
    let (text, missing) = render_inspect(names, format, fetch).await?;
    out(&text)?;
    if missing.is_empty() {
        Ok(())
    } else {
        let errs: Vec<String> = missing
            .iter()
            .map(|name| format!("Error: No such {noun}: {name}"))
            .collect();
        Err(CliError::msg(errs.join("\n")))
    }
}

/// The output of an inspect of `names` and the names `fetch` reports missing (`None`):
/// with a template (`--format`, not "json"), one executed template per object and line
/// (a lone newline when none was found); otherwise one JSON array of every object found, re-indented with 4 spaces (`[]` when
/// none). A `fetch` error or a template failure aborts.
pub async fn render_inspect<'n>(
    names: &'n [String],
    format: Option<&str>,
    mut fetch: impl AsyncFnMut(&str) -> CliResult<Option<String>>,
) -> CliResult<(String, Vec<&'n str>)> {
    let template = match format {
        Some(f) if !f.is_empty() && f != "json" => Some(Template::parse(f)?),
        _ => None,
    };
    let mut raws = Vec::new();
    let mut missing = Vec::new();
    let mut text = String::new();
    for name in names {
        match fetch(name).await? {
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
            None => missing.push(name.as_str()),
        }
    }
    if template.is_none() {
        text = if raws.is_empty() {
            "[]".into()
        } else {
            indent_json(&format!("[{}]", raws.join(",")), "    ")
        };
        text.push('\n');
    } else if text.is_empty() {
        // Nothing found: the docker CLI still ends its (empty) output with a newline.
        text.push('\n');
    }
    Ok((text, missing))
}

/// An API result as "found" (`Some`), "no such object" (`None`, a 404) or a failure.
pub fn found<T>(result: Result<T, berth_client::ClientError>) -> CliResult<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// A fetch knowing "a" and "b" (as compact JSON, daemon key order), missing the rest.
    async fn known(name: &str) -> CliResult<Option<String>> {
        Ok(match name {
            "a" => Some(r#"{"Name":"a","Id":"1","Labels":{}}"#.to_string()),
            "b" => Some(r#"{"Name":"b","Id":"2","Labels":{"k":"v"}}"#.to_string()),
            _ => None,
        })
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn json_array_of_found_objects_in_order_and_the_missing_names() {
        let n = names(&["b", "x", "a", "y"]);
        let (text, missing) = run(render_inspect(&n, None, known)).unwrap();
        assert_eq!(
            text,
            "[\n    {\n        \"Name\": \"b\",\n        \"Id\": \"2\",\n        \"Labels\": {\n            \"k\": \"v\"\n        }\n    },\n    {\n        \"Name\": \"a\",\n        \"Id\": \"1\",\n        \"Labels\": {}\n    }\n]\n"
        );
        assert_eq!(missing, vec!["x", "y"]);
        // "json" and "" are the default output too
        for f in ["json", ""] {
            assert_eq!(run(render_inspect(&n, Some(f), known)).unwrap().0, text);
        }
    }

    #[test]
    fn nothing_found_is_an_empty_array() {
        let n = names(&["x"]);
        let (text, missing) = run(render_inspect(&n, None, known)).unwrap();
        assert_eq!(text, "[]\n");
        assert_eq!(missing, vec!["x"]);
    }

    #[test]
    fn template_runs_once_per_found_object() {
        let n = names(&["a", "x", "b"]);
        let (text, missing) = run(render_inspect(&n, Some("{{.Name}}={{.Id}}"), known)).unwrap();
        assert_eq!(text, "a=1\nb=2\n");
        assert_eq!(missing, vec!["x"]);
        // nothing found: a lone newline (not "[]")
        let n = names(&["x"]);
        let (text, _) = run(render_inspect(&n, Some("{{.Name}}"), known)).unwrap();
        assert_eq!(text, "\n");
        // an empty result per object is still a line each
        let n = names(&["a", "b"]);
        let (text, _) = run(render_inspect(&n, Some("{{range .Labels}}{{end}}"), known)).unwrap();
        assert_eq!(text, "\n\n");
    }

    #[test]
    fn fetch_and_template_failures_abort() {
        let n = names(&["a"]);
        let failing = async |_: &str| -> CliResult<Option<String>> { Err(CliError::msg("boom")) };
        let err = run(render_inspect(&n, None, failing)).unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert!(matches!(
            run(render_inspect(&n, Some("{{.Name"), known)),
            Err(CliError::Template(_))
        ));
    }
}
