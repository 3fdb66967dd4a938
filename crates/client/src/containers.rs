//! Typed helpers for the `/containers` endpoints and `/commit`.

use berth_spec::api::{
    ChangeItem, ContainerConfig, ContainerCreateRequest, ContainerCreateResponse, ContainerInspect,
    ContainerSummary, IdResponse, PruneResponse, TopResponse, WaitResponse,
};
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::query::{encode, Filters, Query};
use crate::transport::{empty_body, full_body, read_body, RawStream, ReqBody};

/// Options of `GET /containers/json`.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Only the last N created.
    pub limit: Option<i64>,
    /// Compute sizes.
    pub size: bool,
    /// `--filter` values.
    pub filters: Filters,
}

/// Options of `GET /containers/{id}/logs`.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Keep streaming.
    pub follow: bool,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: bool,
    /// Lines from the end (`all` or a number).
    pub tail: Option<String>,
    /// Unix time (`secs.nanos`) lower bound.
    pub since: Option<String>,
    /// Unix time (`secs.nanos`) upper bound.
    pub until: Option<String>,
}

/// Options of `POST /commit`.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Container name or ID.
    pub container: String,
    /// Repository of the new image (may be empty).
    pub repo: String,
    /// Tag of the new image (may be empty).
    pub tag: String,
    /// Commit message.
    pub comment: String,
    /// Author.
    pub author: String,
    /// Dockerfile instructions (`-c`).
    pub changes: Vec<String>,
    /// Pause while committing.
    pub pause: bool,
}

/// `X-Docker-Container-Path-Stat`: what the archive endpoints say about a
/// path in a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (directory is 1<<31, symlink 1<<27).
    pub mode: u32,
    /// Modification time, RFC 3339.
    pub mtime: String,
    /// Symlink target, when a symlink.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    /// Whether the path is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }
}

/// A `wait` request whose headers arrived (the daemon registered the wait);
/// [`WaitHandle::result`] waits for the exit.
pub struct WaitHandle {
    resp: Response<Incoming>,
}

impl WaitHandle {
    /// Wait for the answer.
    pub async fn result(self) -> Result<WaitResponse> {
        let body = read_body(self.resp).await?;
        Ok(serde_json::from_slice(&body)?)
    }
}

fn cpath(id: &str, rest: &str) -> String {
    format!("/containers/{}{}", encode(id), rest)
}

