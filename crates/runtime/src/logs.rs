//! Docker's json-file log format: one JSON object per line,
//! `{"log":"hi\n","stream":"stdout","time":"2026-11-21T06:00:00.123456789Z"}`.
//!
//! The shim writes it ([`LogWriter`]); the engine reads it ([`read_entries`] for
//! `logs`, [`read_from`] to continue from a byte offset for `logs -f`).

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use crate::error::RuntimeError;

/// Docker splits a stream into entries at newlines, or every 16 KiB for long lines.
pub const MAX_ENTRY: usize = 16 * 1024;

/// One entry of a json-file log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// `"stdout"` or `"stderr"`.
    pub stream: String,
    /// The chunk, normally ending with `\n` (not for a partial line). Invalid UTF-8
    /// was replaced by U+FFFD when written, as Docker does.
    pub log: String,
    /// When the shim read the chunk.
    pub time: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    log: String,
    #[serde(default)]
    stream: String,
    time: DateTime<Utc>,
}

/// Format a timestamp as in Docker's json-file (`RFC3339` with 9 fixed fraction digits).
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Serialize one entry as a json-file line (with the trailing `\n`), escaping
/// like Docker (`<`, `>`, `&`, U+2028/2029 as `\uXXXX`; invalid UTF-8 as U+FFFD).
pub fn encode_entry(stream: &str, chunk: &[u8], time: &DateTime<Utc>) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() + 80);
    out.extend_from_slice(b"{\"log\":\"");
    escape_into(&mut out, &String::from_utf8_lossy(chunk));
    out.extend_from_slice(b"\",\"stream\":\"");
    escape_into(&mut out, stream);
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(format_time(time).as_bytes());
    out.extend_from_slice(b"\"}\n");
    out
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// Parse one json-file line (without or with its trailing newline).
pub fn parse_line(line: &[u8]) -> Result<LogEntry, RuntimeError> {
    let raw: RawEntry = serde_json::from_slice(line)
        .map_err(|e| RuntimeError::Log(format!("bad json-file line: {e}")))?;
    Ok(LogEntry {
        stream: raw.stream,
        log: raw.log,
        time: raw.time,
    })
}

/// Appends entries to a json-file log; every entry is written with one `write(2)`.
pub struct LogWriter {
    file: File,
}

impl LogWriter {
    /// Open (create or append to) the log at `path`.
    pub fn open(path: &Path) -> Result<Self, RuntimeError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| RuntimeError::io("open log", path, e))?;
        Ok(LogWriter { file })
    }

    /// Write one entry stamped now.
    pub fn write_entry(&mut self, stream: &str, chunk: &[u8]) -> std::io::Result<()> {
        let line = encode_entry(stream, chunk, &Utc::now());
        self.file.write_all(&line)
    }
}

/// Splits a byte stream into json-file entries the way Docker does: one entry per
/// line (including its `\n`), long lines cut every [`MAX_ENTRY`] bytes, and
/// the remainder flushed at end of stream.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feed bytes; `emit` is called with each complete entry.
    pub fn push(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            let room = MAX_ENTRY - self.pending.len();
            let window = &data[..data.len().min(room)];
            if let Some(nl) = window.iter().position(|b| *b == b'\n') {
                self.pending.extend_from_slice(&window[..=nl]);
                emit(&self.pending);
                self.pending.clear();
                data = &data[nl + 1..];
            } else {
                self.pending.extend_from_slice(window);
                data = &data[window.len()..];
                if self.pending.len() >= MAX_ENTRY {
                    emit(&self.pending);
                    self.pending.clear();
                }
            }
        }
        if self.pending.capacity() > 2 * MAX_ENTRY {
            self.pending.shrink_to(MAX_ENTRY);
        }
    }

    /// Emit what is left (a last line without `\n`).
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(&self.pending);
            self.pending.clear();
        }
    }
}

fn in_window(e: &LogEntry, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
    since.is_none_or(|s| e.time >= s) && until.is_none_or(|u| e.time <= u)
}

