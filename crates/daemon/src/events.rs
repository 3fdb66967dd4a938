//! `GET /events`: the engine's events as newline-delimited JSON, the
//! buffered ones asked for by `since`/`until` first, then live ones until
//! `until` (forever without it) or until the client goes away.

use std::time::Duration;

use berth_engine::{parse_event_time, EventFilter};
use berth_spec::api::Event;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hyper::StatusCode;
use tokio::sync::{broadcast, mpsc};

use crate::body::channel;
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{with_body, ApiResult};
use crate::Ctx;

/// One event as a JSON line (Go's encoder ends each value with `\n`).
fn line(ev: &Event) -> Option<Bytes> {
    let mut v = serde_json::to_vec(ev).ok()?;
    v.push(b'\n');
    Some(Bytes::from(v))
}

/// A `since`/`until` parameter in Unix nanoseconds.
fn time_param(q: &Query, key: &str, now: DateTime<Utc>) -> Result<Option<i64>, ApiError> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => parse_event_time(v, now).map_err(|e| ApiError::bad_request(e.message)),
    }
}

/// `GET /events`.
pub async fn events(ctx: &Ctx, q: &Query) -> ApiResult {
    let now = Utc::now();
    let since = time_param(q, "since", now)?;
    let until = time_param(q, "until", now)?;
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            return Err(ApiError::bad_request(format!(
                "`since` time ({}) cannot be after `until` time ({})",
                q.get("since").unwrap_or_default(),
                q.get("until").unwrap_or_default()
            )));
        }
    }
    let filter = EventFilter::new(q.filters()?);
    let sub = ctx.engine.events().subscribe(since, until, &filter);
    let now_nanos = now.timestamp_nanos_opt().unwrap_or(i64::MAX);
    let only_past = until.is_some_and(|u| u < now_nanos);
    let remaining = until.map(|u| Duration::from_nanos(u.saturating_sub(now_nanos).max(0) as u64));
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(64);
    tokio::spawn(async move {
        for ev in &sub.past {
            let Some(b) = line(ev) else { continue };
            if tx.send(Ok(b)).await.is_err() {
                return;
            }
        }
        if only_past {
            return;
        }
        stream_live(sub.live, filter, remaining, tx).await;
    });
    Ok(with_body(StatusCode::OK, "application/json", channel(rx)))
}

/// Forward live events matching `filter` until `remaining` elapses (never
/// without it), the bus closes or the client goes away.
async fn stream_live(
    mut live: broadcast::Receiver<Event>,
    filter: EventFilter,
    remaining: Option<Duration>,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
) {
    let deadline = remaining.map(|d| tokio::time::Instant::now() + d);
    loop {
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = live.recv() => match r {
                Ok(ev) => {
                    if !filter.matches(&ev) {
                        continue;
                    }
                    let Some(b) = line(&ev) else { continue };
                    if tx.send(Ok(b)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("events subscriber too slow, {n} events skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = timeout => return,
            _ = tx.closed() => return,
        }
    }
}
