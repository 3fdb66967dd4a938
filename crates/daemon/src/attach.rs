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

use berth_spec::detach::{detach_keys_or_default, Escape, EscapeProxy};

use crate::body::{channel, empty};
use crate::containers::frame;
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{status, with_body, ApiResult};
use crate::Ctx;

/// Content type of hijacked streams (dockerd 20.10 uses it with and without a TTY).
const RAW_STREAM: &str = "application/vnd.docker.raw-stream";

/// Parse detach keys as dockerd does for an attach (empty: Docker's
/// default `ctrl-p,ctrl-q`), with its error message.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, ApiError> {
    detach_keys_or_default(spec)
        .map_err(|_| ApiError::bad_request(format!("Invalid detach keys ({spec}) provided")))
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
        // No hijack, no input channel: the container's stdin is left alone.
        let conn: PendingAttach = Box::pin(async move {
            conn.await.map(|mut c| {
                c.stdin = false;
                c
            })
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
    client_r: R,
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
    let tty = conn.tty;
    // Docker watches for the detach keys only on a TTY.
    let keys = if tty {
        detach_keys_or_default(&conn.detach_keys).unwrap_or_else(|e| {
            tracing::debug!("detach keys {:?}: {e}", conn.detach_keys);
            berth_spec::detach::DEFAULT_DETACH_KEYS.to_vec()
        })
    } else {
        Vec::new()
    };
    conn.stream.set_nonblocking(true)?;
    let unix = tokio::net::UnixStream::from_std(conn.stream)?;
    let (mut shim_r, shim_w) = unix.into_split();
    let (end_tx, mut end_rx) = tokio::sync::oneshot::channel::<InputEnd>();
    let input = tokio::spawn(forward_input(
        client_r,
        shim_w,
        InputMode {
            stdin: conn.stdin,
            close_stdin: conn.close_stdin && !tty,
            keys,
        },
        end_tx,
    ));
    let mut detached = false;
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 32 * 1024];
    'outer: loop {
        let n = tokio::select! {
            r = shim_r.read(&mut buf) => r.unwrap_or(0),
            end = &mut end_rx => {
                detached = matches!(end, Ok(InputEnd::Detached));
                break 'outer;
            }
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
    if detached {
        let (action, extra) = match &conn.exec_id {
            Some(id) => ("exec_detach", vec![("execID", id.clone())]),
            None => ("detach", Vec::new()),
        };
        if let Err(e) = engine.log_container_event(&conn.container_id, action, &extra) {
            tracing::debug!("{action} event: {e}");
        }
    }
    Ok(())
}

/// Why the client's input ended the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputEnd {
    /// The detach keys were typed.
    Detached,
    /// The client's stdin ended (and does not just close the process's stdin).
    Eof,
}

/// How the client's input is handled.
#[derive(Debug, Clone)]
struct InputMode {
    /// Forward it to the process's stdin.
    stdin: bool,
    /// Its end closes the process's stdin (Docker: `CloseStdin` without a
    /// TTY); otherwise its end ends the whole attach.
    close_stdin: bool,
    /// Detach sequence (empty: none).
    keys: Vec<u8>,
}

/// What to do when the client's input ends (dockerd's attach: close the
/// process's stdin when `CloseStdin` and no TTY, else end the output).
fn on_input_eof(mode: &InputMode) -> Option<InputEnd> {
    if !mode.stdin || mode.close_stdin {
        None
    } else {
        Some(InputEnd::Eof)
    }
}

/// Copy the client's input to the shim until it ends or detaches; tell the
/// output loop through `end` when the stream must finish.
async fn forward_input<R, W>(
    mut client_r: R,
    mut shim_w: W,
    mode: InputMode,
    end: tokio::sync::oneshot::Sender<InputEnd>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut proxy = EscapeProxy::new(mode.keys.clone());
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match client_r.read(&mut buf).await {
            Ok(0) | Err(_) => {
                match on_input_eof(&mode) {
                    Some(why) => {
                        let _ = end.send(why);
                        return;
                    }
                    None if mode.stdin => {
                        let _ = shim_w.write_all(&encode(KIND_STDIN_CLOSE, &[])).await;
                    }
                    None => {}
                }
                // Keep the shim's write side open: output goes on.
                std::future::pending::<()>().await;
                return;
            }
            Ok(n) => {
                if !mode.stdin {
                    continue;
                }
                let (data, detached) = match proxy.feed(&buf[..n]) {
                    Escape::Forward(d) => (d, false),
                    Escape::Detach(d) => (d, true),
                };
                if !data.is_empty() && shim_w.write_all(&encode(KIND_STDIN, &data)).await.is_err() {
                    return;
                }
                if detached {
                    let _ = end.send(InputEnd::Detached);
                    return;
                }
            }
        }
    }
}

