//! berth's extension routes (under `/berth/`, never Docker's namespace):
//! `GET /berth/env/{name}?image=0|1`, the captured environment of a
//! container (default) or an image, as `berth_envcapture::Environment` JSON.

use crate::query::Query;
use crate::respond::{ok_json, ApiResult};
use crate::Ctx;

/// `GET /berth/env/{name}`: `name` may contain `/` (image references).
pub async fn env(ctx: &Ctx, name: &str, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.env_capture(name, q.bool("image")).await?)
}
