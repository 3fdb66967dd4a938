//! Exec endpoints: create, start (hijacked or detached), inspect, resize.

use std::io::Write;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;

use berth_engine::attach_protocol::{encode, KIND_STDOUT};
use berth_engine::{EngineError, ExecConfig, ExecStarted, PendingAttach, StdioConn};
use berth_spec::api::IdResponse;

use crate::body;
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{json, ok_json, status, ApiResult};
use crate::Ctx;

/// Largest exec request body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ExecStartConfig {
    detach: bool,
    /// Whether the output goes out raw (true) or multiplexed (false).
    tty: bool,
}

/// `POST /containers/{id}/exec`.
pub async fn create(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    let config: ExecConfig = body::read_json_or_default(req.into_body(), MAX_BODY).await?;
    let exec_id = ctx.engine.exec_create(id, config).await?;
    json(StatusCode::CREATED, &IdResponse { id: exec_id })
}

/// `POST /exec/{id}/start`.
///
/// As dockerd, an attached start answers (101 or 200) first and starts the process after, so
/// a client reading the hijacked socket right after the headers misses none of the output;
/// and the output is multiplexed unless the *start* request asks for `Tty` (dockerd frames by
/// the start body, not by the exec's own `Tty`).
pub async fn start(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    // The body is read before the connection is hijacked; the upgrade
    // stays with the request's parts.
    let (parts, incoming) = req.into_parts();
    let req = Request::from_parts(parts, ());
    let cfg: ExecStartConfig = body::read_json_or_default(incoming, MAX_BODY).await?;
    if cfg.detach {
        return match ctx.engine.exec_start(id, true).await? {
            ExecStarted::Detached => status(StatusCode::OK),
            ExecStarted::Attached(_) => status(StatusCode::OK),
            ExecStarted::Failed(msg) => Err(ApiError::bad_request(msg)),
        };
    }
    // Only a missing exec is an HTTP error; the rest (already run, container not running,
    // a process that cannot start) goes into the stream, as dockerd writes it there.
    ctx.engine.exec_inspect(id)?;
    let engine = Arc::clone(&ctx.engine);
    let exec_id = id.to_string();
    let raw = cfg.tty;
    let pending: PendingAttach = Box::pin(async move {
        let mut conn = match engine.exec_start(&exec_id, false).await {
            Ok(ExecStarted::Attached(conn)) => conn,
            // dockerd writes the error into the stream as stdout, then ends it.
            Ok(ExecStarted::Failed(msg)) => failed_conn(&format!("{msg}\r\n"))?,
            Ok(ExecStarted::Detached) => failed_conn("")?,
            Err(e) => failed_conn(&format!("{}\r\n", e.message))?,
        };
        conn.tty = raw;
        Ok(conn)
    });
    crate::attach::hijack(Arc::clone(&ctx.engine), req, pending, Vec::new())
}

/// A connection whose shim side already said `text` on stdout and closed.
fn failed_conn(text: &str) -> Result<StdioConn, EngineError> {
    let (a, mut b) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| EngineError::system(format!("socketpair: {e}")))?;
    if !text.is_empty() {
        b.write_all(&encode(KIND_STDOUT, text.as_bytes()))
            .map_err(|e| EngineError::system(format!("writing the exec error: {e}")))?;
    }
    drop(b);
    Ok(StdioConn {
        stream: a,
        tty: false,
        stdin: false,
        close_stdin: false,
        detach_keys: String::new(),
        exec_id: None,
        container_id: String::new(),
    })
}

/// `GET /exec/{id}/json`.
pub fn inspect(ctx: &Ctx, id: &str) -> ApiResult {
    ok_json(&ctx.engine.exec_inspect(id)?)
}

/// `POST /exec/{id}/resize?h=&w=`.
pub async fn resize(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    let (h, w) = berth_engine::parse_size(q.get("h"), q.get("w"))?;
    ctx.engine.exec_resize(id, h, w).await?;
    status(StatusCode::OK)
}
