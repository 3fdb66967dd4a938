//! `GET /events`: the daemon's event stream, one JSON object per line.

use berth_spec::api::Event;
use bytes::{Bytes, BytesMut};

use crate::client::Client;
use crate::error::Result;
use crate::query::{Filters, Query};
use crate::transport::RawStream;

/// Parameters of `GET /events`.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// `since`: Unix seconds with an optional fraction (`1700000000.5`), as
    /// the docker CLI sends it after converting durations and RFC 3339.
    pub since: Option<String>,
    /// `until`: same format; the stream ends there.
    pub until: Option<String>,
    /// `filters` (`type`, `event`, `container`, `image`, `label`, ...).
    pub filters: Filters,
}

/// The event stream: raw JSON lines (to print in the daemon's field
/// order) or decoded [`Event`]s.
pub struct EventStream {
    body: RawStream,
    buf: BytesMut,
    done: bool,
}

impl EventStream {
    /// The next event as its JSON bytes (without the newline); `None` at
    /// the end of the stream.
    pub async fn next_raw(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(i + 1).freeze().slice(..i);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.done {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                let rest = self.buf.split().freeze();
                return Ok(Some(rest));
            }
            match self.body.next_chunk().await? {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None => self.done = true,
            }
        }
    }

    /// The next event decoded; `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<Event>> {
        match self.next_raw().await? {
            Some(line) => Ok(Some(serde_json::from_slice(&line)?)),
            None => Ok(None),
        }
    }
}

impl Client {
    /// `GET /events`: stream events (the past ones `since` asks for, then
    /// live ones until `until`, forever without it).
    pub async fn events(&self, opts: &EventsOptions) -> Result<EventStream> {
        let mut q = Query::new();
        q.opt("since", opts.since.as_deref())
            .opt("until", opts.until.as_deref())
            .filters(&opts.filters);
        let body = self.stream(crate::Method::GET, &q.apply("/events")).await?;
        Ok(EventStream {
            body,
            buf: BytesMut::new(),
            done: false,
        })
    }
}
