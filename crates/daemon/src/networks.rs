//! Network endpoints (`/networks/*`).

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use berth_engine::NetworkListOptions;
use berth_spec::network_api::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};

use crate::body::read_json_or_default;
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{json, ok_json, status, ApiResult};
use crate::Ctx;

/// Largest JSON request body accepted.
const MAX_JSON_BODY: usize = 1024 * 1024;

/// `GET /networks`.
pub async fn list(ctx: &Ctx, q: &Query) -> ApiResult {
    let opts = NetworkListOptions {
        filters: q.filters()?,
    };
    ok_json(&ctx.engine.network_list(opts).await?)
}

/// `GET /networks/{id}`.
pub async fn inspect(ctx: &Ctx, id: &str) -> ApiResult {
    ok_json(&ctx.engine.network_inspect(id).await?)
}

/// `POST /networks/create`.
pub async fn create(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    let body: NetworkCreateRequest = read_json_or_default(req.into_body(), MAX_JSON_BODY).await?;
    json(StatusCode::CREATED, &ctx.engine.network_create(body).await?)
}

/// `DELETE /networks/{id}`.
pub async fn remove(ctx: &Ctx, id: &str) -> ApiResult {
    ctx.engine.network_remove(id).await?;
    status(StatusCode::NO_CONTENT)
}

/// `POST /networks/prune`.
pub async fn prune(ctx: &Ctx, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.network_prune(q.filters()?).await?)
}

/// `POST /networks/{id}/connect`.
pub async fn connect(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    let body: NetworkConnectRequest = read_json_or_default(req.into_body(), MAX_JSON_BODY).await?;
    if body.container.is_empty() {
        return Err(ApiError::bad_request("container name must not be empty"));
    }
    ctx.engine.network_connect(id, body).await?;
    status(StatusCode::OK)
}

/// `POST /networks/{id}/disconnect`.
pub async fn disconnect(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    let body: NetworkDisconnectRequest =
        read_json_or_default(req.into_body(), MAX_JSON_BODY).await?;
    if body.container.is_empty() {
        return Err(ApiError::bad_request("container name must not be empty"));
    }
    ctx.engine.network_disconnect(id, body).await?;
    status(StatusCode::OK)
}
