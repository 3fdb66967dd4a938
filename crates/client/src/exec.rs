//! The interactive endpoints: attach with stdin, resize, and `/exec`
//! (create, start hijacked or detached, inspect, resize).

use hyper::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::query::{encode, Query};
use crate::transport::{full_body, read_body, RawStream};

/// Options of `POST /containers/{id}/attach`.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Send the local stdin to the container (`stdin=1`).
    pub stdin: bool,
    /// Receive stdout (`stdout=1`).
    pub stdout: bool,
    /// Receive stderr (`stderr=1`).
    pub stderr: bool,
    /// Replay the logs first (`logs=1`).
    pub logs: bool,
    /// Detach key sequence (`detachKeys=`), docker's syntax.
    pub detach_keys: Option<String>,
}

/// Body of `POST /containers/{id}/exec` (Docker's `ExecConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    /// Run as this user (`name|uid[:group|gid]`); empty: the container's.
    pub user: String,
    /// Give extended privileges.
    pub privileged: bool,
    /// Allocate a pseudo-terminal.
    pub tty: bool,
    /// Attach stdin.
    pub attach_stdin: bool,
    /// Attach stderr.
    pub attach_stderr: bool,
    /// Attach stdout.
    pub attach_stdout: bool,
    /// Detach key sequence.
    pub detach_keys: String,
    /// Extra environment (`K=V`).
    pub env: Vec<String>,
    /// Working directory; empty: the container's.
    pub working_dir: String,
    /// The command.
    pub cmd: Vec<String>,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecStartConfig {
    /// Start without attaching.
    pub detach: bool,
    /// The exec has a TTY (raw stream instead of multiplexed frames).
    pub tty: bool,
}

/// `GET /exec/{id}/json` (the fields the CLI reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ExecInspect {
    /// Exec ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Whether the process still runs.
    #[serde(rename = "Running")]
    pub running: bool,
    /// Exit code once it ended (`null` before).
    #[serde(rename = "ExitCode")]
    pub exit_code: Option<i64>,
    /// The container it runs in.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// Host PID of the process (0 when not running).
    #[serde(rename = "Pid")]
    pub pid: i64,
    /// Whether stdin is open.
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(rename = "Id")]
    id: String,
}

fn resize_query(path: &str, height: u16, width: u16) -> String {
    let mut q = Query::new();
    q.push("h", height.to_string()).push("w", width.to_string());
    q.apply(path)
}

impl Client {
    /// `POST /containers/{id}/attach?stream=1&stdin=&stdout=&stderr=&logs=&detachKeys=`,
    /// hijacked: the returned stream reads output and (when upgraded)
    /// takes stdin writes.
    pub async fn container_attach_with(&self, id: &str, o: &AttachOptions) -> Result<RawStream> {
        let mut q = Query::new();
        q.flag("logs", o.logs)
            .push("stream", "1")
            .flag("stdin", o.stdin)
            .flag("stdout", o.stdout)
            .flag("stderr", o.stderr)
            .opt("detachKeys", o.detach_keys.as_deref());
        self.hijack(&q.apply(&format!("/containers/{}/attach", encode(id))))
            .await
    }

