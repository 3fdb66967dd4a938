//! One probe: the healthcheck command run as an exec of the container
//! (`exec_create`/`exec_start`/`exec_die` events, the container's user,
//! environment, working directory, namespaces, cgroup and confinement, as
//! dockerd runs it), its output collected, killed when it runs too long or
//! monitoring stops.

use std::sync::Arc;
use std::time::Duration;

use berth_runtime::attach::{Decoder, KIND_EXIT, KIND_STDERR, KIND_STDOUT};
use chrono::Utc;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::config::Probe;
use super::output::LimitedBuffer;
use super::state::ProbeResult;
use crate::container::Container;
use crate::exec::{forget_exec, ExecConfig, ExecStarted};
use crate::Engine;

/// How long a killed probe may take to report its exit before it is left to its shim.
const KILLED_GRACE: Duration = Duration::from_secs(5);

/// The output and exit code read from a probe's attach stream (`None`: the
/// stream ended without an exit frame).
type Read = (LimitedBuffer, Option<i32>);

/// Read the probe's output frames until its exit frame or the end of the stream.
async fn read_output(stream: std::os::unix::net::UnixStream) -> std::io::Result<Read> {
    stream.set_nonblocking(true)?;
    let mut stream = tokio::net::UnixStream::from_std(stream)?;
    let mut decoder = Decoder::default();
    let mut out = LimitedBuffer::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some((kind, payload)) = decoder
            .next_frame()
            .map_err(|e| std::io::Error::other(e.to_string()))?
        {
            match kind {
                KIND_STDOUT | KIND_STDERR => out.write(&payload),
                KIND_EXIT => {
                    let code = payload
                        .get(..4)
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map(i32::from_be_bytes);
                    return Ok((out, code));
                }
                _ => {}
            }
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok((out, None));
        }
        decoder.push(&buf[..n]);
    }
}

/// How a probe's wait ended.
enum Ended {
    Read(std::io::Result<Read>),
    TimedOut,
    Stopped,
}

impl Engine {
    /// Run one probe of `c`; `None` when `stop` closed meanwhile (the
    /// probe was killed and its result does not count).
    pub(super) async fn run_probe(
        self: &Arc<Self>,
        c: &Arc<Container>,
        probe: &Probe,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<ProbeResult> {
        let start = Utc::now();
        let failed = |output: String| ProbeResult {
            start,
            end: Utc::now(),
            exit_code: -1,
            output,
        };
        let config = ExecConfig {
            attach_stdout: true,
            attach_stderr: true,
            cmd: Some(probe.cmd.clone()),
            ..ExecConfig::default()
        };
        let exec_id = match self.exec_create(&c.id, config).await {
            Ok(id) => id,
            Err(e) => return Some(failed(e.message)),
        };
        let conn = match self.exec_start(&exec_id, false).await {
            Ok(ExecStarted::Attached(conn)) => conn,
            Ok(ExecStarted::Failed(text)) => {
                forget_exec(&exec_id);
                return Some(failed(text));
            }
            Ok(ExecStarted::Detached) => {
                forget_exec(&exec_id);
                return Some(failed("the probe started detached".into()));
            }
            Err(e) => {
                forget_exec(&exec_id);
                return Some(failed(e.message));
            }
        };
        let read = read_output(conn.stream);
        tokio::pin!(read);
        let ended = tokio::select! {
            r = &mut read => Ended::Read(r),
            _ = tokio::time::sleep(probe.timeout) => Ended::TimedOut,
            _ = stop.changed() => Ended::Stopped,
        };
        let result = match ended {
            Ended::Read(r) => {
                let (out, code) = match r {
                    Ok((out, code)) => (out, code),
                    Err(e) => {
                        tracing::debug!(id = %c.id, "reading a probe's output: {e}");
                        (LimitedBuffer::default(), None)
                    }
                };
                let code = match code {
                    Some(code) => Some(code),
                    None => self.recorded_exit(c, &exec_id).await,
                };
                match code {
                    Some(code) => {
                        self.exec_exited(&exec_id, code);
                        Some(ProbeResult {
                            start,
                            end: Utc::now(),
                            exit_code: i64::from(code),
                            output: out.into_string(),
                        })
                    }
                    None => Some(failed(format!(
                        "healthcheck for container {} has no exit code!",
                        c.id
                    ))),
                }
            }
            Ended::TimedOut | Ended::Stopped => {
                self.kill_probe(c, &exec_id).await;
                // Wait for the killed probe to report, so that probes never pile up.
                if let Ok(Ok((_, Some(code)))) = tokio::time::timeout(KILLED_GRACE, read).await {
                    self.exec_exited(&exec_id, code);
                }
                matches!(ended, Ended::TimedOut).then(|| {
                    tracing::debug!(id = %c.id, "health check taking too long");
                    failed(format!(
                        "Health check exceeded timeout ({})",
                        crate::build::gofmt::duration(
                            i64::try_from(probe.timeout.as_nanos()).unwrap_or(i64::MAX)
                        )
                    ))
                })
            }
        };
        forget_exec(&exec_id);
        result
    }

    /// The exit code the exec's shim recorded, if any.
    async fn recorded_exit(&self, c: &Container, exec_id: &str) -> Option<i32> {
        let dir = c.dir.clone();
        let id = exec_id.to_string();
        crate::blocking(move || Ok(berth_runtime::read_exec_exit(&dir, &id).ok().flatten()))
            .await
            .ok()
            .flatten()
            .map(|e| e.exit_code)
    }

    /// SIGKILL the probe's process group.
    async fn kill_probe(&self, c: &Container, exec_id: &str) {
        let dir = c.dir.clone();
        let id = exec_id.to_string();
        let res = crate::blocking(move || {
            berth_runtime::kill_exec_group(&dir, &id, libc::SIGKILL)
                .map_err(|e| crate::error::EngineError::system(e.to_string()))
        })
        .await;
        if let Err(e) = res {
            tracing::warn!(id = %c.id, "killing a probe: {e}");
        }
    }
}
