//! `POST /build`: the classic builder. The request body (the build context)
//! is handed to [`berth_engine::Engine::build`] as a blocking reader; its
//! progress comes back as Docker's JSON messages.
//!
//! As in dockerd, an error that happens before anything was written (a bad
//! Dockerfile, bad parameters) is an HTTP error status; once output has
//! started, the error is the stream's last message
//! (`{"errorDetail":{"code":N,"message":...},"error":...}`).

use std::collections::BTreeMap;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use berth_engine::{BuildMessage, BuildOptions, EngineError};

use crate::body::{channel, BodyReader};
use crate::error::ApiError;
use crate::query::Query;
use crate::respond::{with_body, ApiResult};
use crate::Ctx;

/// Parse a JSON-object parameter (`buildargs`, `labels`); absent or empty = empty map.
fn json_param<T: serde::de::DeserializeOwned + Default>(
    q: &Query,
    key: &str,
) -> Result<T, ApiError> {
    match q.get(key).map(str::trim) {
        None | Some("") | Some("null") => Ok(T::default()),
        Some(raw) => serde_json::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid {key} parameter: {e}"))),
    }
}

/// The build options dockerd reads from the query (the parameters the
/// docker CLI 20.10 sends; the resource limits, cache sources, platform and
/// the like are accepted and ignored).
pub(crate) fn options(q: &Query) -> Result<BuildOptions, ApiError> {
    match q.get("version").unwrap_or("") {
        "" | "1" => {}
        "2" => {
            return Err(ApiError::bad_request(
                "BuildKit is not supported by this daemon: berth has the classic builder only (set DOCKER_BUILDKIT=0)",
            ))
        }
        other => return Err(ApiError::bad_request(format!("invalid version {other:?}"))),
    }
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::bad_request(
            "remote build contexts are not supported by berth: send the context as the request body",
        ));
    }
    let build_args: BTreeMap<String, Option<String>> = json_param(q, "buildargs")?;
    let labels: BTreeMap<String, String> = json_param(q, "labels")?;
    // dockerd: forcerm implies rm; rm defaults to true when absent.
    let force_remove = q.bool("forcerm");
    let remove = force_remove || q.get("rm").is_none_or(|v| v.is_empty()) || q.bool("rm");
    let tags = q
        .all("t")
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>();
    Ok(BuildOptions {
        tags,
        dockerfile: q.get("dockerfile").unwrap_or_default().to_string(),
        build_args,
        target: q
            .get("target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        no_cache: q.bool("nocache"),
        pull: q.bool("pull"),
        registry_auth: BTreeMap::new(),
        labels,
        network_mode: q.get("networkmode").unwrap_or_default().to_string(),
        remove,
        force_remove,
        cache_from: json_param::<Option<Vec<String>>>(q, "cachefrom")?.unwrap_or_default(),
        // docker-py repeats the parameter; the docker CLI may join entries with commas.
        extra_hosts: q
            .all("extrahosts")
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// `X-Registry-Config`: base64url JSON of credentials by server address
/// (undecodable means none).
fn registry_config(headers: &hyper::HeaderMap) -> BTreeMap<String, berth_engine::AuthConfig> {
    use base64::Engine as _;
    let Some(v) = headers
        .get("x-registry-config")
        .and_then(|v| v.to_str().ok())
    else {
        return BTreeMap::new();
    };
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for e in engines {
        if let Ok(bytes) = e.decode(v.trim()) {
            if let Ok(mut map) =
                serde_json::from_slice::<BTreeMap<String, berth_engine::AuthConfig>>(&bytes)
            {
                for a in map.values_mut() {
                    a.fill_from_auth();
                }
                return map;
            }
        }
    }
    BTreeMap::new()
}

/// One JSON message as dockerd frames it (followed by CRLF).
fn frame(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

fn message_json(m: &BuildMessage) -> Value {
    match m {
        BuildMessage::Stream(s) => json!({ "stream": s }),
        BuildMessage::Aux(a) => json!({ "aux": a }),
        BuildMessage::Progress(p) => serde_json::to_value(p).unwrap_or_default(),
    }
}

/// The exit code of a failed RUN ("... returned a non-zero code: N"), which
/// dockerd reports as `errorDetail.code` and the docker CLI exits with.
pub(crate) fn error_code(message: &str) -> Option<i64> {
    let (_, tail) = message.rsplit_once("returned a non-zero code: ")?;
    tail.trim().parse::<i64>().ok().filter(|c| *c != 0)
}

/// `{"errorDetail":{"code":N,"message":...},"error":...}` (no code unless a command failed).
pub(crate) fn error_json(message: &str, code: Option<i64>) -> Value {
    let detail = match code.filter(|c| *c != 0).or_else(|| error_code(message)) {
        Some(code) => json!({ "code": code, "message": message }),
        None => json!({ "message": message }),
    };
    json!({ "errorDetail": detail, "error": message })
}

/// `POST /build`.
pub async fn build(ctx: &Ctx, q: &Query, req: Request<Incoming>) -> ApiResult {
    let mut opts = options(q)?;
    opts.registry_auth = registry_config(req.headers());
    let quiet = q.bool("q");
    let reader = BodyReader::spawn(req.into_body());
    let (tx, mut rx) = mpsc::channel::<BuildMessage>(64);
    let engine = ctx.engine.clone();
    let task = tokio::spawn(async move { engine.build(opts, Box::new(reader), tx).await });

    // Hold the answer until there is something to write: an error before
    // any output is an HTTP error, as in dockerd.
    let mut held: Vec<BuildMessage> = Vec::new();
    let first = loop {
        match rx.recv().await {
            Some(m) if quiet => held.push(m),
            Some(m) => break Some(m),
            None => break None,
        }
    };
    let (out_tx, out_rx) = mpsc::channel::<std::io::Result<Bytes>>(64);
    match first {
        None => {
            // The build is over (every sender is gone) without visible output.
            let result = join(task).await;
            match result {
                Err(e) if held.is_empty() => return Err(e.into()),
                result => {
                    let mut frames: Vec<Bytes> = Vec::new();
                    finish(result, quiet, &held, &mut |b| frames.push(b));
                    tokio::spawn(async move {
                        for f in frames {
                            if out_tx.send(Ok(f)).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        }
        Some(first) => {
            tokio::spawn(async move {
                let mut gone = out_tx.send(Ok(frame(&message_json(&first)))).await.is_err();
                while !gone {
                    // A client that goes away while nothing is printed (a
                    // long quiet RUN) is noticed too: its body is dropped.
                    let next = tokio::select! {
                        m = rx.recv() => m,
                        _ = out_tx.closed() => {
                            gone = true;
                            break;
                        }
                    };
                    match next {
                        Some(m) => gone = out_tx.send(Ok(frame(&message_json(&m)))).await.is_err(),
                        None => break,
                    }
                }
                if gone {
                    // The client went away: close the progress channel (the engine sees a
                    // closed channel) and let the build end on its own.
                    drop(rx);
                    tracing::info!("build: the client disconnected");
                    if let Err(e) = join(task).await {
                        tracing::info!("build without a client failed: {}", e.message);
                    }
                    return;
                }
                let result = join(task).await;
                let mut frames: Vec<Bytes> = Vec::new();
                finish(result, false, &[], &mut |b| frames.push(b));
                for f in frames {
                    let _ = out_tx.send(Ok(f)).await;
                }
            });
        }
    }
    Ok(with_body(
        StatusCode::OK,
        "application/json",
        channel(out_rx),
    ))
}

async fn join(
    task: tokio::task::JoinHandle<Result<String, EngineError>>,
) -> Result<String, EngineError> {
    match task.await {
        Ok(r) => r,
        Err(e) => Err(EngineError::system(format!("build task failed: {e}"))),
    }
}

/// The closing messages: in quiet mode the image ID as a stream message (or,
/// on failure, the held output then the error); otherwise the error, if any.
fn finish(
    result: Result<String, EngineError>,
    quiet: bool,
    held: &[BuildMessage],
    emit: &mut dyn FnMut(Bytes),
) {
    match result {
        Ok(id) => {
            if quiet {
                emit(frame(&json!({ "stream": format!("{id}\n") })));
            }
        }
        Err(e) => {
            tracing::debug!("build failed: {}", e.message);
            for m in held {
                emit(frame(&message_json(m)));
            }
            emit(frame(&error_json(&e.message, e.code)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_docker_cli_query() {
        let q = Query::parse(Some(
            "t=a%3A1&t=b&dockerfile=sub%2FDf&buildargs=%7B%22A%22%3A%22x%22%2C%22B%22%3Anull%7D&labels=%7B%22k%22%3A%22v%22%7D&nocache=1&pull=1&rm=0&networkmode=host&target=build&memory=0&cachefrom=%5B%5D&shmsize=0",
        ));
        let o = options(&q).unwrap();
        assert_eq!(o.tags, vec!["a:1", "b"]);
        assert_eq!(o.dockerfile, "sub/Df");
        assert_eq!(o.build_args["A"].as_deref(), Some("x"));
        assert_eq!(o.build_args["B"], None);
        assert_eq!(o.labels["k"], "v");
        assert!(o.no_cache && o.pull && !o.remove && !o.force_remove);
        assert_eq!(o.network_mode, "host");
        assert_eq!(o.target.as_deref(), Some("build"));
    }

    #[test]
    fn rm_defaults_to_true_and_forcerm_implies_it() {
        assert!(options(&Query::parse(None)).unwrap().remove);
        assert!(options(&Query::parse(Some("rm="))).unwrap().remove);
        let o = options(&Query::parse(Some("rm=0&forcerm=1"))).unwrap();
        assert!(o.remove && o.force_remove);
    }

    #[test]
    fn rejects_buildkit_and_bad_json() {
        assert!(options(&Query::parse(Some("version=2"))).is_err());
        let e = options(&Query::parse(Some("version=3"))).unwrap_err();
        assert_eq!(e.message, "invalid version \"3\"");
        assert!(options(&Query::parse(Some("version=1"))).is_ok());
        assert!(options(&Query::parse(Some("buildargs=notjson"))).is_err());
    }

    #[test]
    fn errors_carry_the_exit_code() {
        let m = "The command '/bin/sh -c exit 3' returned a non-zero code: 3";
        assert_eq!(
            error_json(m, None),
            json!({"errorDetail": {"code": 3, "message": m}, "error": m})
        );
        assert_eq!(
            error_json("x", Some(5)),
            json!({"errorDetail": {"code": 5, "message": "x"}, "error": "x"})
        );
        assert_eq!(
            error_json("pull access denied", None),
            json!({"errorDetail": {"message": "pull access denied"}, "error": "pull access denied"})
        );
        assert_eq!(
            &frame(&json!({"stream": "x"}))[..],
            b"{\"stream\":\"x\"}\r\n"
        );
    }
}
