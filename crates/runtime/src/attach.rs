//! The attach protocol between a shim and its clients, and a blocking client.
//!
//! A shim serves `<dir>/attach.sock` (unix stream; `<dir>` is the container
//! directory, or `<container dir>/exec/<exec id>` for an exec). Any number of
//! clients may be connected; every output chunk of the process goes to all of
//! them (and, for a container, to its json-file log).
//!
//! Every message in both directions is one frame: 1 byte kind, 4 bytes
//! big-endian payload length, payload (at most [`MAX_FRAME`] bytes).
//!
//! Client → shim:
//! - [`KIND_ATTACH`] (first frame of a connection to `attach.sock`): payload
//!   one byte of flags, [`FLAG_STDIN`] | [`FLAG_STDOUT`] | [`FLAG_STDERR`]:
//!   which streams this client uses. Until it arrives the client receives
//!   nothing and its stdin frames are ignored. A client handed over by
//!   [`crate::spawn_shim_attached`] / [`crate::spawn_exec_shim`] gets its flags
//!   from the shim's command line and must not send it.
//! - [`KIND_STDIN`]: bytes for the process's stdin (ignored unless the process
//!   was started with `open_stdin` and the client attached with [`FLAG_STDIN`]).
//! - [`KIND_STDIN_CLOSE`]: close the process's stdin (end of file) once the
//!   bytes sent before are written. No effect with a TTY (send `0x04`, Ctrl+D).
//! - [`KIND_RESIZE`]: 4 bytes, rows then cols (u16 big-endian each): sets the
//!   TTY's window size (ignored without a TTY).
//!
//! Shim → client:
//! - [`KIND_STDOUT`], [`KIND_STDERR`]: output bytes (with a TTY everything is
//!   [`KIND_STDOUT`], raw terminal bytes).
//! - [`KIND_EXIT`]: 4 bytes, i32 big-endian: the process exited with this code
//!   (Docker's convention, 128 + signal); the shim then closes the connection.
//!   The authoritative record is still `exit.json`, written right after.
//!
//! Stdin semantics: without `open_stdin` the process's stdin is `/dev/null`.
//! With it, stdin is a pipe fed by the clients; with `stdin_once`, it is
//! closed when the first client that attached with [`FLAG_STDIN`] disconnects.
//!
//! Output is never dropped for a slow client: while a client is
//! [`CLIENT_BUFFER`] behind, the shim stops reading the process's output (the
//! process blocks, as with Docker). A client that takes nothing for 30 s, or
//! whose socket fails, is disconnected (the log still has everything).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::RuntimeError;

/// File name of the attach socket inside a container (or exec) directory.
pub const ATTACH_SOCKET: &str = "attach.sock";
/// Largest payload of one frame.
pub const MAX_FRAME: usize = 1 << 20;
/// How many bytes of output the shim queues for one client before it stops
/// reading the process's output until the client catches up.
pub const CLIENT_BUFFER: usize = 4 << 20;

/// Client → shim: attach flags (first frame).
pub const KIND_ATTACH: u8 = 0x00;
/// Client → shim: stdin bytes.
pub const KIND_STDIN: u8 = 0x01;
/// Client → shim: close stdin.
pub const KIND_STDIN_CLOSE: u8 = 0x02;
/// Client → shim: TTY window size.
pub const KIND_RESIZE: u8 = 0x03;
/// Shim → client: stdout bytes.
pub const KIND_STDOUT: u8 = 0x11;
/// Shim → client: stderr bytes.
pub const KIND_STDERR: u8 = 0x12;
/// Shim → client: exit code.
pub const KIND_EXIT: u8 = 0x13;

/// Attach flag: the client sends stdin.
pub const FLAG_STDIN: u8 = 1;
/// Attach flag: the client receives stdout.
pub const FLAG_STDOUT: u8 = 2;
/// Attach flag: the client receives stderr.
pub const FLAG_STDERR: u8 = 4;

/// Which streams a client attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachOptions {
    /// Send stdin (counts for `stdin_once`).
    pub stdin: bool,
    /// Receive stdout.
    pub stdout: bool,
    /// Receive stderr.
    pub stderr: bool,
}

