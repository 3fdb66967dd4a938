//! The docker CLI's rendering of JSON progress streams (its `jsonmessage`
//! package): on a terminal one line per layer ID, redrawn in place with
//! cursor movements and `[====>   ]  12.3MB/45.6MB` bars; without a
//! terminal plain status lines only (bars are dropped).
//!
//! Hand-written rather than drawn with `indicatif`: the docker CLI's
//! output is the specification here, byte for byte (the escape sequences,
//! the bar geometry, Go's `%.4g` sizes and duration format), and scripts
//! and terminals that record it see the same thing with berth.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write};
use std::os::fd::AsFd;

use berth_client::{JsonMessage, JsonProgress, MessageStream};
use berth_spec::units::human_size;

use super::error::{CliError, CliResult};

/// Why displaying a stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// The stream carried an error (printed by the caller, exit 1).
    #[error("{0}")]
    Remote(String),
    /// Writing the output failed.
    #[error("write progress: {0}")]
    Io(#[from] std::io::Error),
}

/// Renders messages onto one output as the docker CLI does.
pub struct Renderer<W: Write> {
    out: W,
    tty: bool,
    /// Terminal width for the bars (docker asks the terminal; 200 when it cannot).
    width: usize,
    /// Line index of each layer ID drawn since the last non-progress line.
    ids: HashMap<String, usize>,
    /// Current Unix time, for the time-left estimate (fixed in tests).
    now: fn() -> i64,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl<W: Write> Renderer<W> {
    /// A renderer onto `out`; `tty` says whether `out` is a terminal of
    /// `width` columns (`None`: unknown, docker then assumes 200).
    pub fn new(out: W, tty: bool, width: Option<usize>) -> Self {
        Renderer {
            out,
            tty,
            width: width.unwrap_or(200),
            ids: HashMap::new(),
            now: unix_now,
        }
    }

    /// Draw one message (docker's `DisplayJSONMessagesStream` step); an
    /// error message ends the display with [`DisplayError::Remote`].
    pub fn show(&mut self, jm: &JsonMessage) -> Result<(), DisplayError> {
        if jm.aux.is_some() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let id = jm.id.as_deref().unwrap_or("");
        let has_progress =
            jm.progress_detail.is_some() || jm.progress.as_deref().is_some_and(|p| !p.is_empty());
        let mut diff = 0;
        if !id.is_empty() && has_progress {
            let line = match self.ids.get(id) {
                Some(l) => *l,
                None => {
                    let l = self.ids.len();
                    self.ids.insert(id.to_string(), l);
                    if self.tty {
                        buf.extend_from_slice(b"\n");
                    }
                    l
                }
            };
            diff = self.ids.len() - line;
            if self.tty {
                cursor(&mut buf, diff, 'A');
            }
        } else {
            // Anything else starts a new block: earlier layer lines are not
            // redrawn any more (e.g. between the tags of `pull -a`).
            self.ids.clear();
        }
        let result = self.line(&mut buf, jm);
        if !id.is_empty() && self.tty {
            cursor(&mut buf, diff, 'B');
        }
        self.out.write_all(&buf)?;
        self.out.flush()?;
        result
    }

    /// Docker's `JSONMessage.Display`.
    fn line(&self, buf: &mut Vec<u8>, jm: &JsonMessage) -> Result<(), DisplayError> {
        if let Some(e) = jm.failure() {
            if e.code == 401 {
                return Err(DisplayError::Remote("authentication is required".into()));
            }
            return Err(DisplayError::Remote(e.message));
        }
        let stream = jm.stream.as_deref().unwrap_or("");
        let status = jm.status.as_deref().unwrap_or("");
        let bar = jm
            .progress_detail
            .as_ref()
            .map(|p| progress_string(p, self.width, (self.now)()));
        let mut endl = "";
        if self.tty && stream.is_empty() && bar.is_some() {
            buf.extend_from_slice(b"\x1b[2K\r");
            endl = "\r";
        } else if bar.as_deref().is_some_and(|b| !b.is_empty()) {
            // No bars without a terminal.
            return Ok(());
        }
        if let Some(t) = timestamp(jm) {
            buf.extend_from_slice(format!("{t} ").as_bytes());
        }
        if let Some(id) = jm.id.as_deref().filter(|i| !i.is_empty()) {
            buf.extend_from_slice(format!("{id}: ").as_bytes());
        }
        if let Some(from) = jm.from.as_deref().filter(|f| !f.is_empty()) {
            buf.extend_from_slice(format!("(from {from}) ").as_bytes());
        }
        let message = jm.progress.as_deref().unwrap_or("");
        let text = match bar {
            Some(bar) if self.tty => format!("{status} {bar}{endl}"),
            _ if !message.is_empty() => format!("{status} {message}{endl}"),
            _ if !stream.is_empty() => format!("{stream}{endl}"),
            _ => format!("{status}{endl}\n"),
        };
        buf.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// `ESC [ n A` (up) or `ESC [ n B` (down); nothing for 0.
fn cursor(buf: &mut Vec<u8>, n: usize, dir: char) {
    if n > 0 {
        buf.extend_from_slice(format!("\x1b[{n}{dir}").as_bytes());
    }
}

/// The message's time in Go's `RFC3339NanoFixed` layout, local time.
fn timestamp(jm: &JsonMessage) -> Option<String> {
    use chrono::TimeZone;
    let nanos = match (jm.time_nano, jm.time) {
        (Some(n), _) if n != 0 => n,
        (_, Some(s)) if s != 0 => s.checked_mul(1_000_000_000)?,
        _ => return None,
    };
    let t = chrono::Local.timestamp_nanos(nanos);
    Some(t.format("%Y-%m-%dT%H:%M:%S%.9f%:z").to_string())
}

/// Docker's `JSONProgress.String()`: bar (only when the terminal is wider
/// than 110 columns), counts, and time left (wider than 50).
pub fn progress_string(p: &JsonProgress, width: usize, now: i64) -> String {
    if p.current <= 0 && p.total <= 0 {
        return String::new();
    }
    let size = |n: i64| human_size(n.max(0) as u64, 4);
    if p.total <= 0 {
        return if p.units.is_empty() {
            format!("{:>8}", size(p.current))
        } else {
            format!("{} {}", p.current, p.units)
        };
    }
    let percentage = ((p.current as f64 / p.total as f64 * 100.0) as i64 / 2).min(50);
    let mut bar = String::new();
    if width > 110 {
        let spaces = (50 - percentage).max(0) as usize;
        bar = format!(
            "[{}>{}] ",
            "=".repeat(percentage.max(0) as usize),
            " ".repeat(spaces)
        );
    }
    let numbers = if p.hide_counts {
        String::new()
    } else if p.units.is_empty() {
        if p.current > p.total {
            format!("{:>8}", size(p.current))
        } else {
            format!("{:>8}/{}", size(p.current), size(p.total))
        }
    } else if p.current > p.total {
        format!("{} {}", p.current, p.units)
    } else {
        format!("{}/{} {}", p.current, p.total, p.units)
    };
    let mut left = String::new();
    if p.current > 0 && p.start > 0 && percentage < 50 && width > 50 {
        let elapsed_ns = (now - p.start) as i128 * 1_000_000_000;
        let per_entry = elapsed_ns / p.current as i128;
        let remaining_ns = (p.total - p.current) as i128 * per_entry;
        left = format!(" {}", go_seconds(remaining_ns / 1_000_000_000));
    }
    format!("{bar}{numbers}{left}")
}

/// Go's `time.Duration.String()` of a whole number of seconds (`1h0m5s`).
fn go_seconds(secs: i128) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.abs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// Where a progress stream is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard output (`pull`, `push`).
    Stdout,
    /// Standard error (the pull of `run`/`create`, whose stdout is the container's).
    Stderr,
    /// Nowhere (`-q`); errors still end the command.
    Discard,
}

/// Draw a progress stream to `sink` until it ends; an error in the stream
/// is returned as docker reports it (its message, exit 1).
pub async fn show_stream(mut stream: MessageStream, sink: Sink) -> CliResult {
    fn renderer<W: Write + AsFd>(w: W) -> Renderer<W> {
        let tty = w.as_fd().is_terminal();
        let width = super::term::window_size(w.as_fd()).map(|(_, cols)| cols as usize);
        Renderer::new(w, tty, width)
    }
    enum Any {
        Out(Renderer<std::io::Stdout>),
        Err(Renderer<std::io::Stderr>),
        Sink(Renderer<std::io::Sink>),
    }
    let mut r = match sink {
        Sink::Stdout => Any::Out(renderer(std::io::stdout())),
        Sink::Stderr => Any::Err(renderer(std::io::stderr())),
        Sink::Discard => Any::Sink(Renderer::new(std::io::sink(), false, None)),
    };
    while let Some(msg) = stream.next().await? {
        let shown = match &mut r {
            Any::Out(r) => r.show(&msg),
            Any::Err(r) => r.show(&msg),
            Any::Sink(r) => r.show(&msg),
        };
        match shown {
            Ok(()) => {}
            Err(DisplayError::Remote(m)) => return Err(CliError::msg(m)),
            Err(DisplayError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(DisplayError::Io(e)) => return Err(CliError::io("write progress", e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(wire: &str) -> Vec<JsonMessage> {
        wire.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A pull of one new and one existing layer, as dockerd 20.10 sends it.
    const PULL: &str = r#"{"status":"Pulling from rnd","id":"1"}
{"status":"Already exists","progressDetail":{},"id":"23ca33304afc"}
{"status":"Pulling fs layer","progressDetail":{},"id":"2c25392bdda4"}
{"status":"Downloading","progressDetail":{"current":36445,"total":3001125},"progress":"[>   ]  36.45kB/3.001MB","id":"2c25392bdda4"}
{"status":"Download complete","progressDetail":{},"id":"2c25392bdda4"}
{"status":"Pull complete","progressDetail":{},"id":"2c25392bdda4"}
{"status":"Digest: sha256:b11f"}
{"status":"Status: Downloaded newer image for 127.0.0.1:5931/rnd:1"}"#;

    fn render(tty: bool, width: Option<usize>, wire: &str) -> (String, Option<String>) {
        let mut out = Vec::new();
        let mut r = Renderer::new(&mut out, tty, width);
        r.now = || 1000;
        let mut err = None;
        for m in msgs(wire) {
            if let Err(e) = r.show(&m) {
                err = Some(e.to_string());
                break;
            }
        }
        (String::from_utf8(out).unwrap(), err)
    }

    #[test]
    fn plain_output_drops_bars() {
        let (out, err) = render(false, None, PULL);
        assert_eq!(err, None);
        assert_eq!(
            out,
            "1: Pulling from rnd\n\
             23ca33304afc: Already exists\n\
             2c25392bdda4: Pulling fs layer\n\
             2c25392bdda4: Download complete\n\
             2c25392bdda4: Pull complete\n\
             Digest: sha256:b11f\n\
             Status: Downloaded newer image for 127.0.0.1:5931/rnd:1\n"
        );
    }

    #[test]
    fn terminal_output_redraws_layer_lines_in_place() {
        let (out, _) = render(true, Some(120), PULL);
        let expected = concat!(
            "1: Pulling from rnd\n",
            // new line for the first layer, up 1, clear, draw, down 1
            "\n\x1b[1A\x1b[2K\r23ca33304afc: Already exists \r\x1b[1B",
            "\n\x1b[1A\x1b[2K\r2c25392bdda4: Pulling fs layer \r\x1b[1B",
            "\x1b[1A\x1b[2K\r2c25392bdda4: Downloading [>                                                  ]  36.45kB/3.001MB\r\x1b[1B",
            "\x1b[1A\x1b[2K\r2c25392bdda4: Download complete \r\x1b[1B",
            "\x1b[1A\x1b[2K\r2c25392bdda4: Pull complete \r\x1b[1B",
            "Digest: sha256:b11f\n",
            "Status: Downloaded newer image for 127.0.0.1:5931/rnd:1\n",
        );
        assert_eq!(out, expected);
        // A narrow terminal gets counts without the bar.
        let (out, _) = render(true, Some(80), PULL);
        assert!(out.contains("2c25392bdda4: Downloading  36.45kB/3.001MB\r"));
    }

    #[test]
    fn second_layer_line_moves_two_up() {
        let wire = r#"{"status":"Waiting","progressDetail":{},"id":"a"}
{"status":"Waiting","progressDetail":{},"id":"b"}
{"status":"Downloading","progressDetail":{"current":500,"total":1000},"id":"a"}"#;
        let (out, _) = render(true, Some(200), wire);
        assert!(out.ends_with(
            "\x1b[2A\x1b[2K\ra: Downloading [=========================>                         ]     500B/1kB\r\x1b[2B"
        ));
    }

    #[test]
    fn errors_stop_the_display() {
        let wire = r#"{"status":"Pulling from x","id":"1"}
{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}
{"status":"never shown"}"#;
        let (out, err) = render(false, None, wire);
        assert_eq!(out, "1: Pulling from x\n");
        assert_eq!(err.as_deref(), Some("manifest unknown"));
        let (_, err) = render(
            false,
            None,
            r#"{"errorDetail":{"code":401,"message":"unauthorized: x"},"error":"unauthorized: x"}"#,
        );
        assert_eq!(err.as_deref(), Some("authentication is required"));
    }

    #[test]
    fn progress_strings_as_docker() {
        let p = |current, total| JsonProgress {
            current,
            total,
            ..Default::default()
        };
        assert_eq!(progress_string(&p(0, 0), 200, 0), "");
        assert_eq!(progress_string(&p(1536, 0), 200, 0), " 1.536kB");
        assert_eq!(
            progress_string(&p(3001125, 3001125), 200, 0),
            "[==================================================>]  3.001MB/3.001MB"
        );
        assert_eq!(progress_string(&p(20, 10), 80, 0), "     20B");
        let timed = JsonProgress {
            current: 100,
            total: 1000,
            start: 900,
            ..Default::default()
        };
        // 100 units in 100 s: 900 left.
        assert!(progress_string(&timed, 200, 1000).ends_with("100B/1kB 15m0s"));
        let units = JsonProgress {
            current: 3,
            total: 7,
            units: "layers".into(),
            ..Default::default()
        };
        assert_eq!(progress_string(&units, 80, 0), "3/7 layers");
        assert_eq!(go_seconds(3605), "1h0m5s");
    }
}
