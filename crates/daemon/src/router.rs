//! Routing: API version prefix, method and path to a handler.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::body::Body;
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{add_common_headers, error, ApiResult};
use crate::{build, containers, images, system, Ctx};

/// Parse `"1.41"` as (1, 41).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Strip a `/vX.Y` prefix, rejecting versions berth does not speak.
pub(crate) fn strip_version(path: &str) -> Result<&str, ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let Some(v) = parse_version(ver) else {
        return Ok(path);
    };
    let max = parse_version(berth_spec::API_VERSION).unwrap_or((1, 41));
    let min = parse_version(berth_spec::MIN_API_VERSION).unwrap_or((1, 12));
    if v > max {
        return Err(ApiError::bad_request(format!(
            "client version {ver} is too new. Maximum supported API version is {}",
            berth_spec::API_VERSION
        )));
    }
    if v < min {
        return Err(ApiError::bad_request(format!(
            "client version {ver} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            berth_spec::MIN_API_VERSION
        )));
    }
    Ok(tail)
}

pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Handle one request; never fails (errors become Docker's JSON errors).
pub async fn handle(ctx: Arc<Ctx>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let mut resp = match route(ctx, req).await {
        Ok(r) => r,
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!("{method} {path}: {}", e.message);
            } else {
                tracing::debug!("{method} {path}: {} {}", e.status, e.message);
            }
            error(&e)
        }
    };
    add_common_headers(&mut resp);
    tracing::debug!(
        "{method} {path} -> {} in {:?}",
        resp.status(),
        started.elapsed()
    );
    Ok(resp)
}

fn not_found() -> ApiError {
    ApiError::not_found("page not found")
}

