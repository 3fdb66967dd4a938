//! `logs` and the output side of `attach`: reading and following the json-file log.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::logs::LogEntry;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::error::{EngineError, Result};
use crate::record::Status;
use crate::{blocking, Engine};

/// How often a follower looks for new log lines.
const FOLLOW_POLL: Duration = Duration::from_millis(25);

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One chunk of container output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// Its stream.
    pub stream: LogStream,
    /// The bytes (normally one line with its `\n`).
    pub data: Vec<u8>,
    /// When the shim read it.
    pub time: DateTime<Utc>,
}

/// Options of `logs`.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Keep streaming until the container stops.
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only the last N entries (before following).
    pub tail: Option<usize>,
}

fn convert(e: LogEntry, stdout: bool, stderr: bool) -> Option<LogChunk> {
    let stream = match e.stream.as_str() {
        "stderr" => LogStream::Stderr,
        _ => LogStream::Stdout,
    };
    let wanted = match stream {
        LogStream::Stdout => stdout,
        LogStream::Stderr => stderr,
    };
    wanted.then(|| LogChunk {
        stream,
        data: e.log.into_bytes(),
        time: e.time,
    })
}

/// Follows a json-file log through an open handle, so that reading goes on
/// after the container directory is renamed or deleted (`--rm`).
struct LogTail {
    file: std::fs::File,
    offset: u64,
    partial: Vec<u8>,
}

impl LogTail {
    /// Open (creating it empty if the shim has not yet) the log at `path`,
    /// positioned at `offset` (`None`: the current end).
    fn open(path: &Path, offset: Option<u64>) -> Result<LogTail> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| EngineError::io(format!("open log {}", path.display()), e))?;
        let offset = match offset {
            Some(o) => o,
            None => file
                .metadata()
                .map_err(|e| EngineError::io(format!("stat log {}", path.display()), e))?
                .len(),
        };
        Ok(LogTail {
            file,
            offset,
            partial: Vec::new(),
        })
    }

    /// The complete entries written since the last call.
    fn read_new(&mut self) -> Vec<LogEntry> {
        use std::os::unix::fs::FileExt;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match self.file.read_at(&mut buf, self.offset) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            self.offset += n as u64;
            let mut data = &buf[..n];
            while let Some(i) = data.iter().position(|b| *b == b'\n') {
                self.partial.extend_from_slice(&data[..=i]);
                if let Ok(e) = berth_runtime::logs::parse_line(&self.partial) {
                    out.push(e);
                }
                self.partial.clear();
                data = &data[i + 1..];
            }
            self.partial.extend_from_slice(data);
        }
        out
    }
}

/// Read what is new in `tail` on the blocking pool.
async fn read_new(mut tail: LogTail) -> Result<(LogTail, Vec<LogEntry>)> {
    blocking(move || {
        let entries = tail.read_new();
        Ok((tail, entries))
    })
    .await
}

/// Stream entries from `tail` until the container has exited more than
/// `before` times (or is removed), then drain and stop.
async fn follow(
    mut tail: LogTail,
    mut events: tokio::sync::watch::Receiver<crate::container::Events>,
    before: u64,
    tx: mpsc::Sender<LogChunk>,
    opts: LogOptions,
) {
    loop {
        let done = {
            let e = *events.borrow_and_update();
            e.exits > before || e.removed
        };
        let entries = match read_new(tail).await {
            Ok((t, entries)) => {
                tail = t;
                entries
            }
            Err(e) => {
                tracing::warn!("following log: {e}");
                return;
            }
        };
        if !send_all(&tx, entries, &opts).await || done || tx.is_closed() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            r = events.changed() => {
                if r.is_err() {
                    // The container is gone: drain what is left.
                    if let Ok((_, entries)) = read_new(tail).await {
                        send_all(&tx, entries, &opts).await;
                    }
                    return;
                }
            }
        }
    }
}

async fn send_all(tx: &mpsc::Sender<LogChunk>, entries: Vec<LogEntry>, opts: &LogOptions) -> bool {
    for e in entries {
        if opts.since.is_some_and(|s| e.time < s) || opts.until.is_some_and(|u| e.time > u) {
            continue;
        }
        if let Some(chunk) = convert(e, opts.stdout, opts.stderr) {
            if tx.send(chunk).await.is_err() {
                return false;
            }
        }
    }
    true
}

impl Engine {
    /// Stream a container's logs; with `follow`, until the running container stops.
    pub async fn logs(
        self: &Arc<Self>,
        name: &str,
        opts: LogOptions,
    ) -> Result<mpsc::Receiver<LogChunk>> {
        let c = self.lookup(name)?;
        let path = c.log_path();
        let events = c.events.subscribe();
        let before = events.borrow().exits;
        let running = matches!(c.rec().state.status, Status::Running | Status::Restarting);
        let (since, until, tail) = (opts.since, opts.until, opts.tail);
        let follow_on = opts.follow && running;
        let (entries, log_tail) = blocking(move || {
            let (entries, offset) = berth_runtime::logs::read_entries(&path, since, until, tail)?;
            let log_tail = if follow_on {
                Some(LogTail::open(&path, Some(offset))?)
            } else {
                None
            };
            Ok((entries, log_tail))
        })
        .await?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            if !send_all(&tx, entries, &opts).await {
                return;
            }
            if let Some(log_tail) = log_tail {
                follow(log_tail, events, before, tx, opts).await;
            }
        });
        Ok(rx)
    }

    /// The output of `attach`: optionally the past log, then everything
    /// written from now until the container's next exit.
    pub async fn attach(
        self: &Arc<Self>,
        name: &str,
        stdout: bool,
        stderr: bool,
        logs: bool,
    ) -> Result<mpsc::Receiver<LogChunk>> {
        let c = self.lookup(name)?;
        let path = c.log_path();
        let events = c.events.subscribe();
        let before = events.borrow().exits;
        let log_tail =
            blocking(move || LogTail::open(&path, if logs { Some(0) } else { None })).await?;
        let opts = LogOptions {
            stdout,
            stderr,
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(follow(log_tail, events, before, tx, opts));
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tail_reads_complete_lines_even_after_unlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let mut tail = LogTail::open(&path, None).unwrap();
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let t = Utc::now();
        w.write_all(&berth_runtime::logs::encode_entry("stdout", b"one\n", &t))
            .unwrap();
        let line2 = berth_runtime::logs::encode_entry("stderr", b"two\n", &t);
        w.write_all(&line2[..10]).unwrap();
        let got = tail.read_new();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].log, "one\n");
        w.write_all(&line2[10..]).unwrap();
        std::fs::remove_file(&path).unwrap();
        let got = tail.read_new();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].stream.as_str(), got[0].log.as_str()),
            ("stderr", "two\n")
        );
        assert!(tail.read_new().is_empty());
    }
}
