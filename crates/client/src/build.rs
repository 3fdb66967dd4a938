//! `POST /build`: the classic builder's endpoint. The request body is the
//! build context (a tar stream, possibly compressed, or a bare Dockerfile);
//! the answer is a stream of JSON messages (`stream`, `aux`, and a final
//! `errorDetail` with the failed command's exit code).

use std::collections::BTreeMap;

use hyper::Method;
use serde::Deserialize;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::jsonstream::JsonStreamDecoder;
use crate::query::Query;
use crate::transport::{RawStream, ReqBody};

/// Options of `POST /build`, sent as the query parameters the docker CLI
/// 20.10 sends for its classic builder.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Names to tag the result with (`t`, repeated).
    pub tags: Vec<String>,
    /// Path of the Dockerfile inside the context (`dockerfile`); empty = default.
    pub dockerfile: String,
    /// Build arguments (`buildargs`); `None` values are sent as JSON null.
    pub build_args: BTreeMap<String, Option<String>>,
    /// Labels to set on the image (`labels`).
    pub labels: BTreeMap<String, String>,
    /// Stage to stop at (`target`).
    pub target: Option<String>,
    /// Do not use the cache (`nocache`).
    pub no_cache: bool,
    /// Always try to pull newer base images (`pull`).
    pub pull: bool,
    /// Suppress the build output (`q`).
    pub quiet: bool,
    /// Remove intermediate containers after a successful build (`rm`).
    pub remove: bool,
    /// Always remove intermediate containers (`forcerm`).
    pub force_remove: bool,
    /// Network mode of RUN steps (`networkmode`); empty = default.
    pub network_mode: String,
}

impl BuildOptions {
    /// The query string (without `?`) for these options.
    pub fn query(&self) -> Query {
        let mut q = Query::new();
        for t in &self.tags {
            q.push("t", t);
        }
        q.push("rm", if self.remove { "1" } else { "0" });
        q.flag("forcerm", self.force_remove)
            .flag("nocache", self.no_cache)
            .flag("pull", self.pull)
            .flag("q", self.quiet);
        if !self.dockerfile.is_empty() {
            q.push("dockerfile", &self.dockerfile);
        }
        if !self.network_mode.is_empty() {
            q.push("networkmode", &self.network_mode);
        }
        if let Some(t) = self.target.as_deref().filter(|t| !t.is_empty()) {
            q.push("target", t);
        }
        if !self.build_args.is_empty() {
            q.push(
                "buildargs",
                serde_json::to_string(&self.build_args).unwrap_or_default(),
            );
        }
        if !self.labels.is_empty() {
            q.push(
                "labels",
                serde_json::to_string(&self.labels).unwrap_or_default(),
            );
        }
        q
    }
}

/// The error a build message carries (`errorDetail`/`error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFailure {
    /// The failed command's exit code (0 when the daemon gave none).
    pub code: i64,
    /// Docker's message.
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireDetail {
    code: i64,
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireMessage {
    stream: Option<String>,
    status: Option<String>,
    id: Option<String>,
    progress: Option<String>,
    #[serde(rename = "progressDetail")]
    progress_detail: Option<crate::message::JsonProgress>,
    aux: Option<serde_json::Value>,
    error: Option<String>,
    #[serde(rename = "errorDetail")]
    error_detail: Option<WireDetail>,
}

/// One decoded message of a build stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildMessage {
    /// Text to print as is (`{"stream": ...}`).
    pub stream: Option<String>,
    /// A status line (pull progress of `FROM` with `--pull`).
    pub status: Option<String>,
    /// The status line's object ID.
    pub id: Option<String>,
    /// The progress bar text of a status line.
    pub progress: Option<String>,
    /// The numbers behind that bar (`progressDetail`).
    pub progress_detail: Option<crate::message::JsonProgress>,
    /// Auxiliary data, e.g. `{"ID": "sha256:..."}`.
    pub aux: Option<serde_json::Value>,
    /// Set when the build failed.
    pub error: Option<BuildFailure>,
}

impl BuildMessage {
    /// The image ID carried by an `aux` message, if any.
    pub fn image_id(&self) -> Option<&str> {
        self.aux.as_ref()?.get("ID")?.as_str()
    }
}

impl From<WireMessage> for BuildMessage {
    fn from(w: WireMessage) -> Self {
        let error = match (w.error_detail, w.error) {
            (Some(d), e) if !d.message.is_empty() || e.is_some() => Some(BuildFailure {
                code: d.code,
                message: if d.message.is_empty() {
                    e.unwrap_or_default()
                } else {
                    d.message
                },
            }),
            (_, Some(e)) => Some(BuildFailure {
                code: 0,
                message: e,
            }),
            _ => None,
        };
        BuildMessage {
            stream: w.stream,
            status: w.status,
            id: w.id,
            progress: w.progress,
            progress_detail: w.progress_detail,
            aux: w.aux,
            error,
        }
    }
}

