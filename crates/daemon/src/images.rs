//! Image endpoints (most work is in berth-store, run on the blocking pool).

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use berth_engine::ByteSender;
use berth_spec::api::StreamMessage;
use berth_store::ImportOptions;

use crate::body::{channel, full, BodyReader};
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{ok_json, status, with_body, ApiResult};
use crate::Ctx;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("background task failed: {e}")))?
}

fn json_lines(msgs: &[StreamMessage]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        if let Ok(b) = serde_json::to_vec(m) {
            out.extend_from_slice(&b);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// `GET /images/json`.
pub async fn list(ctx: &Ctx, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.images(q.bool("all"), q.filters()?).await?)
}

/// `GET /images/{name}/json`.
pub async fn inspect(ctx: &Ctx, name: &str) -> ApiResult {
    let store = ctx.engine.store();
    let name = name.to_string();
    ok_json(&blocking(move || Ok(store.inspect(&name)?)).await?)
}

/// `GET /images/{name}/history`.
pub async fn history(ctx: &Ctx, name: &str) -> ApiResult {
    let store = ctx.engine.store();
    let name = name.to_string();
    ok_json(&blocking(move || Ok(store.history(&name)?)).await?)
}

/// `POST /images/{name}/tag?repo&tag`.
pub async fn tag(ctx: &Ctx, name: &str, q: &Query) -> ApiResult {
    let repo = q.get("repo").unwrap_or_default();
    let tag = q.get("tag").unwrap_or_default();
    if repo.is_empty() {
        return Err(ApiError::bad_request(
            "repository name must have at least one component",
        ));
    }
    let reference = if tag.is_empty() {
        repo.to_string()
    } else {
        format!("{repo}:{tag}")
    };
    let store = ctx.engine.store();
    let name = name.to_string();
    let tagged = reference.clone();
    let id = blocking(move || {
        store.tag(&name, &reference)?;
        Ok(store.resolve(&name)?)
    })
    .await?;
    ctx.engine.log_tag(&id, &tagged);
    status(StatusCode::CREATED)
}

/// `DELETE /images/{name}`.
pub async fn remove(ctx: &Ctx, name: &str, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.image_remove(name, q.bool("force")).await?)
}

/// `POST /images/prune`.
pub async fn prune(ctx: &Ctx, q: &Query) -> ApiResult {
    let filters = q.filters()?;
    let all = filters
        .get("dangling")
        .is_some_and(|v| v.iter().any(|d| d == "false" || d == "0"));
    ok_json(&ctx.engine.image_prune(all).await?)
}

/// `POST /images/create`: pull (`fromImage`) or import from the request
/// body (`fromSrc=-`).
pub async fn create(ctx: &Ctx, q: &Query, req: Request<Incoming>) -> ApiResult {
    if q.get("fromImage").is_some_and(|s| !s.is_empty()) {
        return crate::registry::pull(ctx, q, req).await;
    }
    match q.get("fromSrc") {
        Some("-") => {}
        Some(other) if !other.is_empty() => {
            return Err(ApiError::bad_request(format!(
                "importing from {other} is not supported; use -"
            )));
        }
        _ => return Err(ApiError::bad_request("fromSrc or fromImage is required")),
    }
    let repo = q.get("repo").unwrap_or_default();
    let tag = q.get("tag").unwrap_or_default();
    let reference = if repo.is_empty() {
        None
    } else if tag.is_empty() {
        Some(repo.to_string())
    } else {
        Some(format!("{repo}:{tag}"))
    };
    let platform = q.get("platform").unwrap_or_default();
    let (os, architecture) = match platform.split_once('/') {
        Some((o, a)) => (o.to_string(), a.to_string()),
        None => (platform.to_string(), String::new()),
    };
    let opts = ImportOptions {
        changes: q
            .all("changes")
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect(),
        message: q.get("message").unwrap_or_default().to_string(),
        tag: reference.clone(),
        created: None,
        os,
        architecture,
    };
    let reader = BodyReader::spawn(req.into_body());
    let store = ctx.engine.store();
    let id = blocking(move || Ok(store.import_rootfs(reader, &opts)?)).await?;
    if let Some(r) = &reference {
        ctx.engine.log_tag(&id, r);
    }
    ctx.engine.log_image_event(&id, &id, "import");
    let msg = StreamMessage {
        status: Some(id),
        ..Default::default()
    };
    Ok(with_body(
        StatusCode::OK,
        "application/json",
        full(json_lines(&[msg])),
    ))
}

/// `POST /images/load`.
pub async fn load(ctx: &Ctx, _q: &Query, req: Request<Incoming>) -> ApiResult {
    let reader = BodyReader::spawn(req.into_body());
    let store = ctx.engine.store();
    let (loaded, lines) = blocking(move || {
        let mut lines: Vec<String> = Vec::new();
        let loaded = store.load(reader, &mut |l: &str| lines.push(l.to_string()));
        Ok((loaded, lines))
    })
    .await?;
    let ids = loaded.as_ref().cloned().unwrap_or_default();
    for id in &ids {
        ctx.engine.log_image_event(id, id, "load");
    }
    let mut msgs: Vec<StreamMessage> = lines
        .into_iter()
        .map(|l| StreamMessage {
            stream: Some(if l.ends_with('\n') {
                l
            } else {
                format!("{l}\n")
            }),
            ..Default::default()
        })
        .collect();
    // dockerd answers 200 before reading the archive: a bad archive is an error message in
    // the stream, after what was loaded (docker-py raises `ImageLoadError` on it).
    if let Err(e) = loaded {
        let message = ApiError::from(e).message;
        msgs.push(StreamMessage {
            error: Some(message.clone()),
            error_detail: Some(berth_spec::api::ErrorResponse { message }),
            ..Default::default()
        });
    }
    Ok(with_body(
        StatusCode::OK,
        "application/json",
        full(json_lines(&msgs)),
    ))
}

/// `GET /images/get?names=...` and `GET /images/{name}/get`.
pub async fn save(ctx: &Ctx, names: Vec<String>) -> ApiResult {
    let names: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return Err(ApiError::bad_request("no images given"));
    }
    let store = ctx.engine.store();
    let ids = {
        let store = store.clone();
        let names = names.clone();
        blocking(move || {
            let mut ids = Vec::new();
            for n in &names {
                ids.push(store.resolve(n)?);
            }
            Ok(ids)
        })
        .await?
    };
    for id in &ids {
        ctx.engine.log_image_event(id, id, "save");
    }
    let (tx, rx) = ByteSender::channel();
    tokio::task::spawn_blocking(move || {
        let mut tx = tx;
        if let Err(e) = store.save(&names, &mut tx) {
            tracing::warn!("save: {e}");
            tx.fail(std::io::Error::other(e.to_string()));
        }
    });
    Ok(with_body(StatusCode::OK, "application/x-tar", channel(rx)))
}
