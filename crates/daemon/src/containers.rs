//! Container endpoints.

use base64::Engine as _;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Request, Response, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use berth_engine::{LogChunk, LogOptions, LogStream, WaitCondition};
use berth_spec::api::{ContainerConfig, ContainerCreateRequest, IdResponse};

use crate::body::{self, channel, empty, BodyReader};
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{json, ok_json, status, with_body, ApiResult};
use crate::Ctx;

/// Largest JSON request body accepted.
const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

/// Content type of multiplexed (non-TTY) output streams.
const RAW_STREAM: &str = "application/vnd.docker.raw-stream";

/// One frame of Docker's stdout/stderr multiplexing: `[stream,0,0,0,len(BE u32)] + data`.
pub(crate) fn frame(stream: LogStream, data: &[u8]) -> Vec<u8> {
    let kind = match stream {
        LogStream::Stdout => 1u8,
        LogStream::Stderr => 2u8,
    };
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&data[..len as usize]);
    out
}

/// The bytes sent for one chunk: multiplexed frames, or raw data for a
/// container with a TTY (clients do not demultiplex those streams).
fn chunk_bytes(c: &LogChunk, timestamps: bool, tty: bool) -> Vec<u8> {
    let mut data = Vec::with_capacity(c.data.len() + 32);
    if timestamps {
        let ts = c.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        data.extend_from_slice(ts.as_bytes());
        data.push(b' ');
    }
    data.extend_from_slice(&c.data);
    if tty {
        data
    } else {
        frame(c.stream, &data)
    }
}

/// Whether the container was created with `Tty: true`.
fn has_tty(ctx: &Ctx, id: &str) -> bool {
    ctx.engine.record(id).map(|r| r.config.tty).unwrap_or(false)
}

/// Turn a receiver of log chunks into a byte stream (framed unless `tty`).
fn framed(
    mut rx: mpsc::Receiver<LogChunk>,
    timestamps: bool,
    tty: bool,
) -> mpsc::Receiver<std::io::Result<Bytes>> {
    let (tx, out) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            let bytes = Bytes::from(chunk_bytes(&c, timestamps, tty));
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
    });
    out
}

/// `POST /containers/create`.
pub async fn create(ctx: &Ctx, q: &Query, req: Request<Incoming>) -> ApiResult {
    let bytes = body::read_all(req.into_body(), MAX_JSON_BODY)
        .await
        .map_err(ApiError::bad_request)?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "Config cannot be empty in order to create a container",
        ));
    }
    let create: ContainerCreateRequest = body::parse_json(&bytes)?;
    let name = q.get("name").map(str::to_string);
    let resp = ctx.engine.create(create, name).await?;
    json(StatusCode::CREATED, &resp)
}

/// `GET /containers/json`.
pub async fn list(ctx: &Ctx, q: &Query) -> ApiResult {
    let opts = berth_engine::ListOptions {
        all: q.bool("all"),
        limit: q.int("limit")?.unwrap_or(-1),
        size: q.bool("size"),
        filters: q.filters()?,
    };
    ok_json(&ctx.engine.list(opts).await?)
}

/// `GET /containers/{id}/json`.
pub async fn inspect(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.inspect(id, q.bool("size")).await?)
}

