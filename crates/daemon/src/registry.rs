//! Registry endpoints: `POST /images/create?fromImage=` (pull),
//! `POST /images/{name}/push`, `POST /auth`, `GET /distribution/{name}/json`.
//! Failures before the first progress message are HTTP errors; after it,
//! an `errorDetail` message ends the stream, as in dockerd.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, StatusCode};
use tokio::sync::mpsc;

use berth_engine::{AuthConfig, PlatformSpec, PullRequest, PushRequest};
use berth_spec::api::ProgressMessage;
use berth_spec::reference::Reference;

use crate::body::channel;
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{ok_json, with_body, ApiResult};
use crate::Ctx;

/// The credentials of `X-Registry-Auth` (anonymous when absent or
/// undecodable).
pub(crate) fn auth_header(headers: &HeaderMap) -> AuthConfig {
    headers
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
        .map(AuthConfig::from_header)
        .unwrap_or_default()
}

/// One JSON message and dockerd's `\r\n`.
pub(crate) fn frame(m: &ProgressMessage) -> Bytes {
    let mut v = serde_json::to_vec(m).unwrap_or_default();
    v.extend_from_slice(b"\r\n");
    Bytes::from(v)
}

/// `fromImage` + `tag` as dockerd combines them (the tag may be a digest).
pub(crate) fn pull_reference(image: &str, tag: &str) -> Result<Reference, ApiError> {
    let image = image.strip_suffix(':').unwrap_or(image);
    let bad = |e: berth_spec::image::ImageSpecError| ApiError::bad_request(e.to_string());
    let named = Reference::parse_normalized(image).map_err(bad)?;
    let r = if tag.is_empty() {
        named.with_default_tag()
    } else if tag.starts_with("sha256:") {
        let name = named.name();
        Reference::parse_normalized(&format!("{name}@{tag}")).map_err(bad)?
    } else {
        named.with_tag(tag).map_err(bad)?
    };
    Ok(r)
}

/// A progress stream fed from blocking code: messages go out as they
/// come; when the client goes away, `cancel` is set.
pub(crate) struct Stream {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    cancel: Arc<AtomicBool>,
    /// Dropped with the stream: lets the disconnect watcher end.
    _done: tokio::sync::oneshot::Sender<()>,
}

impl Stream {
    /// A stream and the response body that carries it.
    pub(crate) fn new(cancel: Arc<AtomicBool>) -> (Stream, crate::body::Body) {
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(256);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let watch = tx.clone();
        let flag = Arc::clone(&cancel);
        tokio::spawn(async move {
            tokio::select! {
                _ = watch.closed() => flag.store(true, Ordering::Relaxed),
                _ = done_rx => {}
            }
        });
        (
            Stream {
                tx,
                cancel,
                _done: done_tx,
            },
            channel(rx),
        )
    }

    /// Send one message (blocking; from a blocking thread only).
    pub(crate) fn send(&self, m: ProgressMessage) {
        if self.tx.blocking_send(Ok(frame(&m))).is_err() {
            self.cancel.store(true, Ordering::Relaxed);
        }
    }
}

