//! `berth search`: the daemon asks the registry; the table is the docker
//! CLI's (NAME, DESCRIPTION cut to 45 characters, STARS, OFFICIAL, AUTOMATED).

use berth_client::{Client, SearchOptions, SearchResult};
use clap::Args;

use super::{registry_auth, request_privilege};
use crate::cli::error::{CliError, CliResult};
use crate::cli::format::{ellipsis, render, row};
use crate::cli::output::out;
use crate::cli::template::Val;

/// `berth search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Max number of search results
    #[arg(
        long = "limit",
        value_name = "int",
        default_value = "25",
        allow_negative_numbers = true
    )]
    pub limit: String,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// The search term
    #[arg(value_name = "TERM")]
    pub term: String,
}

const DEFAULT_FORMAT: &str =
    "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}";

/// The registry a search term goes to (`127.0.0.1:5000/x` -> that host;
/// anything else -> Docker Hub).
fn search_domain(term: &str) -> &str {
    match term.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

fn header() -> Val {
    row(
        vec![
            ("Name", "NAME".into()),
            ("Description", "DESCRIPTION".into()),
            ("StarCount", "STARS".into()),
            ("IsOfficial", "OFFICIAL".into()),
            ("IsAutomated", "AUTOMATED".into()),
        ],
        vec![],
    )
}

fn ok(b: bool) -> String {
    if b { "[OK]" } else { "" }.to_string()
}

/// One table row; descriptions lose their line breaks and, unless
/// `--no-trunc`, are cut to 45 characters.
fn result_row(r: &SearchResult, trunc: bool) -> Val {
    let mut desc = r.description.replace(['\n', '\r'], " ");
    if trunc {
        desc = ellipsis(&desc, 45);
    }
    row(
        vec![
            ("Name", r.name.clone()),
            ("Description", desc),
            ("StarCount", r.star_count.to_string()),
            ("IsOfficial", ok(r.is_official)),
            ("IsAutomated", ok(r.is_automated)),
        ],
        vec![],
    )
}

/// Render results with `--format` (or docker's table).
pub fn render_results(
    results: &[SearchResult],
    format: Option<&str>,
    trunc: bool,
) -> CliResult<String> {
    let format = match format {
        Some(f) if !f.is_empty() && f != "table" => f,
        _ => DEFAULT_FORMAT,
    };
    let rows: Vec<Val> = results.iter().map(|r| result_row(r, trunc)).collect();
    Ok(render(format, &header(), &rows)?)
}

/// A usage error of `search` (exit 125, with the help hint).
fn usage(msg: &str) -> CliError {
    CliError::status(125, format!("{msg}\nSee 'berth search --help'."))
}

/// `--limit` as Go's `strconv.ParseInt` reads it, with the docker CLI's message.
fn parse_limit(value: &str) -> CliResult<i64> {
    value.parse::<i64>().map_err(|_| {
        let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
        let why = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        usage(&format!(
            "invalid argument \"{value}\" for \"--limit\" flag: strconv.ParseInt: parsing \"{value}\": {why}"
        ))
    })
}

/// `berth search`.
pub async fn search(client: &Client, args: &SearchArgs) -> CliResult {
    let limit = parse_limit(&args.limit)?;
    let filters = crate::cli::filters_from(&args.filter).map_err(|e| usage(&e.to_string()))?;
    let domain = search_domain(&args.term);
    let mut opts = SearchOptions {
        term: args.term.clone(),
        limit: Some(limit),
        filters,
        registry_auth: Some(registry_auth(domain)),
    };
    let results = match client.image_search(&opts).await {
        Err(e) if e.status() == Some(401) => {
            opts.registry_auth = Some(request_privilege(domain, "search")?);
            client.image_search(&opts).await?
        }
        other => other?,
    };
    out(&render_results(
        &results,
        args.format.as_deref(),
        !args.no_trunc,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_as_docker() {
        let results = vec![
            SearchResult {
                name: "busybox".into(),
                description: "Busybox base image.\nSmall".into(),
                star_count: 3000,
                is_official: true,
                is_automated: false,
            },
            SearchResult {
                name: "someone/a-very-long-named-image".into(),
                description: "x".repeat(60),
                star_count: 0,
                is_official: false,
                is_automated: true,
            },
        ];
        let got = render_results(&results, None, true).unwrap();
        let long = format!("{}…", "x".repeat(44));
        let expected = format!(
            "NAME                              DESCRIPTION                                     STARS     OFFICIAL   AUTOMATED\n\
             busybox                           Busybox base image. Small                       3000      [OK]       \n\
             someone/a-very-long-named-image   {long}   0                    [OK]\n"
        );
        assert_eq!(got, expected);
        let got = render_results(&results, Some("{{.Name}}: {{.StarCount}}"), true).unwrap();
        assert_eq!(got, "busybox: 3000\nsomeone/a-very-long-named-image: 0\n");
        let full = render_results(&results, Some("{{.Description}}"), false).unwrap();
        assert!(full.contains(&"x".repeat(60)));
    }

    #[test]
    fn limits_parse_as_go_does() {
        assert_eq!(parse_limit("5").unwrap(), 5);
        assert_eq!(parse_limit("-1").unwrap(), -1);
        let e = parse_limit("x").unwrap_err();
        assert_eq!(e.code(), 125);
        assert_eq!(
            e.to_string(),
            "invalid argument \"x\" for \"--limit\" flag: strconv.ParseInt: parsing \"x\": invalid syntax\nSee 'berth search --help'."
        );
        assert!(parse_limit("99999999999999999999")
            .unwrap_err()
            .to_string()
            .contains(": value out of range"));
    }

    #[test]
    fn terms_pick_their_registry() {
        assert_eq!(search_domain("127.0.0.1:5000/busybox"), "127.0.0.1:5000");
        assert_eq!(search_domain("localhost/x"), "localhost");
        assert_eq!(search_domain("someone/x"), "docker.io");
        assert_eq!(search_domain("busybox"), "docker.io");
    }
}
