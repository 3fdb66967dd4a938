//! `berth events`: the daemon's real-time events, printed as the docker
//! CLI prints them (`TIME TYPE ACTION ID (k=v, ...)`) or through a
//! `--format` template.

use std::io::Write;

use berth_client::{Client, EventsOptions};
use chrono::{DateTime, Local, Utc};
use clap::Args;

use super::error::{CliError, CliResult};
use super::template::{Template, Val, HIDDEN};
use super::timefmt::api_timestamp;

/// `berth events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format the output using the given Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
}

/// The Go field names of `events.Message` whose JSON names differ.
const GO_ALIASES: &[(&str, &str)] = &[
    ("Status", "status"),
    ("ID", "id"),
    ("From", "from"),
    ("Scope", "scope"),
    ("Time", "time"),
    ("TimeNano", "timeNano"),
];

/// An event as a template value: its JSON (daemon field order, for
/// `{{json .}}`) plus hidden Go-named aliases (`.Status`, `.ID`, ...).
pub fn event_value(json: &[u8]) -> Result<Val, serde_json::Error> {
    let mut v: Val = serde_json::from_slice(json)?;
    if let Val::Obj(entries) = &mut v {
        for (go, js) in GO_ALIASES {
            let value = entries
                .iter()
                .find(|(k, _)| k == js)
                .map(|(_, v)| v.clone())
                .unwrap_or(match *go {
                    "Time" | "TimeNano" => Val::Num(0.into()),
                    _ => Val::s(""),
                });
            entries.push((format!("{HIDDEN}{go}"), value));
        }
    }
    Ok(v)
}

/// The docker CLI's default line: local time with nanoseconds, type,
/// action, actor ID and the attributes sorted by key.
pub fn default_line(ev: &berth_spec::api::Event) -> String {
    let mut out = String::new();
    let t = if ev.time_nano != 0 {
        Some(DateTime::<Utc>::from_timestamp_nanos(ev.time_nano))
    } else if ev.time != 0 {
        DateTime::<Utc>::from_timestamp(ev.time, 0)
    } else {
        None
    };
    if let Some(t) = t {
        out.push_str(&fixed_nano(&t.with_timezone(&Local)));
        out.push(' ');
    }
    out.push_str(&format!("{} {} {}", ev.kind, ev.action, ev.actor.id));
    if !ev.actor.attributes.is_empty() {
        let attrs: Vec<String> = ev
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!(" ({})", attrs.join(", ")));
    }
    out
}

/// Go's `2006-01-02T15:04:05.000000000Z07:00`.
fn fixed_nano<Tz: chrono::TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let base = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    let off = t.format("%:z").to_string();
    if off == "+00:00" {
        format!("{base}Z")
    } else {
        format!("{base}{off}")
    }
}

/// Write a line; `false` once stdout is closed (stop streaming).
fn write_line(text: &str) -> CliResult<bool> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.write_all(b"\n"))
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CliError::io("write to stdout", e)),
    }
}

/// Convert `--since`/`--until` as the docker CLI does.
fn timestamp(value: &Option<String>, now: DateTime<Utc>) -> CliResult<Option<String>> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => api_timestamp(v, now)
            .map(Some)
            .map_err(|e| CliError::status(125, e)),
    }
}

/// Run `berth events`: print events until `--until` or Ctrl+C.
pub async fn events(client: &Client, args: &EventsArgs) -> CliResult {
    let tmpl = match args.format.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => {
            let t = Template::parse(f)?;
            // Validate against an empty message, as docker does.
            let empty = event_value(br#"{"Type":"","Action":"","Actor":{"ID":"","Attributes":null},"scope":"","time":0,"timeNano":0}"#)
                .map_err(|e| CliError::msg(format!("template: {e}")))?;
            t.execute(&empty)?;
            Some(t)
        }
        None => None,
    };
    let now = Utc::now();
    let opts = EventsOptions {
        since: timestamp(&args.since, now)?,
        until: timestamp(&args.until, now)?,
        filters: super::filters_from(&args.filter)?,
    };
    let mut stream = client.events(&opts).await?;
    while let Some(raw) = stream.next_raw().await? {
        let text = match &tmpl {
            Some(t) => {
                let v =
                    event_value(&raw).map_err(|e| CliError::msg(format!("decoding event: {e}")))?;
                t.execute(&v)?
            }
            None => {
                let ev: berth_spec::api::Event = serde_json::from_slice(&raw)
                    .map_err(|e| CliError::msg(format!("decoding event: {e}")))?;
                default_line(&ev)
            }
        };
        if !write_line(&text)? {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = br#"{"status":"start","id":"7b32","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"7b32","Attributes":{"name":"x","image":"busybox"}},"scope":"local","time":1795253145,"timeNano":1795253145123456789}"#;

    #[test]
    fn default_format_like_docker() {
        let ev: berth_spec::api::Event = serde_json::from_slice(LINE).unwrap();
        let line = default_line(&ev);
        let expected_time = fixed_nano(
            &DateTime::<Utc>::from_timestamp_nanos(1795253145123456789).with_timezone(&Local),
        );
        assert_eq!(
            line,
            format!("{expected_time} container start 7b32 (image=busybox, name=x)")
        );
        let utc = DateTime::<Utc>::from_timestamp_nanos(1795253145000000001);
        assert_eq!(fixed_nano(&utc), "2026-11-21T09:25:45.000000001Z");
    }

    #[test]
    fn templates_see_go_field_names() {
        let v = event_value(LINE).unwrap();
        let t = |s: &str| Template::parse(s).unwrap().execute(&v).unwrap();
        assert_eq!(
            t("{{.Status}} {{.ID}} {{.From}} {{.Scope}}"),
            "start 7b32 busybox local"
        );
        assert_eq!(
            t("{{.Type}} {{.Action}} {{.Actor.ID}}"),
            "container start 7b32"
        );
        assert_eq!(t("{{.Actor.Attributes.name}}"), "x");
        assert_eq!(t("{{.TimeNano}}"), "1795253145123456789");
        let json = t("{{json .}}");
        assert_eq!(json.as_bytes(), LINE);
    }
}