async fn route(ctx: Arc<Ctx>, req: Request<Incoming>) -> ApiResult {
    let full_path = req.uri().path().to_string();
    let path = strip_version(&full_path)?.to_string();
    let q = Query::parse(req.uri().query());
    let method = req.method().clone();
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let segs: Vec<&str> = trimmed.split('/').collect();
    match (method.clone(), segs.as_slice()) {
        (Method::GET | Method::HEAD, ["_ping"]) => system::ping(&method),
        (Method::GET, ["version"]) => system::version(),
        (Method::GET, ["info"]) => system::info(&ctx),
        (Method::GET, ["system", "df"]) => crate::respond::ok_json(&ctx.engine.disk_usage().await?),
        (Method::GET, ["events"]) => crate::events::events(&ctx, &q).await,
        (Method::POST, ["containers", "create"]) => containers::create(&ctx, &q, req).await,
        (Method::GET, ["containers", "json"]) => containers::list(&ctx, &q).await,
        (Method::POST, ["containers", "prune"]) => containers::prune(&ctx, &q).await,
        (Method::GET, ["containers", id, "json"]) => {
            containers::inspect(&ctx, &decode(id), &q).await
        }
        (Method::DELETE, ["containers", id]) if q.bool("link") => {
            ctx.engine.remove_link(&decode(id)).await?;
            crate::respond::status(hyper::StatusCode::NO_CONTENT)
        }
        (Method::DELETE, ["containers", id]) => containers::remove(&ctx, &decode(id), &q).await,
        (Method::DELETE, ["containers", linker, alias]) if q.bool("link") => {
            let name = format!("{}/{}", decode(linker), decode(alias));
            ctx.engine.remove_link(&name).await?;
            crate::respond::status(hyper::StatusCode::NO_CONTENT)
        }
        (Method::POST, ["containers", id, action]) => {
            let id = decode(id);
            match *action {
                "start" => containers::start(&ctx, &id).await,
                "stop" => containers::stop(&ctx, &id, &q).await,
                "restart" => containers::restart(&ctx, &id, &q).await,
                "kill" => containers::kill(&ctx, &id, &q).await,
                "wait" => containers::wait(&ctx, &id, &q),
                "rename" => containers::rename(&ctx, &id, &q).await,
                "attach" => crate::attach::attach(&ctx, &id, &q, req).await,
                "resize" => crate::attach::resize(&ctx, &id, &q).await,
                "exec" => crate::exec::create(&ctx, &id, req).await,
                "pause" => crate::update::pause(&ctx, &id).await,
                "unpause" => crate::update::unpause(&ctx, &id).await,
                "update" => crate::update::update(&ctx, &id, req).await,
                _ => Err(not_found()),
            }
        }
        (Method::GET, ["containers", id, "logs"]) => containers::logs(&ctx, &decode(id), &q).await,
        (Method::GET, ["containers", id, "stats"]) => {
            crate::stats::stats(&ctx, &decode(id), &q).await
        }
        (Method::GET, ["containers", id, "top"]) => containers::top(&ctx, &decode(id), &q).await,
        (Method::GET, ["containers", id, "changes"]) => {
            containers::changes(&ctx, &decode(id)).await
        }
        (Method::GET, ["containers", id, "export"]) => containers::export(&ctx, &decode(id)).await,
        (Method::HEAD, ["containers", id, "archive"]) => {
            containers::archive_head(&ctx, &decode(id), &q).await
        }
        (Method::GET, ["containers", id, "archive"]) => {
            containers::archive_get(&ctx, &decode(id), &q).await
        }
        (Method::PUT, ["containers", id, "archive"]) => {
            containers::archive_put(&ctx, &decode(id), &q, req).await
        }
        (Method::POST, ["exec", id, "start"]) => crate::exec::start(&ctx, &decode(id), req).await,
        (Method::POST, ["exec", id, "resize"]) => crate::exec::resize(&ctx, &decode(id), &q).await,
        (Method::GET, ["exec", id, "json"]) => crate::exec::inspect(&ctx, &decode(id)),
        (Method::GET, ["volumes"]) => crate::volumes::list(&ctx, &q).await,
        (Method::POST, ["volumes", "create"]) => crate::volumes::create(&ctx, req).await,
        (Method::POST, ["volumes", "prune"]) => crate::volumes::prune(&ctx, &q).await,
        (Method::GET, ["volumes", name]) => crate::volumes::inspect(&ctx, &decode(name)).await,
        (Method::DELETE, ["volumes", name]) => {
            crate::volumes::remove(&ctx, &decode(name), &q).await
        }
        (Method::GET, ["networks"]) => crate::networks::list(&ctx, &q).await,
        (Method::POST, ["networks", "create"]) => crate::networks::create(&ctx, req).await,
        (Method::POST, ["networks", "prune"]) => crate::networks::prune(&ctx, &q).await,
        (Method::GET, ["networks", id]) => crate::networks::inspect(&ctx, &decode(id)).await,
        (Method::DELETE, ["networks", id]) => crate::networks::remove(&ctx, &decode(id)).await,
        (Method::POST, ["networks", id, "connect"]) => {
            crate::networks::connect(&ctx, &decode(id), req).await
        }
        (Method::POST, ["networks", id, "disconnect"]) => {
            crate::networks::disconnect(&ctx, &decode(id), req).await
        }
        (Method::GET, ["berth", "env", _, ..]) => {
            crate::envcap::env(&ctx, &decode(&trimmed["berth/env/".len()..]), &q).await
        }
        (Method::POST, ["build"]) => build::build(&ctx, &q, req).await,
        (Method::POST, ["auth"]) => crate::registry::auth(&ctx, req).await,
        (Method::GET, ["distribution", .., "json"]) if segs.len() >= 3 => {
            let rest = &trimmed["distribution/".len()..];
            let name = decode(rest.strip_suffix("/json").unwrap_or(rest));
            crate::registry::distribution(&ctx, &name, req).await
        }
        // berth's build cache is its intermediate images (`image prune` removes them): no
        // separate cache to prune, as dockerd reports when it has none.
        (Method::POST, ["build", "prune"]) => crate::respond::ok_json(&serde_json::json!({
            "CachesDeleted": null, "SpaceReclaimed": 0
        })),
        (Method::POST, ["commit"]) => containers::commit(&ctx, &q, req).await,
        (Method::GET, ["images", "json"]) => images::list(&ctx, &q).await,
        (Method::POST, ["images", "create"]) => images::create(&ctx, &q, req).await,
        (Method::POST, ["images", "load"]) => images::load(&ctx, &q, req).await,
        (Method::POST, ["images", "prune"]) => images::prune(&ctx, &q).await,
        (Method::GET, ["images", "get"]) => images::save(&ctx, q.all("names")).await,
        (Method::GET, ["images", "search"]) => crate::registry::search(&ctx, &q, req).await,
        (_, ["images", ..]) if segs.len() >= 2 => {
            // Image names may contain '/': /images/{name}/json|history|get|tag, DELETE /images/{name}.
            let rest = &trimmed["images/".len()..];
            let (name, action) = match rest.rsplit_once('/') {
                Some((n, a)) if matches!(a, "json" | "history" | "get" | "tag" | "push") => {
                    (n, Some(a))
                }
                _ => (rest, None),
            };
            let name = decode(name);
            match (method, action) {
                (Method::GET, Some("json")) => images::inspect(&ctx, &name).await,
                (Method::GET, Some("history")) => images::history(&ctx, &name).await,
                (Method::GET, Some("get")) => images::save(&ctx, vec![name]).await,
                (Method::POST, Some("tag")) => images::tag(&ctx, &name, &q).await,
                (Method::POST, Some("push")) => crate::registry::push(&ctx, &name, &q, req).await,
                (Method::DELETE, None) => images::remove(&ctx, &name, &q).await,
                _ => Err(not_found()),
            }
        }
        (_, [first, ..]) if crate::swarm::is_swarm_path(first) => crate::swarm::swarm(&segs),
        (_, ["plugins", ..]) => crate::swarm::plugins(&method, &segs),
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked() {
        assert_eq!(
            strip_version("/v1.41/containers/json").unwrap(),
            "/containers/json"
        );
        assert_eq!(strip_version("/v1.24/_ping").unwrap(), "/_ping");
        assert_eq!(strip_version("/_ping").unwrap(), "/_ping");
        let e = strip_version("/v1.52/info").unwrap_err();
        assert_eq!(
            e.message,
            "client version 1.52 is too new. Maximum supported API version is 1.41"
        );
        assert!(strip_version("/v1.11/info").is_err());
        // Not a version: left alone (and then not found).
        assert_eq!(strip_version("/volumes").unwrap(), "/volumes");
    }
}