/// `POST /images/create?fromImage=&tag=&platform=`.
pub async fn pull(ctx: &Ctx, q: &Query, req: Request<Incoming>) -> ApiResult {
    let image = q.get("fromImage").unwrap_or_default();
    let tag = q.get("tag").unwrap_or_default();
    let reference = pull_reference(image, tag)?;
    let platform = match q.get("platform").filter(|p| !p.trim().is_empty()) {
        Some(p) => Some(PlatformSpec::parse(p).map_err(ApiError::bad_request)?),
        None => None,
    };
    let auth = auth_header(req.headers());
    drop(req);
    // No tag anywhere: every tag of the repository (`docker pull --all-tags`).
    let named = Reference::parse_normalized(image.strip_suffix(':').unwrap_or(image))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if tag.is_empty() && named.tag().is_none() && named.digest().is_none() {
        return crate::pull_all::pull_all_tags(ctx, named, platform, auth).await;
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let engine = ctx.engine.clone();
    let prep_cancel = Arc::clone(&cancel);
    let preq = PullRequest {
        reference,
        platform,
        auth,
    };
    let prepared = tokio::task::spawn_blocking(move || engine.prepare_pull(preq, prep_cancel))
        .await
        .map_err(|e| ApiError::internal(format!("background task failed: {e}")))??;
    let (stream, body) = Stream::new(Arc::clone(&cancel));
    let engine = ctx.engine.clone();
    tokio::task::spawn_blocking(move || {
        let emit = |m: ProgressMessage| stream.send(m);
        match prepared.run(&engine, &emit) {
            Ok(done) => engine.log_image_event(&done.familiar, &done.name, "pull"),
            Err(e) => {
                tracing::info!("pull failed: {}", e.message);
                stream.send(ProgressMessage::error(e.message));
            }
        }
    });
    Ok(with_body(StatusCode::OK, "application/json", body))
}

/// `POST /images/{name}/push?tag=`.
pub async fn push(ctx: &Ctx, name: &str, q: &Query, req: Request<Incoming>) -> ApiResult {
    let auth = auth_header(req.headers());
    drop(req);
    let named =
        Reference::parse_normalized(name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // A tag in the name wins over none in the query, as dockerd parses it.
    let tag = q
        .get("tag")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or_else(|| named.tag().map(str::to_string));
    let name_only = Reference::parse_normalized(&named.name())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let preq_tag = tag.clone();
    let preq = PushRequest {
        name: name_only,
        tag,
        auth,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let engine = ctx.engine.clone();
    let prep_cancel = Arc::clone(&cancel);
    let prepared = tokio::task::spawn_blocking(move || engine.prepare_push(preq, prep_cancel))
        .await
        .map_err(|e| ApiError::internal(format!("background task failed: {e}")))??;
    let (stream, body) = Stream::new(Arc::clone(&cancel));
    let engine = ctx.engine.clone();
    let event_name = named.familiar_name();
    let event_id = match &preq_tag {
        Some(t) => format!("{event_name}:{t}"),
        None => event_name.clone(),
    };
    tokio::task::spawn_blocking(move || {
        let emit = |m: ProgressMessage| stream.send(m);
        match prepared.run(&engine, &emit) {
            Ok(()) => engine.log_image_event(&event_id, &event_name, "push"),
            Err(e) => {
                tracing::info!("push failed: {}", e.message);
                stream.send(ProgressMessage::error(e.message));
            }
        }
    });
    Ok(with_body(StatusCode::OK, "application/json", body))
}

/// `POST /auth`: `{"Status":"Login Succeeded","IdentityToken":...}`.
pub async fn auth(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    let bytes = crate::body::read_all(req.into_body(), 1 << 20)
        .await
        .map_err(ApiError::bad_request)?;
    let mut auth: AuthConfig = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    auth.fill_from_auth();
    let token = ctx.engine.login(auth).await?;
    ok_json(&serde_json::json!({
        "IdentityToken": token,
        "Status": "Login Succeeded",
    }))
}

/// `GET /distribution/{name}/json`: the manifest descriptor and platforms.
pub async fn distribution(ctx: &Ctx, name: &str, req: Request<Incoming>) -> ApiResult {
    let auth = auth_header(req.headers());
    drop(req);
    let r = Reference::parse_normalized_tagged(name)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    ok_json(&ctx.engine.distribution_inspect(r, auth).await?)
}

/// `GET /images/search?term=&limit=&filters=` (private registries).
pub async fn search(ctx: &Ctx, q: &Query, req: Request<Incoming>) -> ApiResult {
    let auth = auth_header(req.headers());
    drop(req);
    let term = q.get("term").unwrap_or_default().to_string();
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        None => 25,
    };
    let filters = q.filters()?;
    ok_json(&ctx.engine.search(&term, limit, &filters, auth).await?)
}
