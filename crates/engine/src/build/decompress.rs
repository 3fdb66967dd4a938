//! bzip2, xz and zstd streams, decompressed by the system's `bzip2`, `xz`
//! and `zstd` tools (the workspace has no Rust crates for them; gzip is
//! handled in-process by flate2). Streaming: nothing is held in memory.

use std::io::{self, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::error::{EngineError, Result};

/// A child process's decompressed output; its exit status is checked at
/// end of stream so a corrupt input is an error, not a short read.
pub(crate) struct ToolReader {
    tool: &'static str,
    child: Child,
    stdout: ChildStdout,
    feeder: Option<std::thread::JoinHandle<io::Result<u64>>>,
}

impl Read for ToolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stdout.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(f) = self.feeder.take() {
                match f.join() {
                    Ok(Ok(_)) => {}
                    // The tool may stop reading early (e.g. trailing
                    // garbage); its own status decides below.
                    Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {}
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Err(io::Error::other("input thread panicked")),
                }
            }
            let status = self.child.wait()?;
            if !status.success() {
                return Err(io::Error::other(format!(
                    "{} failed to decompress the input ({status})",
                    self.tool
                )));
            }
        }
        Ok(n)
    }
}

impl Drop for ToolReader {
    fn drop(&mut self) {
        // A reader dropped early: stop the tool (our own child, by its handle).
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Decompress `input` with `tool -dc` (`bzip2`, `xz` or `zstd`).
pub(crate) fn with_tool(tool: &'static str, mut input: Box<dyn Read + Send>) -> Result<ToolReader> {
    let mut child = Command::new(tool)
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            EngineError::invalid(format!(
                "{tool}-compressed input needs the {tool} program, which failed to start: {e}"
            ))
        })?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(EngineError::system(format!(
            "{tool}: no pipes to the child process"
        )));
    };
    let feeder = std::thread::spawn(move || io::copy(&mut input, &mut stdin));
    Ok(ToolReader {
        tool,
        child,
        stdout,
        feeder: Some(feeder),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn compress(tool: &str, data: &[u8]) -> Vec<u8> {
        let mut child = Command::new(tool)
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = data.to_vec();
        let t = std::thread::spawn(move || stdin.write_all(&data).unwrap());
        let out = child.wait_with_output().unwrap();
        t.join().unwrap();
        out.stdout
    }

    #[test]
    fn round_trips_through_the_tools() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for tool in ["bzip2", "xz", "zstd"] {
            let packed = compress(tool, &data);
            let mut r = with_tool(tool, Box::new(std::io::Cursor::new(packed))).unwrap();
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data, "{tool}");
            // Corrupt input is an error, not a short stream.
            let mut r =
                with_tool(tool, Box::new(std::io::Cursor::new(b"garbage".to_vec()))).unwrap();
            assert!(r.read_to_end(&mut Vec::new()).is_err(), "{tool}");
        }
    }
}