impl Default for AttachOptions {
    /// Stdout and stderr, no stdin.
    fn default() -> Self {
        AttachOptions {
            stdin: false,
            stdout: true,
            stderr: true,
        }
    }
}

impl AttachOptions {
    /// All three streams.
    pub fn all() -> Self {
        AttachOptions {
            stdin: true,
            stdout: true,
            stderr: true,
        }
    }

    /// The flags byte of [`KIND_ATTACH`].
    pub fn flags(&self) -> u8 {
        let mut f = 0;
        if self.stdin {
            f |= FLAG_STDIN;
        }
        if self.stdout {
            f |= FLAG_STDOUT;
        }
        if self.stderr {
            f |= FLAG_STDERR;
        }
        f
    }

    /// Parse a flags byte.
    pub fn from_flags(f: u8) -> Self {
        AttachOptions {
            stdin: f & FLAG_STDIN != 0,
            stdout: f & FLAG_STDOUT != 0,
            stderr: f & FLAG_STDERR != 0,
        }
    }
}

/// One message received from the shim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Stdout bytes (all output with a TTY).
    Stdout(Vec<u8>),
    /// Stderr bytes.
    Stderr(Vec<u8>),
    /// The process exited with this code.
    Exit(i32),
}

/// Encode one frame.
pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Incremental frame decoder (for a non-blocking reader).
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Take the next complete frame, if any. A frame longer than
    /// [`MAX_FRAME`] is a protocol error.
    pub fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, RuntimeError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(RuntimeError::Attach(format!("frame of {len} bytes")));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((kind, payload)))
    }

    /// Bytes buffered but not yet decoded.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Connect to the unix socket at `path`, also when the path is longer than
/// `sun_path` allows (through `/proc/self/fd/<dir fd>/<name>`).
pub(crate) fn connect_path(path: &Path) -> std::io::Result<UnixStream> {
    if path.as_os_str().len() < 100 {
        return UnixStream::connect(path);
    }
    let (dir, name) = split(path)?;
    let d = std::fs::File::open(dir)?;
    UnixStream::connect(Path::new(&format!("/proc/self/fd/{}", d.as_raw_fd())).join(name))
}

fn split(path: &Path) -> std::io::Result<(&Path, &std::ffi::OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => Ok((d, n)),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("bad socket path {}", path.display()),
        )),
    }
}

/// Bind a listening unix socket at `path` (replacing a stale one), also for
/// long paths (see [`connect_path`]).
pub(crate) fn bind_path(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    let _ = std::fs::remove_file(path);
    if path.as_os_str().len() < 100 {
        return std::os::unix::net::UnixListener::bind(path);
    }
    let (dir, name) = split(path)?;
    let d = std::fs::File::open(dir)?;
    std::os::unix::net::UnixListener::bind(
        Path::new(&format!("/proc/self/fd/{}", d.as_raw_fd())).join(name),
    )
}

/// What [`AttachConn::collect_until`] received: stdout, stderr, and the exit
/// code when the exit frame came.
pub type Collected = (Vec<u8>, Vec<u8>, Option<i32>);

/// A blocking connection to a shim's attach socket.
#[derive(Debug)]
pub struct AttachConn {
    stream: UnixStream,
    decoder: Decoder,
}

/// Connect to the shim serving `dir` (a container directory, or an exec
/// directory from [`crate::exec_dir`]) with the given streams.
pub fn connect(dir: &Path, opts: AttachOptions) -> Result<AttachConn, RuntimeError> {
    let path: PathBuf = dir.join(ATTACH_SOCKET);
    let stream = connect_path(&path).map_err(|e| RuntimeError::io("connect", &path, e))?;
    let mut conn = AttachConn::from_stream(stream);
    conn.send(KIND_ATTACH, &[opts.flags()])?;
    Ok(conn)
}

impl AttachConn {
    /// Wrap a connected stream (already attached: no [`KIND_ATTACH`] is sent).
    pub fn from_stream(stream: UnixStream) -> Self {
        AttachConn {
            stream,
            decoder: Decoder::default(),
        }
    }

    /// The underlying socket (e.g. to set timeouts or to poll it).
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// Consume the connection, returning the socket.
    pub fn into_stream(self) -> UnixStream {
        self.stream
    }

