//! Hijacked stdio streams: `POST /containers/{id}/attach` with stdin or a
//! TTY, `POST /exec/{id}/start`, and the resize endpoints. The client's
//! connection is bridged to the shim's attach socket: stdin (with detach
//! keys) in, output out (multiplexed without a TTY, raw with one).

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use berth_engine::attach_protocol::{
    encode, Decoder, KIND_EXIT, KIND_STDERR, KIND_STDIN, KIND_STDIN_CLOSE, KIND_STDOUT,
};
use berth_engine::{AttachOptions, Engine, LogStream, PendingAttach};

use crate::body::{channel, empty};
use crate::containers::frame;
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{status, with_body, ApiResult};
use crate::Ctx;

/// Content type of hijacked streams (dockerd 20.10 uses it with and without a TTY).
const RAW_STREAM: &str = "application/vnd.docker.raw-stream";

/// Docker's default detach keys: ctrl-p, ctrl-q.
const DEFAULT_DETACH: [u8; 2] = [16, 17];

/// Parse Docker's detach key syntax (`ctrl-p,ctrl-q`, `a,b`, `ctrl-@`).
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, ApiError> {
    if spec.is_empty() {
        return Ok(DEFAULT_DETACH.to_vec());
    }
    let bad = || ApiError::bad_request(format!("Invalid detach keys ({spec}) provided"));
    let mut out = Vec::new();
    for key in spec.split(',') {
        let lower = key.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("ctrl-") {
            let b = match rest.as_bytes() {
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(bad()),
            };
            out.push(b);
        } else if key.len() == 1 {
            out.push(key.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// Finds a detach sequence in the input, holding back a partial match until
/// it is known not to be one (as dockerd's escape proxy does).
#[derive(Debug)]
pub struct EscapeProxy {
    keys: Vec<u8>,
    matched: usize,
}

impl EscapeProxy {
    /// A proxy for `keys` (empty: never detaches).
    pub fn new(keys: Vec<u8>) -> Self {
        EscapeProxy { keys, matched: 0 }
    }

    /// Feed input; returns the bytes to forward and whether the sequence was completed.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
                continue;
            }
            // Not the sequence after all: release what was held.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// Whether the request asks for a connection upgrade (hijack).
pub(crate) fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
}

/// The 101 response of a hijacked stream.
fn switching() -> Response<crate::body::Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(RAW_STREAM));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    resp
}

/// Answer `req` with a hijacked stream (or, without an upgrade, a plain
/// output body) bridged to the connection `conn` yields; `prefix` is written first.
pub(crate) fn hijack<B>(
    engine: Arc<Engine>,
    mut req: Request<B>,
    conn: PendingAttach,
    prefix: Vec<u8>,
) -> ApiResult {
    if !wants_upgrade(&req) {
        let (w, mut r) = tokio::io::duplex(64 * 1024);
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match r.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx
                            .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        tokio::spawn(async move {
            if let Err(e) = bridge(engine, tokio::io::empty(), w, conn, prefix).await {
                tracing::debug!("stream: {e}");
            }
        });
        return Ok(with_body(StatusCode::OK, RAW_STREAM, channel(rx)));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!("upgrade failed: {e}");
                return;
            }
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let (r, w) = tokio::io::split(io);
        if let Err(e) = bridge(engine, r, w, conn, prefix).await {
            tracing::debug!("hijacked stream: {e}");
        }
    });
    Ok(switching())
}

