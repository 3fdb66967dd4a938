//! Response bodies (whole or streamed from a channel) and a blocking reader
//! over a streamed request body.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body as HttpBody, Frame, Incoming};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::error::ApiError;

/// The body type of every response.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A whole body.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body streamed from a channel; ends when every sender is gone.
pub struct ChannelBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A streamed body from a receiver.
pub fn channel(rx: mpsc::Receiver<std::io::Result<Bytes>>) -> Body {
    ChannelBody { rx }.boxed()
}

/// Read a request body whole, up to `limit` bytes.
pub async fn read_all(body: Incoming, limit: usize) -> Result<Bytes, String> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(format!("reading request body: {e}")),
    }
}

/// Read a JSON request body whole, up to `limit` bytes; an empty (or
/// all-whitespace) body gives `T::default()`, as dockerd accepts.
pub async fn read_json_or_default<T: DeserializeOwned + Default>(
    body: Incoming,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = read_all(body, limit).await.map_err(ApiError::bad_request)?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    parse_json(&bytes)
}

/// Parse a JSON request body as dockerd's Go decoder does: a `null` member is the same as an
/// absent one (the field keeps its zero value) instead of a type error. The body is first
/// parsed as is, so errors keep serde's wording and position.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let err = match serde_json::from_slice(bytes) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    if err.is_data() {
        if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            strip_null_members(&mut value);
            if let Ok(v) = serde_json::from_value(value) {
                return Ok(v);
            }
        }
    }
    Err(ApiError::bad_request(err.to_string()))
}

/// Remove every object member whose value is `null`, at any depth.
fn strip_null_members(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_null_members);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_null_members),
        _ => {}
    }
}

/// A blocking `std::io::Read` over a request body being received by a
/// background task (bounded channel: the body is never buffered whole).
pub struct BodyReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

impl BodyReader {
    /// Start pumping `body` into a new reader.
    pub fn spawn(mut body: Incoming) -> BodyReader {
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            loop {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            if !data.is_empty() && tx.send(Ok(data)).await.is_err() {
                                // The reader is gone: drain the rest so the client can read our answer.
                                while let Some(Ok(_)) = body.frame().await {}
                                return;
                            }
                        }
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                        return;
                    }
                    None => return,
                }
            }
        });
        BodyReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while !self.cur.has_remaining() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.remaining());
        self.cur.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Inner {
        subnet: String,
    }

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Outer {
        name: String,
        config: Vec<Inner>,
        internal: bool,
    }

    #[test]
    fn null_members_are_zero_values() {
        let v: Outer =
            parse_json(br#"{"Name":"n","Internal":null,"Config":[{"Subnet":null}]}"#).unwrap();
        assert_eq!(v.name, "n");
        assert_eq!(v.config, vec![Inner::default()]);
        let e = parse_json::<Outer>(br#"{"Name":1}"#).unwrap_err();
        assert!(e.message.contains("invalid type: integer"), "{}", e.message);
        assert!(parse_json::<Outer>(b"{").is_err());
    }
}