/// `POST /containers/{id}/attach`: through the shim when stdin or a TTY is
/// involved, else the log-following attach of [`crate::containers::attach`].
pub async fn attach(ctx: &Ctx, id: &str, q: &Query, req: Request<Incoming>) -> ApiResult {
    let rec = ctx.engine.record(id)?;
    let stdin = q.bool("stdin");
    if !q.bool("stream") || !(stdin || rec.config.tty) {
        if q.bool("stream") {
            log_attach(ctx, id);
        }
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
    log_attach(ctx, id);
    hijack(Arc::clone(&ctx.engine), req, conn, prefix)
}

/// dockerd's `attach` event, published when a streaming attach begins.
fn log_attach(ctx: &Ctx, id: &str) {
    if let Err(e) = ctx.engine.log_container_event(id, "attach", &[]) {
        tracing::debug!("attach event: {e}");
    }
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
        assert_eq!(parse_detach_keys("DEL").unwrap(), vec![127]);
        assert_eq!(
            parse_detach_keys("ctrl-xx").unwrap_err().message,
            "Invalid detach keys (ctrl-xx) provided"
        );
        // Case-sensitive like moby's term.ToBytes (the CLI agrees).
        assert!(parse_detach_keys("ctrl-P").is_err());
    }

    fn mode(stdin: bool, close_stdin: bool, keys: &[u8]) -> InputMode {
        InputMode {
            stdin,
            close_stdin,
            keys: keys.to_vec(),
        }
    }

    /// Run [`forward_input`] over `input`; the frames sent to the shim and
    /// how the stream ended (None: it goes on, waiting for output).
    async fn run_input(input: &[u8], m: InputMode) -> (Vec<(u8, Vec<u8>)>, Option<InputEnd>) {
        let (shim_w, mut shim_r) = tokio::io::duplex(1 << 16);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(forward_input(
            std::io::Cursor::new(input.to_vec()),
            shim_w,
            m,
            tx,
        ));
        let end = tokio::time::timeout(std::time::Duration::from_millis(300), rx)
            .await
            .ok()
            .and_then(|r| r.ok());
        task.abort();
        let _ = task.await;
        let mut raw = Vec::new();
        shim_r.read_to_end(&mut raw).await.unwrap();
        let mut d = Decoder::default();
        d.push(&raw);
        let mut frames = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            frames.push(f);
        }
        (frames, end)
    }

    #[tokio::test]
    async fn stdin_eof_ends_the_attach_unless_it_closes_stdin() {
        // docker attach to `run -i` (no StdinOnce): EOF ends the stream.
        let (frames, end) = run_input(b"x\n", mode(true, false, &[])).await;
        assert_eq!(frames, vec![(KIND_STDIN, b"x\n".to_vec())]);
        assert_eq!(end, Some(InputEnd::Eof));
        // StdinOnce / exec without a TTY: EOF closes stdin, output goes on.
        let (frames, end) = run_input(b"x", mode(true, true, &[])).await;
        assert_eq!(
            frames,
            vec![(KIND_STDIN, b"x".to_vec()), (KIND_STDIN_CLOSE, Vec::new())]
        );
        assert_eq!(end, None);
        // No stdin attached: the client's EOF changes nothing.
        let (frames, end) = run_input(b"x", mode(false, false, &[])).await;
        assert!(frames.is_empty());
        assert_eq!(end, None);
    }

    #[tokio::test]
    async fn detach_keys_only_act_when_given() {
        let (frames, end) = run_input(b"a\x10\x11b", mode(true, false, &[16, 17])).await;
        assert_eq!(frames, vec![(KIND_STDIN, b"a".to_vec())]);
        assert_eq!(end, Some(InputEnd::Detached));
        // Without a TTY no keys are watched: binary input passes through.
        let (frames, end) = run_input(b"a\x10\x11b", mode(true, true, &[])).await;
        assert_eq!(frames[0], (KIND_STDIN, b"a\x10\x11b".to_vec()));
        assert_eq!(end, None);
    }
}
