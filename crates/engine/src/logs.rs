//! `logs` and the output side of `attach`: reading and following the json-file log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::logs::LogEntry;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::error::Result;
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

async fn read_from(path: PathBuf, offset: u64) -> Result<(Vec<LogEntry>, u64)> {
    blocking(move || Ok(berth_runtime::logs::read_from(&path, offset)?)).await
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
        let mut events = c.events.subscribe();
        let before = events.borrow().exits;
        let running = matches!(c.rec().state.status, Status::Running | Status::Restarting);
        let (since, until, tail) = (opts.since, opts.until, opts.tail);
        let p = path.clone();
        let (entries, offset) =
            blocking(move || Ok(berth_runtime::logs::read_entries(&p, since, until, tail)?))
                .await?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            if !send_all(&tx, entries, &opts).await {
                return;
            }
            if !(opts.follow && running) {
                return;
            }
            let mut offset = offset;
            loop {
                let done = {
                    let e = *events.borrow_and_update();
                    e.exits > before || e.removed
                };
                match read_from(path.clone(), offset).await {
                    Ok((entries, next)) => {
                        offset = next;
                        if !send_all(&tx, entries, &opts).await {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("following log: {e}");
                        return;
                    }
                }
                if done || tx.is_closed() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                    r = events.changed() => { if r.is_err() { return; } }
                }
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
        let mut events = c.events.subscribe();
        let before = events.borrow().exits;
        let p = path.clone();
        let start = blocking(move || {
            if logs {
                Ok(0)
            } else {
                Ok(std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0))
            }
        })
        .await?;
        let opts = LogOptions {
            stdout,
            stderr,
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut offset = start;
            loop {
                let done = {
                    let e = *events.borrow_and_update();
                    e.exits > before || e.removed
                };
                match read_from(path.clone(), offset).await {
                    Ok((entries, next)) => {
                        // A log that shrank (never happens with json-file) restarts from 0.
                        offset = next;
                        if !send_all(&tx, entries, &opts).await {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("attach: {e}");
                        return;
                    }
                }
                if done || tx.is_closed() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                    r = events.changed() => { if r.is_err() { return; } }
                }
            }
        });
        Ok(rx)
    }
}