    /// `POST /containers/{id}/resize?h=&w=`.
    pub async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let path = resize_query(&format!("/containers/{}/resize", encode(id)), height, width);
        self.call(Method::POST, &path).await?;
        Ok(())
    }

    /// `POST /containers/{id}/exec`: the new exec's ID.
    pub async fn exec_create(&self, container: &str, config: &ExecConfig) -> Result<String> {
        let resp: IdOnly = self
            .post_json(&format!("/containers/{}/exec", encode(container)), config)
            .await?;
        Ok(resp.id)
    }

    /// `POST /exec/{id}/start` with `{"Detach":false,"Tty":tty}` as a
    /// connection upgrade; the stream carries output down and stdin up.
    pub async fn exec_start(&self, id: &str, tty: bool) -> Result<RawStream> {
        let body = serde_json::to_vec(&ExecStartConfig { detach: false, tty })?;
        self.hijack_with(
            &format!("/exec/{}/start", encode(id)),
            full_body(body),
            &[("Content-Type", "application/json")],
        )
        .await
    }

    /// `POST /exec/{id}/start` with `{"Detach":true}`.
    pub async fn exec_start_detached(&self, id: &str, tty: bool) -> Result<()> {
        let body = serde_json::to_vec(&ExecStartConfig { detach: true, tty })?;
        let resp = self
            .request(
                Method::POST,
                &format!("/exec/{}/start", encode(id)),
                full_body(body),
                &[("Content-Type", "application/json")],
            )
            .await?;
        drop(read_body(resp).await?);
        Ok(())
    }

    /// `GET /exec/{id}/json`.
    pub async fn exec_inspect(&self, id: &str) -> Result<ExecInspect> {
        self.get_json(&format!("/exec/{}/json", encode(id))).await
    }

    /// `POST /exec/{id}/resize?h=&w=`.
    pub async fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let path = resize_query(&format!("/exec/{}/resize", encode(id)), height, width);
        self.call(Method::POST, &path).await?;
        Ok(())
    }
}

/// Split a hijacked stream into its read and write halves; `None` for a
/// plain response body (the daemon did not upgrade: no stdin possible).
pub fn split_upgraded(
    stream: RawStream,
) -> std::result::Result<(UpgradedRead, UpgradedWrite), RawStream> {
    match stream {
        RawStream::Upgraded(io) => {
            let (r, w) = tokio::io::split(*io);
            Ok((UpgradedRead(r), UpgradedWrite(w)))
        }
        other => Err(other),
    }
}

type Io = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

/// The read half of a hijacked connection.
pub struct UpgradedRead(tokio::io::ReadHalf<Io>);

/// The write half of a hijacked connection.
pub struct UpgradedWrite(tokio::io::WriteHalf<Io>);

impl UpgradedRead {
    /// The next chunk; `None` at end of stream.
    pub async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>> {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 32 * 1024];
        let n = self.0.read(&mut buf).await.map_err(|e| ClientError::Io {
            context: "read attached stream".into(),
            source: e,
        })?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(bytes::Bytes::from(buf)))
    }
}

impl UpgradedWrite {
    /// Write all of `data` (stdin for the container).
    pub async fn write_all(&mut self, data: &[u8]) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        self.0.write_all(data).await.map_err(|e| ClientError::Io {
            context: "write stdin to attached stream".into(),
            source: e,
        })?;
        self.0.flush().await.map_err(|e| ClientError::Io {
            context: "write stdin to attached stream".into(),
            source: e,
        })
    }

    /// Half-close: the container sees end of input (docker's CloseWrite).
    pub async fn close_write(&mut self) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        self.0.shutdown().await.map_err(|e| ClientError::Io {
            context: "close stdin of attached stream".into(),
            source: e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_config_is_dockers_json() {
        let c = ExecConfig {
            tty: true,
            attach_stdin: true,
            cmd: vec!["sh".into()],
            working_dir: "/tmp".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["Tty"], true);
        assert_eq!(v["AttachStdin"], true);
        assert_eq!(v["Cmd"][0], "sh");
        assert_eq!(v["WorkingDir"], "/tmp");
        let s = serde_json::to_string(&ExecStartConfig {
            detach: false,
            tty: true,
        })
        .unwrap();
        assert_eq!(s, r#"{"Detach":false,"Tty":true}"#);
    }

    #[test]
    fn exec_inspect_decodes_null_exit_code() {
        let i: ExecInspect =
            serde_json::from_str(r#"{"ID":"a","Running":true,"ExitCode":null,"Pid":5}"#).unwrap();
        assert!(i.running);
        assert_eq!(i.exit_code, None);
        let i: ExecInspect = serde_json::from_str(r#"{"ExitCode":126}"#).unwrap();
        assert_eq!(i.exit_code, Some(126));
    }

    #[test]
    fn resize_query_has_h_and_w() {
        assert_eq!(resize_query("/x", 40, 120), "/x?h=40&w=120");
    }
}
