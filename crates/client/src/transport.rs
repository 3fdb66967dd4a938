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

/// Size of the chunks [`file_body`] reads and sends.
const FILE_CHUNK: usize = 1 << 20;
/// Chunks [`file_body`] reads ahead of the connection.
const FILE_DEPTH: usize = 4;

/// A chunk of a reused read buffer; gives the buffer back to the reading
/// thread's pool when the connection is done with it (so the reads land in
/// memory that is already mapped, and nothing is copied).
struct PooledChunk {
    buf: Vec<u8>,
    len: usize,
    pool: std::sync::mpsc::Sender<Vec<u8>>,
}

impl AsRef<[u8]> for PooledChunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        let _ = self.pool.send(std::mem::take(&mut self.buf));
    }
}

/// A request body streamed from a file, read 1 MiB at a time by a thread of
/// its own (plain blocking reads into reused buffers, each chunk handed to
/// the connection without further copies).
pub fn file_body(mut file: std::fs::File) -> io::Result<ReqBody> {
    use std::io::Read;
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(FILE_DEPTH);
    std::thread::Builder::new()
        .name("berth-upload".into())
        .spawn(move || {
            let (pool_tx, pool_rx) = std::sync::mpsc::channel::<Vec<u8>>();
            loop {
                let mut buf = pool_rx.try_recv().unwrap_or_else(|_| vec![0; FILE_CHUNK]);
                let mut n = 0;
                let res = loop {
                    match file.read(&mut buf[n..]) {
                        Ok(0) => break Ok(()),
                        Ok(k) => {
                            n += k;
                            if n == FILE_CHUNK {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                if n > 0 {
                    let chunk = Bytes::from_owner(PooledChunk {
                        buf,
                        len: n,
                        pool: pool_tx.clone(),
                    });
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        return; // The request was dropped.
                    }
                }
                if let Err(e) = res {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
                if n < FILE_CHUNK {
                    return; // End of file.
                }
            }
        })?;
    Ok(channel_body(rx))
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

    #[tokio::test]
    async fn file_body_streams_the_whole_file() {
        use std::io::Write;
        // Several chunks and a partial last one.
        let data: Vec<u8> = (0..(2 * FILE_CHUNK + 12345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        use std::io::Seek;
        f.rewind().unwrap();
        let got = file_body(f).unwrap().collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), data.len());
        assert!(got == data);

        let empty = tempfile::tempfile().unwrap();
        let got = file_body(empty)
            .unwrap()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn file_body_reports_read_errors() {
        // Reading a directory fails (EISDIR): the body must end in an error.
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::open(dir.path()).unwrap();
        assert!(file_body(f).unwrap().collect().await.is_err());
    }

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
