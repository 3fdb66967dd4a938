//! Volume endpoints (`/volumes`).

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use berth_spec::volume_api::VolumeCreateRequest;

use crate::body::read_json_or_default;
use crate::query::Query;
use crate::respond::{json, ok_json, status, ApiResult};
use crate::Ctx;

/// Largest `POST /volumes/create` body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// `GET /volumes`.
pub async fn list(ctx: &Ctx, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.volume_list(q.filters()?).await?)
}

/// `POST /volumes/create` (201).
pub async fn create(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    let body: VolumeCreateRequest = read_json_or_default(req.into_body(), MAX_BODY).await?;
    json(StatusCode::CREATED, &ctx.engine.volume_create(body).await?)
}

/// `GET /volumes/{name}`.
pub async fn inspect(ctx: &Ctx, name: &str) -> ApiResult {
    ok_json(&ctx.engine.volume_inspect(name).await?)
}

/// `DELETE /volumes/{name}[?force=1]` (204).
pub async fn remove(ctx: &Ctx, name: &str, q: &Query) -> ApiResult {
    ctx.engine.volume_remove(name, q.bool("force")).await?;
    status(StatusCode::NO_CONTENT)
}

/// `POST /volumes/prune`.
pub async fn prune(ctx: &Ctx, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.volume_prune(q.filters()?).await?)
}
