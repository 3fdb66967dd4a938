//! `GET /containers/{id}/stats`: Docker's stats JSON, one sample per second
//! (`stream=1`, the default), or one sample (`stream=0`, with `precpu_stats`
//! from a sample a second earlier unless `one-shot=1`).

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use tokio::sync::mpsc;

use crate::body::channel;
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{ok_json, with_body, ApiResult};
use crate::Ctx;

/// Time between two samples (dockerd's collector interval).
const INTERVAL: Duration = Duration::from_secs(1);

fn encode(v: &serde_json::Value) -> Bytes {
    let mut bytes = serde_json::to_vec(v).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// `GET /containers/{id}/stats?stream=&one-shot=`.
pub async fn stats(ctx: &Ctx, id: &str, q: &Query) -> ApiResult {
    let stream = q.get("stream").is_none() || q.bool("stream");
    let one_shot = q.bool("one-shot");
    if one_shot && stream {
        return Err(ApiError::bad_request(
            "cannot have stream=true and one-shot=true",
        ));
    }
    let mut reader = ctx.engine.stats_reader(id)?;
    if !stream {
        let mut sample = reader.sample().await?;
        if !one_shot && reader.is_running() {
            tokio::time::sleep(INTERVAL).await;
            sample = reader.sample().await?;
        }
        return ok_json(&sample);
    }
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::spawn(async move {
        loop {
            let sample = match reader.sample().await {
                Ok(s) => s,
                // Removed: the stream ends.
                Err(_) => return,
            };
            if tx.send(Ok(encode(&sample))).await.is_err() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(INTERVAL) => {}
                _ = tx.closed() => return,
            }
        }
    });
    Ok(with_body(StatusCode::OK, "application/json", channel(rx)))
}
