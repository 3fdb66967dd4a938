//! `POST /containers/{id}/update`, `POST /containers/{id}/pause|unpause`.

use berth_spec::api::HostConfig;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use crate::body;
use crate::respond::{ok_json, status, ApiResult};
use crate::Ctx;

/// Largest update body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// `POST /containers/{id}/update`: body = resources + `RestartPolicy`
/// (the fields of `HostConfig`); answers `{"Warnings": [...]}`.
pub async fn update(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    let upd: HostConfig = body::read_json_or_default(req.into_body(), MAX_BODY).await?;
    let warnings = ctx.engine.update(id, upd).await?;
    // dockerd answers `null` when there is no warning.
    let warnings = if warnings.is_empty() {
        serde_json::Value::Null
    } else {
        json!(warnings)
    };
    ok_json(&json!({ "Warnings": warnings }))
}

/// `POST /containers/{id}/pause`: 204.
pub async fn pause(ctx: &Ctx, id: &str) -> ApiResult {
    ctx.engine.pause(id).await?;
    status(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/unpause`: 204.
pub async fn unpause(ctx: &Ctx, id: &str) -> ApiResult {
    ctx.engine.unpause(id).await?;
    status(StatusCode::NO_CONTENT)
}