/// Incremental decoder of a build's JSON-message stream (messages may be
/// separated by newlines or by nothing).
#[derive(Debug, Default)]
pub struct BuildDecoder {
    inner: JsonStreamDecoder<WireMessage>,
}

impl BuildDecoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.inner.push(chunk);
    }

    /// The next complete message, if one is buffered.
    pub fn next_message(&mut self) -> Result<Option<BuildMessage>> {
        Ok(self.inner.next_message()?.map(BuildMessage::from))
    }

    /// Whether unparsed bytes remain.
    pub fn has_pending(&self) -> bool {
        self.inner.has_pending()
    }
}

/// The answer of `POST /build`: messages as they arrive.
pub struct BuildStream {
    body: RawStream,
    decoder: BuildDecoder,
    done: bool,
}

impl BuildStream {
    /// The next message (errors are returned as messages with `error` set,
    /// so the caller sees the exit code); `None` at the end.
    pub async fn next(&mut self) -> Result<Option<BuildMessage>> {
        loop {
            if let Some(msg) = self.decoder.next_message()? {
                return Ok(Some(msg));
            }
            if self.done {
                if self.decoder.has_pending() {
                    return Err(ClientError::Protocol(
                        "truncated JSON message at end of build stream".into(),
                    ));
                }
                return Ok(None);
            }
            match self.body.next_chunk().await? {
                Some(chunk) => self.decoder.push(&chunk),
                None => self.done = true,
            }
        }
    }
}

impl Client {
    /// `POST /build` with `context` as the body (a tar stream, possibly
    /// compressed, or a bare Dockerfile). Error statuses (a bad Dockerfile,
    /// a missing base image before any output) are [`ClientError::Daemon`].
    pub async fn image_build(&self, context: ReqBody, opts: &BuildOptions) -> Result<BuildStream> {
        let path = opts.query().apply("/build");
        let resp = self
            .request(
                Method::POST,
                &path,
                context,
                &[("Content-Type", "application/x-tar")],
            )
            .await?;
        Ok(BuildStream {
            body: RawStream::Body(resp.into_body()),
            decoder: BuildDecoder::new(),
            done: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_has_docker_parameters() {
        let mut opts = BuildOptions {
            tags: vec!["a:1".into(), "b".into()],
            dockerfile: "sub/Dockerfile".into(),
            remove: true,
            no_cache: true,
            target: Some("build".into()),
            ..Default::default()
        };
        opts.build_args.insert("A".into(), Some("x y".into()));
        opts.build_args.insert("B".into(), None);
        let q = opts.query().apply("/build");
        assert!(q.starts_with("/build?t=a%3A1&t=b&rm=1&nocache=1&dockerfile=sub%2FDockerfile"));
        assert!(q.contains("&target=build"));
        assert!(q.contains("&buildargs=%7B%22A%22%3A%22x%20y%22%2C%22B%22%3Anull%7D"));
        assert!(!q.contains("forcerm"));
        assert!(!q.contains("labels"));
        let q = BuildOptions::default().query().apply("/build");
        assert_eq!(q, "/build?rm=0");
    }

    #[test]
    fn decodes_stream_aux_and_errors() {
        let wire = br#"{"stream":"Step 1/2 : FROM x"}{"stream":"\n"}
{"aux":{"ID":"sha256:abc"}}
{"errorDetail":{"code":3,"message":"The command '/bin/sh -c exit 3' returned a non-zero code: 3"},"error":"The command '/bin/sh -c exit 3' returned a non-zero code: 3"}
{"error":"plain"}"#;
        let mut d = BuildDecoder::new();
        let mut got = Vec::new();
        for c in wire.chunks(7) {
            d.push(c);
            while let Some(m) = d.next_message().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 5);
        assert_eq!(got[0].stream.as_deref(), Some("Step 1/2 : FROM x"));
        assert_eq!(got[2].image_id(), Some("sha256:abc"));
        let e = got[3].error.as_ref().unwrap();
        assert_eq!(e.code, 3);
        assert!(e.message.ends_with("non-zero code: 3"));
        assert_eq!(
            got[4].error,
            Some(BuildFailure {
                code: 0,
                message: "plain".into()
            })
        );
        assert!(!d.has_pending());
    }
}
