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
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))
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