impl Client {
    /// `GET /containers/json`.
    pub async fn containers_list(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>> {
        let mut q = Query::new();
        q.flag("all", opts.all)
            .opt("limit", opts.limit.map(|l| l.to_string()))
            .flag("size", opts.size)
            .filters(&opts.filters);
        self.get_json(&q.apply("/containers/json")).await
    }

    /// `POST /containers/create`.
    pub async fn container_create(
        &self,
        req: &ContainerCreateRequest,
        name: Option<&str>,
    ) -> Result<ContainerCreateResponse> {
        let mut q = Query::new();
        q.opt("name", name);
        self.post_json(&q.apply("/containers/create"), req).await
    }

    /// `POST /containers/{id}/start`; `false` when it was already running.
    pub async fn container_start(&self, id: &str) -> Result<bool> {
        let (status, _) = self.call(Method::POST, &cpath(id, "/start")).await?;
        Ok(status != StatusCode::NOT_MODIFIED)
    }

    /// `POST /containers/{id}/stop?t=`; `false` when already stopped.
    pub async fn container_stop(&self, id: &str, timeout: Option<i64>) -> Result<bool> {
        let mut q = Query::new();
        q.opt("t", timeout.map(|t| t.to_string()));
        let (status, _) = self
            .call(Method::POST, &q.apply(&cpath(id, "/stop")))
            .await?;
        Ok(status != StatusCode::NOT_MODIFIED)
    }

    /// `POST /containers/{id}/restart?t=`.
    pub async fn container_restart(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let mut q = Query::new();
        q.opt("t", timeout.map(|t| t.to_string()));
        self.call(Method::POST, &q.apply(&cpath(id, "/restart")))
            .await?;
        Ok(())
    }

    /// `POST /containers/{id}/kill?signal=`.
    pub async fn container_kill(&self, id: &str, signal: Option<&str>) -> Result<()> {
        let mut q = Query::new();
        q.opt("signal", signal);
        self.call(Method::POST, &q.apply(&cpath(id, "/kill")))
            .await?;
        Ok(())
    }

    /// `DELETE /containers/{id}?force&v`.
    pub async fn container_remove(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let mut q = Query::new();
        q.flag("force", force).flag("v", volumes);
        self.call(Method::DELETE, &q.apply(&cpath(id, ""))).await?;
        Ok(())
    }

    /// Start `POST /containers/{id}/wait?condition=`; returns once the
    /// daemon has accepted it, so an exit after this point is not missed.
    pub async fn container_wait_begin(
        &self,
        id: &str,
        condition: Option<&str>,
    ) -> Result<WaitHandle> {
        let mut q = Query::new();
        q.opt("condition", condition);
        let resp = self
            .request(
                Method::POST,
                &q.apply(&cpath(id, "/wait")),
                empty_body(),
                &[],
            )
            .await?;
        Ok(WaitHandle { resp })
    }

    /// `POST /containers/{id}/wait` to completion.
    pub async fn container_wait(&self, id: &str, condition: Option<&str>) -> Result<WaitResponse> {
        self.container_wait_begin(id, condition)
            .await?
            .result()
            .await
    }

    /// `GET /containers/{id}/json` as raw JSON (for templates).
    pub async fn container_inspect_raw(&self, id: &str, size: bool) -> Result<Value> {
        let mut q = Query::new();
        q.flag("size", size);
        self.get_json(&q.apply(&cpath(id, "/json"))).await
    }

    /// `GET /containers/{id}/json`.
    pub async fn container_inspect(&self, id: &str) -> Result<ContainerInspect> {
        self.get_json(&cpath(id, "/json")).await
    }

    /// `GET /containers/{id}/logs` (stdout and stderr) as a stream.
    pub async fn container_logs(&self, id: &str, opts: &LogsOptions) -> Result<RawStream> {
        let mut q = Query::new();
        q.push("stdout", "1")
            .push("stderr", "1")
            .flag("follow", opts.follow)
            .flag("timestamps", opts.timestamps)
            .opt("tail", opts.tail.as_deref())
            .opt("since", opts.since.as_deref())
            .opt("until", opts.until.as_deref());
        self.stream(Method::GET, &q.apply(&cpath(id, "/logs")))
            .await
    }

    /// `POST /containers/{id}/attach?stream=1&stdout=1&stderr=1`, hijacked.
    pub async fn container_attach(
        &self,
        id: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<RawStream> {
        let mut q = Query::new();
        q.push("stream", "1")
            .flag("stdin", stdin)
            .flag("stdout", stdout)
            .flag("stderr", stderr);
        self.hijack(&q.apply(&cpath(id, "/attach"))).await
    }

    /// `POST /containers/{id}/rename?name=`.
    pub async fn container_rename(&self, id: &str, name: &str) -> Result<()> {
        let mut q = Query::new();
        q.push("name", name);
        self.call(Method::POST, &q.apply(&cpath(id, "/rename")))
            .await?;
        Ok(())
    }

    /// `GET /containers/{id}/top?ps_args=`.
    pub async fn container_top(&self, id: &str, ps_args: Option<&str>) -> Result<TopResponse> {
        let mut q = Query::new();
        q.opt("ps_args", ps_args);
        self.get_json(&q.apply(&cpath(id, "/top"))).await
    }

    /// `GET /containers/{id}/changes`.
    pub async fn container_changes(&self, id: &str) -> Result<Vec<ChangeItem>> {
        let changes: Option<Vec<ChangeItem>> = self.get_json(&cpath(id, "/changes")).await?;
        Ok(changes.unwrap_or_default())
    }

    /// `GET /containers/{id}/export` as a stream.
    pub async fn container_export(&self, id: &str) -> Result<RawStream> {
        self.stream(Method::GET, &cpath(id, "/export")).await
    }

    /// `HEAD /containers/{id}/archive?path=`.
    pub async fn archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        let mut q = Query::new();
        q.push("path", path);
        let resp = self
            .request(
                Method::HEAD,
                &q.apply(&cpath(id, "/archive")),
                empty_body(),
                &[],
            )
            .await?;
        path_stat(&resp)
    }

    /// `GET /containers/{id}/archive?path=`: the stat and the tar stream.
    pub async fn archive_get(&self, id: &str, path: &str) -> Result<(PathStat, RawStream)> {
        let mut q = Query::new();
        q.push("path", path);
        let resp = self
            .request(
                Method::GET,
                &q.apply(&cpath(id, "/archive")),
                empty_body(),
                &[],
            )
            .await?;
        let stat = path_stat(&resp)?;
        Ok((stat, RawStream::Body(resp.into_body())))
    }

    /// `PUT /containers/{id}/archive?path=` with a tar body.
    pub async fn archive_put(
        &self,
        id: &str,
        path: &str,
        body: ReqBody,
        no_overwrite_dir_non_dir: bool,
    ) -> Result<()> {
        let mut q = Query::new();
        q.push("path", path)
            .flag("noOverwriteDirNonDir", no_overwrite_dir_non_dir);
        let resp = self
            .request(
                Method::PUT,
                &q.apply(&cpath(id, "/archive")),
                body,
                &[("Content-Type", "application/x-tar")],
            )
            .await?;
        drop(read_body(resp).await?);
        Ok(())
    }

    /// `POST /containers/prune`.
    pub async fn containers_prune(&self, filters: &Filters) -> Result<PruneResponse> {
        let mut q = Query::new();
        q.filters(filters);
        let (_, body) = self
            .call(Method::POST, &q.apply("/containers/prune"))
            .await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// `POST /commit`.
    pub async fn commit(
        &self,
        opts: &CommitOptions,
        config: Option<&ContainerConfig>,
    ) -> Result<IdResponse> {
        let mut q = Query::new();
        q.push("container", &opts.container);
        if !opts.repo.is_empty() {
            q.push("repo", &opts.repo);
        }
        if !opts.tag.is_empty() {
            q.push("tag", &opts.tag);
        }
        if !opts.comment.is_empty() {
            q.push("comment", &opts.comment);
        }
        if !opts.author.is_empty() {
            q.push("author", &opts.author);
        }
        for c in &opts.changes {
            q.push("changes", c);
        }
        if !opts.pause {
            // Docker's client only sends the parameter to turn pausing off.
            q.push("pause", "0");
        }
        let body = match config {
            Some(c) => full_body(serde_json::to_vec(c)?),
            None => empty_body(),
        };
        let resp = self
            .request(
                Method::POST,
                &q.apply("/commit"),
                body,
                &[("Content-Type", "application/json")],
            )
            .await?;
        let bytes = read_body(resp).await?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}

fn path_stat(resp: &Response<Incoming>) -> Result<PathStat> {
    let header = resp
        .headers()
        .get("x-docker-container-path-stat")
        .ok_or_else(|| {
            ClientError::Protocol("missing X-Docker-Container-Path-Stat header".into())
        })?;
    Ok(serde_json::from_slice(&decode_path_stat(
        header.as_bytes(),
    )?)?)
}

/// Decode the path-stat header: docker sends URL-safe base64; the standard
/// alphabet and missing padding are accepted too.
fn decode_path_stat(value: &[u8]) -> Result<Vec<u8>> {
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode};
    use base64::{alphabet, Engine as _};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let url_safe: Vec<u8> = value
        .iter()
        .map(|&c| match c {
            b'+' => b'-',
            b'/' => b'_',
            c => c,
        })
        .collect();
    LENIENT.decode(url_safe).map_err(|e| {
        ClientError::Protocol(format!("bad base64 in X-Docker-Container-Path-Stat: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::decode_path_stat as decode;

    #[test]
    fn path_stat_decodes_padded_and_unpadded() {
        assert_eq!(decode(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode(b"aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode(b"eyJuYW1lIjoiYSJ9").unwrap(), br#"{"name":"a"}"#);
        assert_eq!(decode(b"").unwrap(), b"");
        assert!(decode(b"a").is_err());
        assert!(decode(b"a=b=").is_err());
        assert!(decode(b"!!!!").is_err());
        // Both alphabets: 0xfb 0xff as standard and URL-safe.
        assert_eq!(decode(b"+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode(b"-_8=").unwrap(), [0xfb, 0xff]);
    }
}
