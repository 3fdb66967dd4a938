//! Docker's JSON progress message (`jsonmessage.JSONMessage`), as the
//! streaming endpoints of pull, push, import and load send it, with the
//! `progressDetail` the docker CLI draws its bars from.

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::jsonstream::JsonStreamDecoder;
use crate::transport::RawStream;

/// The numbers behind a progress bar (`progressDetail`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JsonProgress {
    /// Bytes (or `units`) done.
    pub current: i64,
    /// Bytes (or `units`) in all; 0 when unknown.
    pub total: i64,
    /// Unix time the operation started (for the time-left estimate).
    pub start: i64,
    /// Do not show `current/total`.
    #[serde(rename = "hidecounts")]
    pub hide_counts: bool,
    /// Unit of `current`/`total`; empty means bytes.
    pub units: String,
}

/// The error a message carries (`errorDetail`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JsonError {
    /// An HTTP-like code (401: authentication required), 0 when none.
    pub code: i64,
    /// The message.
    pub message: String,
}

/// One message of a JSON progress stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JsonMessage {
    /// Text to print as is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// A status line (`Pulling fs layer`, `Digest: ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Progress numbers; present (even empty) on per-layer lines.
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<JsonProgress>,
    /// The daemon's own rendering of the bar (deprecated field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// The object the line is about (a layer ID, a tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Origin of an event-like message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Unix time of the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// Unix time in nanoseconds.
    #[serde(rename = "timeNano", skip_serializing_if = "Option::is_none")]
    pub time_nano: Option<i64>,
    /// The failure that ends the operation.
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<JsonError>,
    /// The failure's message (legacy field beside `errorDetail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Auxiliary data (a push's digest and size, a build's image ID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    /// The failure this message carries: `errorDetail` if set, else a bare
    /// `error` string (code 0).
    pub fn failure(&self) -> Option<JsonError> {
        match (&self.error_detail, &self.error) {
            (Some(d), e) if !d.message.is_empty() || e.is_none() => Some(JsonError {
                code: d.code,
                message: if d.message.is_empty() {
                    e.clone().unwrap_or_default()
                } else {
                    d.message.clone()
                },
            }),
            (_, Some(e)) => Some(JsonError {
                code: 0,
                message: e.clone(),
            }),
            _ => None,
        }
    }
}

/// A JSON progress stream whose messages are handed over as they are,
/// errors included (the caller renders them and decides).
pub struct MessageStream {
    body: RawStream,
    decoder: JsonStreamDecoder<JsonMessage>,
    done: bool,
}

impl MessageStream {
    pub(crate) fn new(body: RawStream) -> Self {
        Self::with_pending(body, &[], false)
    }

    /// A stream whose first bytes were already received (`pending`).
    pub(crate) fn with_pending(body: RawStream, pending: &[u8], done: bool) -> Self {
        let mut decoder = JsonStreamDecoder::new();
        decoder.push(pending);
        MessageStream {
            body,
            decoder,
            done,
        }
    }

    /// The next message; `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<JsonMessage>> {
        loop {
            if let Some(msg) = self.decoder.next_message()? {
                return Ok(Some(msg));
            }
            if self.done {
                if self.decoder.has_pending() {
                    return Err(ClientError::Protocol(
                        "truncated JSON message at end of stream".into(),
                    ));
                }
                return Ok(None);
            }
            match self.body.next_chunk().await? {
                Some(chunk) => self.decoder.push(&chunk),
                None => self.done = true,
            }
        }
    }
}

impl Client {
    /// A POST whose answer is a JSON progress stream.
    pub(crate) async fn message_stream(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<MessageStream> {
        let resp = self
            .request(
                hyper::Method::POST,
                path,
                crate::transport::empty_body(),
                headers,
            )
            .await?;
        Ok(MessageStream::new(RawStream::Body(resp.into_body())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_progress_detail_and_errors() {
        let wire = br#"{"status":"Pulling fs layer","progressDetail":{},"id":"2c25392bdda4"}
{"status":"Downloading","progressDetail":{"current":36445,"total":3001125},"progress":"[>   ]  36.45kB/3.001MB","id":"2c25392bdda4"}
{"errorDetail":{"code":401,"message":"unauthorized"},"error":"unauthorized"}
{"error":"bare"}"#;
        let mut d: JsonStreamDecoder<JsonMessage> = JsonStreamDecoder::new();
        d.push(wire);
        let a = d.next_message().unwrap().unwrap();
        assert_eq!(a.progress_detail, Some(JsonProgress::default()));
        assert!(a.failure().is_none());
        let b = d.next_message().unwrap().unwrap();
        let p = b.progress_detail.unwrap();
        assert_eq!((p.current, p.total), (36445, 3001125));
        let c = d.next_message().unwrap().unwrap();
        assert_eq!(
            c.failure(),
            Some(JsonError {
                code: 401,
                message: "unauthorized".into()
            })
        );
        let e = d.next_message().unwrap().unwrap();
        assert_eq!(e.failure().unwrap().message, "bare");
    }
}