    fn send(&mut self, kind: u8, payload: &[u8]) -> Result<(), RuntimeError> {
        self.stream
            .write_all(&encode(kind, payload))
            .map_err(|e| RuntimeError::Attach(format!("send: {e}")))
    }

    /// Send bytes to the process's stdin (split into frames as needed).
    pub fn send_stdin(&mut self, data: &[u8]) -> Result<(), RuntimeError> {
        for chunk in data.chunks(MAX_FRAME) {
            self.send(KIND_STDIN, chunk)?;
        }
        Ok(())
    }

    /// Close the process's stdin once everything sent before is written.
    pub fn close_stdin(&mut self) -> Result<(), RuntimeError> {
        self.send(KIND_STDIN_CLOSE, &[])
    }

    /// Set the TTY's window size.
    pub fn resize(&mut self, rows: u16, cols: u16) -> Result<(), RuntimeError> {
        let mut p = rows.to_be_bytes().to_vec();
        p.extend_from_slice(&cols.to_be_bytes());
        self.send(KIND_RESIZE, &p)
    }

    /// Block until the next output message; `Ok(None)` when the shim closed
    /// the connection. Honours the socket's read timeout
    /// ([`UnixStream::set_read_timeout`]): a timeout is an `Attach` error.
    pub fn recv(&mut self) -> Result<Option<Output>, RuntimeError> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some((kind, payload)) = self.decoder.next_frame()? {
                return Ok(Some(match kind {
                    KIND_STDOUT => Output::Stdout(payload),
                    KIND_STDERR => Output::Stderr(payload),
                    KIND_EXIT => {
                        let b: [u8; 4] = payload
                            .get(..4)
                            .and_then(|s| s.try_into().ok())
                            .ok_or_else(|| RuntimeError::Attach("short exit frame".into()))?;
                        Output::Exit(i32::from_be_bytes(b))
                    }
                    other => {
                        return Err(RuntimeError::Attach(format!(
                            "unknown frame kind {other:#x}"
                        )))
                    }
                }));
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => self.decoder.push(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RuntimeError::Attach(format!("receive: {e}"))),
            }
        }
    }

    /// Receive until `pred` holds on the stdout collected so far, the exit
    /// frame, end of stream, or `timeout`; returns (stdout, stderr, exit code).
    /// A convenience for tests and simple callers.
    pub fn collect_until(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&[u8]) -> bool,
    ) -> Result<Collected, RuntimeError> {
        let deadline = std::time::Instant::now() + timeout;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || pred(&out) {
                return Ok((out, err, None));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| RuntimeError::Attach(format!("set timeout: {e}")))?;
            match self.recv() {
                Ok(Some(Output::Stdout(b))) => out.extend(b),
                Ok(Some(Output::Stderr(b))) => err.extend(b),
                Ok(Some(Output::Exit(c))) => return Ok((out, err, Some(c))),
                Ok(None) => return Ok((out, err, None)),
                Err(RuntimeError::Attach(m))
                    if m.contains("timed out") || m.contains("temporarily") =>
                {
                    return Ok((out, err, None))
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_roundtrip() {
        let mut d = Decoder::default();
        let mut bytes = encode(KIND_STDIN, b"hello");
        bytes.extend(encode(KIND_RESIZE, &[0, 24, 0, 80]));
        // Byte by byte: frames come out whole.
        let mut got = Vec::new();
        for b in &bytes {
            d.push(&[*b]);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            vec![
                (KIND_STDIN, b"hello".to_vec()),
                (KIND_RESIZE, vec![0, 24, 0, 80])
            ]
        );
        assert_eq!(d.pending(), 0);
        let mut d = Decoder::default();
        d.push(&[KIND_STDIN, 0xff, 0, 0, 0]);
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn flags() {
        for o in [AttachOptions::all(), AttachOptions::default()] {
            assert_eq!(AttachOptions::from_flags(o.flags()), o);
        }
        assert_eq!(AttachOptions::default().flags(), FLAG_STDOUT | FLAG_STDERR);
    }

    #[test]
    fn long_socket_paths() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("x".repeat(60)).join("y".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join(ATTACH_SOCKET);
        let l = bind_path(&path).unwrap();
        let mut c = connect_path(&path).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
    }
}