/// Copy between the client (`client_r`, `client_w`) and the shim until the
/// process exits, the client detaches or goes away.
async fn bridge<R, W>(
    engine: Arc<Engine>,
    mut client_r: R,
    mut client_w: W,
    conn: PendingAttach,
    prefix: Vec<u8>,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    if !prefix.is_empty() {
        client_w.write_all(&prefix).await?;
        client_w.flush().await?;
    }
    let conn = match conn.await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("attach: {e}");
            let _ = client_w.shutdown().await;
            return Ok(());
        }
    };
    let keys = parse_detach_keys(&conn.detach_keys).unwrap_or_default();
    conn.stream.set_nonblocking(true)?;
    let unix = tokio::net::UnixStream::from_std(conn.stream)?;
    let (mut shim_r, mut shim_w) = unix.into_split();
    let (detach_tx, mut detach_rx) = tokio::sync::oneshot::channel::<()>();
    let stdin = conn.stdin;
    let close_stdin = conn.close_stdin;
    let input = tokio::spawn(async move {
        let mut proxy = EscapeProxy::new(keys);
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match client_r.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    if stdin && close_stdin {
                        let _ = shim_w.write_all(&encode(KIND_STDIN_CLOSE, &[])).await;
                    }
                    // Keep the shim's write side open: output goes on.
                    std::future::pending::<()>().await;
                    return;
                }
                Ok(n) => {
                    if !stdin {
                        continue;
                    }
                    let (data, detached) = proxy.feed(&buf[..n]);
                    if !data.is_empty()
                        && shim_w.write_all(&encode(KIND_STDIN, &data)).await.is_err()
                    {
                        return;
                    }
                    if detached {
                        let _ = detach_tx.send(());
                        return;
                    }
                }
            }
        }
    });
    let tty = conn.tty;
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 32 * 1024];
    'outer: loop {
        let n = tokio::select! {
            r = shim_r.read(&mut buf) => r.unwrap_or(0),
            _ = &mut detach_rx => break 'outer,
        };
        if n == 0 {
            break;
        }
        decoder.push(&buf[..n]);
        while let Some((kind, payload)) = decoder
            .next_frame()
            .map_err(|e| std::io::Error::other(e.to_string()))?
        {
            let bytes = match kind {
                KIND_STDOUT if tty => payload,
                KIND_STDOUT => frame(LogStream::Stdout, &payload),
                KIND_STDERR if tty => payload,
                KIND_STDERR => frame(LogStream::Stderr, &payload),
                KIND_EXIT => {
                    if let (Some(id), Some(b)) = (&conn.exec_id, payload.get(..4)) {
                        let code = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        engine.exec_exited(id, code);
                    }
                    break 'outer;
                }
                _ => continue,
            };
            if client_w.write_all(&bytes).await.is_err() {
                break 'outer;
            }
        }
        let _ = client_w.flush().await;
    }
    input.abort();
    let _ = client_w.shutdown().await;
    Ok(())
}

/// `POST /containers/{id}/attach`: through the shim when stdin or a TTY is
/// involved, else the log-following attach of [`crate::containers::attach`].
pub async fn attach(ctx: &Ctx, id: &str, q: &Query, req: Request<Incoming>) -> ApiResult {
    let rec = ctx.engine.record(id)?;
    let stdin = q.bool("stdin");
    if !q.bool("stream") || !(stdin || rec.config.tty) {
        return crate::containers::attach(ctx, id, q, req).await;
    }
    let keys = q.get("detachKeys").unwrap_or("");
    parse_detach_keys(keys)?;
    let opts = AttachOptions {
        stdin,
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
    };
    let prefix = if q.bool("logs") {
        past_logs(ctx, id, opts, rec.config.tty).await?
    } else {
        Vec::new()
    };
    let conn = ctx.engine.attach_stdio(id, opts, keys)?;
    hijack(Arc::clone(&ctx.engine), req, conn, prefix)
}

/// The log so far, encoded as the stream will be.
async fn past_logs(
    ctx: &Ctx,
    id: &str,
    opts: AttachOptions,
    tty: bool,
) -> Result<Vec<u8>, ApiError> {
    let lo = berth_engine::LogOptions {
        stdout: opts.stdout,
        stderr: opts.stderr,
        ..Default::default()
    };
    let mut rx = ctx.engine.logs(id, lo).await?;
    let mut out = Vec::new();
    while let Some(c) = rx.recv().await {
        if tty {
            out.extend_from_slice(&c.data);
        } else {
            out.extend(frame(c.stream, &c.data));
        }
    }
    Ok(out)
}

/// `POST /containers/{id}/resize?h=&w=`.
pub async fn resize(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    let (h, w) = berth_engine::parse_size(q.get("h"), q.get("w"))?;
    ctx.engine.resize(id, h, w).await?;
    status(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert_eq!(parse_detach_keys("ctrl-@,ctrl-_").unwrap(), vec![0, 31]);
        assert_eq!(
            parse_detach_keys("ctrl-xx").unwrap_err().message,
            "Invalid detach keys (ctrl-xx) provided"
        );
    }

    #[test]
    fn escape_proxy_holds_partial_matches() {
        let mut p = EscapeProxy::new(vec![16, 17]);
        assert_eq!(p.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(p.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(p.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(p.feed(b"\x11zz"), (Vec::new(), true));
        let mut p = EscapeProxy::new(Vec::new());
        assert_eq!(p.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