/// `POST /containers/{id}/start`.
pub async fn start(ctx: &Ctx, id: &str) -> ApiResult {
    ctx.engine.start(id).await?;
    status(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/stop`.
pub async fn stop(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    ctx.engine.stop(id, q.int("t")?).await?;
    status(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/restart`.
pub async fn restart(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    ctx.engine.restart(id, q.int("t")?).await?;
    status(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/kill`.
pub async fn kill(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    ctx.engine.kill(id, q.get("signal")).await?;
    status(StatusCode::NO_CONTENT)
}

/// `DELETE /containers/{id}`.
pub async fn remove(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    ctx.engine.remove(id, q.bool("force"), q.bool("v")).await?;
    status(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/rename`.
pub async fn rename(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    let new = q.get("name").unwrap_or_default();
    ctx.engine.rename(id, new).await?;
    status(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/wait`: headers at once, the result when the condition is met.
pub fn wait(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    let cond = WaitCondition::parse(q.get("condition").unwrap_or(""));
    let fut = ctx.engine.wait(id, cond)?;
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        // Give up when the client goes away.
        let res = tokio::select! {
            r = fut => r,
            _ = tx.closed() => return,
        };
        let mut bytes = serde_json::to_vec(&res).unwrap_or_default();
        bytes.push(b'\n');
        let _ = tx.send(Ok(Bytes::from(bytes))).await;
    });
    Ok(with_body(StatusCode::OK, "application/json", channel(rx)))
}

/// `GET /containers/{id}/logs`.
pub async fn logs(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    let stdout = q.bool("stdout");
    let stderr = q.bool("stderr");
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let time = |key: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        match q.get(key).map(str::trim) {
            None | Some("") | Some("0") => Ok(None),
            Some(v) => berth_engine::parse_api_time(v)
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("invalid value for \"{key}\": {v}"))),
        }
    };
    let tail = match q.get("tail").map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n as usize),
    };
    let opts = LogOptions {
        follow: q.bool("follow"),
        stdout,
        stderr,
        since: time("since")?,
        until: time("until")?,
        tail,
    };
    let rx = ctx.engine.logs(id, opts).await?;
    let tty = has_tty(ctx, id);
    Ok(with_body(
        StatusCode::OK,
        RAW_STREAM,
        channel(framed(rx, q.bool("timestamps"), tty)),
    ))
}

/// `POST /containers/{id}/attach`: hijacked (101) when the client asks for an upgrade.
pub async fn attach(ctx: &Ctx, id: &str, q: &Query, mut req: Request<Incoming>) -> ApiResult {
    let stdout = q.bool("stdout");
    let stderr = q.bool("stderr");
    let rx = if q.bool("stream") {
        ctx.engine
            .attach(id, stdout, stderr, q.bool("logs"))
            .await?
    } else {
        let opts = LogOptions {
            stdout,
            stderr,
            ..Default::default()
        };
        if q.bool("logs") {
            ctx.engine.logs(id, opts).await?
        } else {
            ctx.engine.resolve_container(id)?;
            mpsc::channel(1).1
        }
    };
    let wants_upgrade = req
        .headers()
        .get(CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"));
    let tty = has_tty(ctx, id);
    if !wants_upgrade {
        return Ok(with_body(
            StatusCode::OK,
            RAW_STREAM,
            channel(framed(rx, false, tty)),
        ));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!("attach upgrade failed: {e}");
                return;
            }
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let (mut read_half, mut write_half) = tokio::io::split(io);
        // stdin is not attached in this version: read and discard what the client sends.
        let reader = tokio::spawn(async move {
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut read_half, &mut sink).await;
        });
        let mut rx = rx;
        while let Some(c) = rx.recv().await {
            if write_half
                .write_all(&chunk_bytes(&c, false, tty))
                .await
                .is_err()
            {
                break;
            }
            let _ = write_half.flush().await;
        }
        let _ = write_half.shutdown().await;
        reader.abort();
    });
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(RAW_STREAM));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    Ok(resp)
}

/// `GET /containers/{id}/top`.
pub async fn top(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.top(id, q.get("ps_args").unwrap_or("")).await?)
}

/// `GET /containers/{id}/changes`.
pub async fn changes(ctx: &Ctx, id: &str) -> ApiResult {
    ok_json(&ctx.engine.changes(id).await?)
}

/// `GET /containers/{id}/export`.
pub async fn export(ctx: &Ctx, id: &str) -> ApiResult {
    let rx = ctx.engine.export(id).await?;
    Ok(with_body(StatusCode::OK, "application/x-tar", channel(rx)))
}

fn archive_path(q: &Query) -> Result<String, ApiError> {
    match q.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("path cannot be empty")),
    }
}

fn stat_header(stat: &berth_engine::ArchiveStat) -> Result<HeaderValue, ApiError> {
    let json = serde_json::to_vec(stat).map_err(|e| ApiError::internal(e.to_string()))?;
    let encoded = base64::engine::general_purpose::URL_SAFE.encode(json);
    HeaderValue::from_str(&encoded).map_err(|e| ApiError::internal(e.to_string()))
}

/// `HEAD /containers/{id}/archive`.
pub async fn archive_head(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    let path = archive_path(q)?;
    let stat = ctx.engine.archive_stat(id, &path).await?;
    let mut resp = Response::new(empty());
    resp.headers_mut()
        .insert("X-Docker-Container-Path-Stat", stat_header(&stat)?);
    Ok(resp)
}

/// `GET /containers/{id}/archive`.
pub async fn archive_get(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    let path = archive_path(q)?;
    let (stat, rx) = ctx.engine.archive_get(id, &path).await?;
    let mut resp = with_body(StatusCode::OK, "application/x-tar", channel(rx));
    resp.headers_mut()
        .insert("X-Docker-Container-Path-Stat", stat_header(&stat)?);
    Ok(resp)
}

/// `PUT /containers/{id}/archive`.
pub async fn archive_put(ctx: &Ctx, id: &str, q: &Query, req: Request<Incoming>) -> ApiResult {
    let path = archive_path(q)?;
    ctx.engine.resolve_container(id)?;
    let reader = BodyReader::spawn(req.into_body());
    ctx.engine.archive_put(id, &path, Box::new(reader)).await?;
    status(StatusCode::OK)
}

/// `POST /commit`.
pub async fn commit(ctx: &Ctx, q: &Query, req: Request<Incoming>) -> ApiResult {
    let container = q.get("container").unwrap_or_default().to_string();
    if container.is_empty() {
        return Err(ApiError::bad_request("No such container: "));
    }
    let config: Option<ContainerConfig> =
        body::read_json_or_default(req.into_body(), MAX_JSON_BODY).await?;
    let repo = q.get("repo").unwrap_or_default();
    let tag = q.get("tag").unwrap_or_default();
    let reference = if repo.is_empty() {
        None
    } else if tag.is_empty() {
        Some(repo.to_string())
    } else {
        Some(format!("{repo}:{tag}"))
    };
    let id = ctx
        .engine
        .commit(
            &container,
            reference,
            q.get("comment").unwrap_or_default().to_string(),
            q.get("author").unwrap_or_default().to_string(),
            q.all("changes")
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect(),
            config,
        )
        .await?;
    json(StatusCode::CREATED, &IdResponse { id })
}

/// `POST /containers/prune`.
pub async fn prune(ctx: &Ctx, q: &Query) -> ApiResult {
    ok_json(&ctx.engine.container_prune(q.filters()?).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_chunks_are_raw_and_timestamps_prefix() {
        let c = LogChunk {
            stream: LogStream::Stdout,
            data: b"x\n".to_vec(),
            time: chrono::DateTime::from_timestamp(1_700_000_000, 5).unwrap(),
        };
        assert_eq!(chunk_bytes(&c, false, true), b"x\n");
        assert_eq!(
            chunk_bytes(&c, true, true),
            b"2023-11-14T22:13:20.000000005Z x\n"
        );
        assert_eq!(
            &chunk_bytes(&c, false, false)[..8],
            &[1, 0, 0, 0, 0, 0, 0, 2]
        );
    }

    #[test]
    fn frames_have_docker_headers() {
        let f = frame(LogStream::Stderr, b"hi\n");
        assert_eq!(f, vec![2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']);
        let f = frame(LogStream::Stdout, b"");
        assert_eq!(f, vec![1, 0, 0, 0, 0, 0, 0, 0]);
    }
}
