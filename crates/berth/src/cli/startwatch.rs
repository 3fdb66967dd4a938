//! Startup failures explained: after `run -d` or `start` (without
//! attaching), watch the container for a few seconds; if it exits in that
//! time, say so on stderr with its exit code, how long it ran, the OOM
//! reason and its last log lines:
//!
//! ```text
//! berth: db exited (1) 2 s after start: initdb: error: directory "/data" exists
//! ```
//!
//! stdout and the exit status stay exactly Docker's. Because the watch
//! delays the command's end by up to [`WINDOW`], it only happens when both
//! stdout and stderr are terminals (a person typing, not a script capturing
//! the container ID); `BERTH_START_WATCH=1` turns it on anyway (tests, CI
//! logs), `BERTH_START_WATCH=0` turns it off.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use berth_client::{Client, LogsOptions, MuxDecoder};

/// How long a start is watched.
pub const WINDOW: Duration = Duration::from_secs(3);
/// How often the container is inspected meanwhile.
const POLL: Duration = Duration::from_millis(100);
/// How many log lines are shown.
const TAIL: usize = 3;
/// Longest log line shown (characters).
const MAX_LINE: usize = 300;

/// Whether to watch starts (see the module documentation).
pub fn enabled() -> bool {
    match std::env::var("BERTH_START_WATCH").as_deref() {
        Ok("1") | Ok("true") => true,
        Ok("0") | Ok("false") => false,
        _ => std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
    }
}

/// Watch containers just started and explain any that exit within
/// [`WINDOW`]. Never fails: problems while watching are ignored.
pub async fn explain(client: &Client, ids: &[String]) {
    if !enabled() || ids.is_empty() {
        return;
    }
    let deadline = Instant::now() + WINDOW;
    let mut pending: Vec<&String> = ids.iter().collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for id in pending {
            match client.container_inspect(id).await {
                Ok(c)
                    if !c.state.running
                        && matches!(c.state.status.as_str(), "exited" | "restarting") =>
                {
                    let name = c.name.trim_start_matches('/').to_string();
                    let lines = last_lines(client, id, c.config.tty).await;
                    eprint!("{}", message(&name, &c.state, &lines));
                }
                Ok(c) if c.state.running => still.push(id),
                _ => {}
            }
        }
        pending = still;
        if pending.is_empty() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// How long the container ran, from its inspect times.
fn ran_for(state: &berth_spec::api::ContainerState) -> Option<f64> {
    let start = chrono::DateTime::parse_from_rfc3339(&state.started_at).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(&state.finished_at).ok()?;
    let ms = (end - start).num_milliseconds();
    (ms >= 0).then(|| ms as f64 / 1000.0)
}

fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.1} s")
    } else {
        format!("{} s", s.round() as u64)
    }
}

/// The text printed for an exited container (ends with a newline).
pub fn message(name: &str, state: &berth_spec::api::ContainerState, lines: &[String]) -> String {
    let when = ran_for(state)
        .map(|s| format!(" {} after start", seconds(s)))
        .unwrap_or_else(|| " just after start".into());
    let mut head = format!("berth: {name} exited ({}){when}", state.exit_code);
    if state.status == "restarting" {
        head.push_str(" (restarting)");
    }
    let mut out = String::new();
    if state.oom_killed {
        head.push_str(": killed for lack of memory (OOMKilled); raise its limit with -m");
        out.push_str(&head);
        out.push('\n');
        for l in lines {
            out.push_str(&format!("  {l}\n"));
        }
        return out;
    }
    match lines {
        [] => out.push_str(&format!("{head} (no output)\n")),
        [one] => out.push_str(&format!("{head}: {one}\n")),
        many => {
            out.push_str(&format!("{head}:\n"));
            for l in many {
                out.push_str(&format!("  {l}\n"));
            }
        }
    }
    out
}

/// The last few non-empty lines of the container's log (stdout and stderr).
async fn last_lines(client: &Client, id: &str, tty: bool) -> Vec<String> {
    let opts = LogsOptions {
        tail: Some(TAIL.to_string()),
        ..LogsOptions::default()
    };
    let Ok(mut stream) = client.container_logs(id, &opts).await else {
        return Vec::new();
    };
    let mut raw = Vec::new();
    while let Ok(Some(chunk)) = stream.next_chunk().await {
        raw.extend_from_slice(&chunk);
        if raw.len() > 1 << 20 {
            break;
        }
    }
    let text = if tty {
        raw
    } else {
        let mut d = MuxDecoder::new();
        d.push(&raw);
        let mut text = Vec::new();
        while let Ok(Some(f)) = d.next_frame() {
            text.extend_from_slice(&f.data);
        }
        text
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().take(MAX_LINE).collect())
        .collect();
    lines[lines.len().saturating_sub(TAIL)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(
        code: i64,
        started: &str,
        finished: &str,
        oom: bool,
    ) -> berth_spec::api::ContainerState {
        berth_spec::api::ContainerState {
            status: "exited".into(),
            exit_code: code,
            started_at: started.into(),
            finished_at: finished.into(),
            oom_killed: oom,
            ..Default::default()
        }
    }

    #[test]
    fn messages() {
        let s = state(
            1,
            "2024-01-01T00:00:00.000Z",
            "2024-01-01T00:00:02.200Z",
            false,
        );
        assert_eq!(
            message("db", &s, &["boom".into()]),
            "berth: db exited (1) 2 s after start: boom\n"
        );
        assert_eq!(
            message("db", &s, &["a".into(), "b".into()]),
            "berth: db exited (1) 2 s after start:\n  a\n  b\n"
        );
        let s = state(0, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.25Z", false);
        assert_eq!(
            message("x", &s, &[]),
            "berth: x exited (0) 0.2 s after start (no output)\n"
        );
        let s = state(137, "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", true);
        assert!(message("m", &s, &[])
            .starts_with("berth: m exited (137) 1 s after start: killed for lack of memory"));
    }
}
