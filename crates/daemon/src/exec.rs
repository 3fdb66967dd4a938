//! Exec endpoints: create, start (hijacked or detached), inspect, resize.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;

use berth_engine::{ExecConfig, ExecStarted, LogStream};
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
    #[allow(dead_code)]
    tty: bool,
}

/// `POST /containers/{id}/exec`.
pub async fn create(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    let config: ExecConfig = body::read_json_or_default(req.into_body(), MAX_BODY).await?;
    let exec_id = ctx.engine.exec_create(id, config).await?;
    json(StatusCode::CREATED, &IdResponse { id: exec_id })
}

/// `POST /exec/{id}/start`.
pub async fn start(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    // The body is read before the connection is hijacked; the upgrade
    // stays with the request's parts.
    let (parts, incoming) = req.into_parts();
    let req = Request::from_parts(parts, ());
    let cfg: ExecStartConfig = body::read_json_or_default(incoming, MAX_BODY).await?;
    match ctx.engine.exec_start(id, cfg.detach).await? {
        ExecStarted::Detached => status(StatusCode::OK),
        ExecStarted::Attached(conn) => {
            crate::attach::hijack(Arc::clone(&ctx.engine), req, ready(conn), Vec::new())
        }
        ExecStarted::Failed(msg) => {
            // dockerd writes the error into the stream as stdout, then ends it.
            let text = format!("{msg}\r\n");
            let framed = crate::containers::frame(LogStream::Stdout, text.as_bytes());
            let conn = closed_conn()?;
            crate::attach::hijack(Arc::clone(&ctx.engine), req, ready(conn), framed)
        }
    }
}

/// An attach that is ready now.
fn ready(conn: berth_engine::StdioConn) -> berth_engine::PendingAttach {
    Box::pin(async move { Ok(conn) })
}

/// A connection whose shim side is already closed: the stream ends after the prefix.
fn closed_conn() -> Result<berth_engine::StdioConn, ApiError> {
    let (a, _b) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| ApiError::internal(format!("socketpair: {e}")))?;
    Ok(berth_engine::StdioConn {
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
