//! The HTTP/1.1 transport over a unix socket: one connection per request
//! (connecting to a local socket costs microseconds), request bodies that
//! are empty, in memory or streamed from any `AsyncRead`, and response
//! bodies read whole or chunk by chunk.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::UnixStream;

use crate::error::{ClientError, Result};

/// A request body: empty, in memory or streamed.
pub type ReqBody = UnsyncBoxBody<Bytes, io::Error>;

/// An empty request body.
pub fn empty_body() -> ReqBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body held in memory.
pub fn full_body(data: impl Into<Bytes>) -> ReqBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body streamed from a reader, 256 KiB at a time, without
/// holding more than one chunk in memory.
pub fn reader_body<R: AsyncRead + Send + Unpin + 'static>(reader: R) -> ReqBody {
    ReaderBody {
        reader,
        buf: vec![0; 256 * 1024],
        done: false,
    }
    .boxed_unsync()
}

struct ReaderBody<R> {
    reader: R,
    buf: Vec<u8>,
    done: bool,
}

impl<R: AsyncRead + Unpin> Body for ReaderBody<R> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let mut rb = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.reader).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Ok(())) => {
                let filled = rb.filled();
                if filled.is_empty() {
                    this.done = true;
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// Open a connection to the socket and start its HTTP/1.1 driver task
/// (with upgrades enabled, for attach).
pub(crate) async fn connect(socket: &Path) -> Result<SendRequest<ReqBody>> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                ClientError::DaemonUnavailable {
                    path: socket.to_path_buf(),
                    source: e,
                }
            }
            _ => ClientError::io(format!("connect to unix://{}", socket.display()), e),
        })?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // The connection ends when the response (or upgraded stream) is
        // dropped; its error, if any, surfaces through the response.
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

/// Build a request with the headers every call carries.
pub(crate) fn build_request(
    method: Method,
    uri: &str,
    body: ReqBody,
    headers: &[(&str, &str)],
) -> Result<Request<ReqBody>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("Host", "api.berth.localhost")
        .header("User-Agent", concat!("berth/", env!("CARGO_PKG_VERSION")));
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    Ok(builder.body(body)?)
}

/// Read a whole response body.
pub async fn read_body(resp: Response<Incoming>) -> Result<Bytes> {
    Ok(resp.into_body().collect().await?.to_bytes())
}

/// Turn an error status into [`ClientError::Daemon`] with the daemon's
/// message; pass other responses through.
pub(crate) async fn check_status(resp: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.as_u16() < 400 {
        return Ok(resp);
    }
    let body = read_body(resp).await.unwrap_or_default();
    Err(ClientError::Daemon {
        status: status.as_u16(),
        message: error_message(status, &body),
    })
}

fn error_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(err) = serde_json::from_slice::<berth_spec::api::ErrorResponse>(body) {
        if !err.message.is_empty() {
            return err.message;
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("unknown error")
            .to_string()
    } else {
        text
    }
}

/// A streamed response body read chunk by chunk: either the HTTP body or,
/// after a connection upgrade, the raw connection.
pub enum RawStream {
    /// A normal response body.
    Body(Incoming),
    /// A hijacked (upgraded) connection.
    Upgraded(Box<TokioIo<hyper::upgrade::Upgraded>>),
}

impl RawStream {
    /// The next chunk of bytes; `None` at end of stream.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        match self {
            RawStream::Body(body) => loop {
                match body.frame().await {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            if !data.is_empty() {
                                return Ok(Some(data));
                            }
                        }
                    }
                }
            },
            RawStream::Upgraded(io) => {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; 32 * 1024];
                let n = io
                    .read(&mut buf)
                    .await
                    .map_err(|e| ClientError::io("read attached stream", e))?;
                if n == 0 {
                    Ok(None)
                } else {
                    buf.truncate(n);
                    Ok(Some(Bytes::from(buf)))
                }
            }
        }
    }
}

/// Parse a `-H` value: `unix:///path` or a plain absolute path.
pub fn parse_host(host: &str) -> Result<PathBuf> {
    let path = if let Some(rest) = host.strip_prefix("unix://") {
        rest
    } else if host.starts_with('/') {
        host
    } else {
        return Err(ClientError::InvalidHost {
            host: host.to_string(),
            reason: "only unix:///path sockets are supported".into(),
        });
    };
    if path.is_empty() {
        return Err(ClientError::InvalidHost {
            host: host.to_string(),
            reason: "empty socket path".into(),
        });
    }
    Ok(PathBuf::from(path))
}

/// A request body fed chunk by chunk through a channel (for bodies
/// produced by blocking code, such as a tar being written).
pub fn channel_body(rx: tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>) -> ReqBody {
    ChannelBody { rx }.boxed_unsync()
}

struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut().rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        assert_eq!(
            parse_host("unix:///run/berth/berth.sock").unwrap(),
            PathBuf::from("/run/berth/berth.sock")
        );
        assert_eq!(
            parse_host("/tmp/x.sock").unwrap(),
            PathBuf::from("/tmp/x.sock")
        );
        assert!(parse_host("tcp://1.2.3.4:2375").is_err());
        assert!(parse_host("unix://").is_err());
    }

    #[test]
    fn error_message_prefers_json_message() {
        assert_eq!(
            error_message(
                StatusCode::NOT_FOUND,
                br#"{"message":"No such container: x"}"#
            ),
            "No such container: x"
        );
        assert_eq!(
            error_message(StatusCode::NOT_FOUND, b"page not found\n"),
            "page not found"
        );
        assert_eq!(error_message(StatusCode::CONFLICT, b""), "Conflict");
    }
}