/// Read all entries of the log at `path` with `since <= time <= until`, keeping
/// only the last `tail` of them when given. Also returns the byte offset just past
/// the last complete line, from which [`read_from`] continues (`logs -f`).
/// A missing file is an empty log; malformed lines are skipped.
pub fn read_entries(
    path: &Path,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    tail: Option<usize>,
) -> Result<(Vec<LogEntry>, u64), RuntimeError> {
    let (all, offset) = read_from(path, 0)?;
    let mut entries: Vec<LogEntry> = all
        .into_iter()
        .filter(|e| in_window(e, since, until))
        .collect();
    if let Some(n) = tail {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    Ok((entries, offset))
}

/// Read the complete lines after byte `offset`; returns them and the new offset
/// (a partly written last line is left for the next call). Malformed lines are skipped.
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<LogEntry>, u64), RuntimeError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(RuntimeError::io("open log", path, e)),
    };
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| RuntimeError::io("seek log", path, e))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut pos = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| RuntimeError::io("read log", path, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        pos += n as u64;
        if let Ok(e) = parse_line(&line) {
            entries.push(e);
        }
    }
    Ok((entries, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 123_456_789)
            .unwrap()
    }

    #[test]
    fn encodes_like_docker() {
        let line = encode_entry("stdout", b"hi\n", &t(0));
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20.123456789Z\"}\n"
        );
        let line = encode_entry("stderr", b"<a&b>\t\"\x01\xff", &t(0));
        let s = String::from_utf8(line.clone()).unwrap();
        assert!(
            s.contains(r#""log":"\u003ca\u0026b\u003e\t\"\u0001�""#),
            "{s}"
        );
        let e = parse_line(&line).unwrap();
        assert_eq!(e.log, "<a&b>\t\"\u{1}\u{fffd}");
        assert_eq!(e.stream, "stderr");
        assert_eq!(e.time, t(0));
    }

    #[test]
    fn zero_nanos_keep_nine_digits() {
        let z = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        assert_eq!(format_time(&z), "2023-11-14T22:13:20.000000000Z");
    }

    #[test]
    fn splits_lines() {
        let mut s = LineSplitter::default();
        let mut out: Vec<Vec<u8>> = Vec::new();
        s.push(b"a\nbb", &mut |c| out.push(c.to_vec()));
        s.push(b"b\n\nc", &mut |c| out.push(c.to_vec()));
        assert_eq!(
            out,
            vec![b"a\n".to_vec(), b"bbb\n".to_vec(), b"\n".to_vec()]
        );
        s.finish(&mut |c| out.push(c.to_vec()));
        assert_eq!(out.last().unwrap(), b"c");
        let mut long = Vec::new();
        let mut s = LineSplitter::default();
        let big = vec![b'x'; MAX_ENTRY * 2 + 10];
        s.push(&big, &mut |c| long.push(c.len()));
        s.push(b"\n", &mut |c| long.push(c.len()));
        assert_eq!(long, vec![MAX_ENTRY, MAX_ENTRY, 11]);
    }

    #[test]
    fn reads_with_filters_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let (none, off) = read_entries(&p, None, None, None).unwrap();
        assert!(none.is_empty());
        assert_eq!(off, 0);
        let mut data = Vec::new();
        for i in 0..5 {
            data.extend(encode_entry("stdout", format!("{i}\n").as_bytes(), &t(i)));
        }
        data.extend_from_slice(b"garbage\n");
        std::fs::write(&p, &data).unwrap();
        let (all, off) = read_entries(&p, None, None, None).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(off, data.len() as u64);
        let (some, _) = read_entries(&p, Some(t(1)), Some(t(3)), None).unwrap();
        let logs: Vec<&str> = some.iter().map(|e| e.log.as_str()).collect();
        assert_eq!(logs, vec!["1\n", "2\n", "3\n"]);
        let (tail, _) = read_entries(&p, None, None, Some(2)).unwrap();
        assert_eq!(tail[0].log, "3\n");
        assert_eq!(tail.len(), 2);
        let (zero, _) = read_entries(&p, None, None, Some(0)).unwrap();
        assert!(zero.is_empty());

        // Follow: a partial line is not consumed until complete.
        let extra = encode_entry("stderr", b"late\n", &t(9));
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&extra[..10]).unwrap();
        let (got, off2) = read_from(&p, off).unwrap();
        assert!(got.is_empty());
        assert_eq!(off2, off);
        f.write_all(&extra[10..]).unwrap();
        let (got, off3) = read_from(&p, off2).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].log, "late\n");
        assert_eq!(off3, off + extra.len() as u64);
    }

    #[test]
    fn writer_appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write_entry("stdout", b"x\n").unwrap();
        w.write_entry("stderr", b"y\n").unwrap();
        let (e, _) = read_entries(&p, None, None, None).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].stream, "stderr");
    }
}
