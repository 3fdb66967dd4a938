//! The process's stdio as the shim sets it up for libcontainer: pipes
//! (stdin only with `open_stdin`, else `/dev/null`) or a pseudo-terminal whose
//! master the container's init sends back over a console socket.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::unistd::pipe2;

use crate::attach::{bind_path, AttachOptions, ATTACH_SOCKET};
use crate::error::RuntimeError;

use super::relay::{set_winsize, ProcessIo};

/// File name of the console socket (TTY only, removed once the master arrived).
const CONSOLE_SOCKET: &str = "console.sock";
/// How long to wait for the container to send its pty master.
const CONSOLE_TIMEOUT_MS: u16 = 10_000;

/// Stdio prepared before the container (or exec) is built.
pub struct Stdio {
    stdin_r: Option<OwnedFd>,
    stdin_w: Option<OwnedFd>,
    out_r: Option<OwnedFd>,
    out_w: Option<OwnedFd>,
    err_r: Option<OwnedFd>,
    err_w: Option<OwnedFd>,
    console: Option<(UnixListener, PathBuf)>,
    open_stdin: bool,
    console_size: Option<(u16, u16)>,
}

impl Stdio {
    /// Pipes or a console socket in `dir` for a process with these options.
    pub fn new(
        dir: &Path,
        open_stdin: bool,
        tty: bool,
        console_size: Option<(u16, u16)>,
    ) -> Result<Stdio, RuntimeError> {
        let mut s = Stdio {
            stdin_r: None,
            stdin_w: None,
            out_r: None,
            out_w: None,
            err_r: None,
            err_w: None,
            console: None,
            open_stdin,
            console_size,
        };
        if tty {
            let path = dir.join(CONSOLE_SOCKET);
            let l = bind_path(&path).map_err(|e| RuntimeError::io("bind", &path, e))?;
            s.console = Some((l, path));
            return Ok(s);
        }
        let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe", e));
        if open_stdin {
            let (r, w) = pipe()?;
            s.stdin_r = Some(r);
            s.stdin_w = Some(w);
        } else {
            let null =
                File::open("/dev/null").map_err(|e| RuntimeError::io("open", "/dev/null", e))?;
            s.stdin_r = Some(OwnedFd::from(null));
        }
        let (r, w) = pipe()?;
        (s.out_r, s.out_w) = (Some(r), Some(w));
        let (r, w) = pipe()?;
        (s.err_r, s.err_w) = (Some(r), Some(w));
        Ok(s)
    }

    /// Hand the container's ends to the builder.
    pub fn apply(&mut self, mut b: ContainerBuilder) -> ContainerBuilder {
        if let Some((_, path)) = &self.console {
            return b.with_console_socket(Some(path.clone()));
        }
        if let Some(r) = self.stdin_r.take() {
            b = b.with_stdin(r);
        }
        if let Some(w) = self.out_w.take() {
            b = b.with_stdout(w);
        }
        if let Some(w) = self.err_w.take() {
            b = b.with_stderr(w);
        }
        b
    }

    /// The process's ends of its pipes (stdin, stdout, stderr), taken out
    /// (not on a TTY); the shim's ends stay for [`Stdio::into_io`].
    pub fn take_process_ends(&mut self) -> Option<(OwnedFd, OwnedFd, OwnedFd)> {
        if self.console.is_some() {
            return None;
        }
        Some((self.stdin_r.take()?, self.out_w.take()?, self.err_w.take()?))
    }

    /// After the build: the shim's ends (for a TTY, receive the master).
    pub fn into_io(self) -> Result<ProcessIo, RuntimeError> {
        if let Some((listener, path)) = self.console {
            let master = receive_master(&listener);
            let _ = std::fs::remove_file(&path);
            let master = master?;
            if let Some((rows, cols)) = self.console_size {
                set_winsize(master.as_fd(), rows, cols);
            }
            return Ok(ProcessIo::Tty {
                master,
                stdin: self.open_stdin,
            });
        }
        let (Some(out), Some(err)) = (self.out_r, self.err_r) else {
            return Err(RuntimeError::Shim("stdio pipes missing".into()));
        };
        Ok(ProcessIo::Pipes {
            stdin: self.stdin_w,
            stdout: out,
            stderr: err,
        })
    }
}

/// Accept the container's connection on the console socket and receive the
/// pty master it sends (SCM_RIGHTS).
fn receive_master(listener: &UnixListener) -> Result<OwnedFd, RuntimeError> {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(CONSOLE_TIMEOUT_MS)) {
        Ok(0) => {
            return Err(RuntimeError::Start(
                "no pty master from the container".into(),
            ))
        }
        Ok(_) => {}
        Err(e) => return Err(RuntimeError::sys("poll console socket", e)),
    }
    let (conn, _) = listener
        .accept()
        .map_err(|e| RuntimeError::io("accept", "console socket", e))?;
    recv_fd(&conn)
}

fn recv_fd(conn: &UnixStream) -> Result<OwnedFd, RuntimeError> {
    let mut data = [0u8; 64];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [std::io::IoSliceMut::new(&mut data)];
        let msg = match recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(RuntimeError::sys("receive pty master", e)),
        };
        let cmsgs = msg
            .cmsgs()
            .map_err(|e| RuntimeError::sys("receive pty master", e))?;
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(fds) = c {
                if let Some(fd) = fds.first() {
                    // SAFETY: the kernel just installed this descriptor in our
                    // table for this message; nothing else owns it.
                    return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
                }
            }
        }
        return Err(RuntimeError::Start(
            "console socket sent no descriptor".into(),
        ));
    }
}

/// Bind `<dir>/attach.sock`.
pub fn listen_attach(dir: &Path) -> Result<(UnixListener, PathBuf), RuntimeError> {
    let path = dir.join(ATTACH_SOCKET);
    let l = bind_path(&path).map_err(|e| RuntimeError::io("bind", &path, e))?;
    Ok((l, path))
}

/// Descriptor number of the pre-connected attach client handed to a shim.
pub const ATTACH_FD: RawFd = 3;
/// Prefix of the shim argument carrying that client's flags (`attach=<n>`).
pub const ATTACH_ARG: &str = "attach=";

/// The pre-connected client, when the shim's arguments announce one.
pub fn inherited_client(arg: Option<&str>) -> Option<(UnixStream, AttachOptions)> {
    let flags: u8 = arg?.strip_prefix(ATTACH_ARG)?.parse().ok()?;
    // Descriptor 3 must be a socket: anything else (closed, or a file the
    // shim was started with by mistake) is not ours to take.
    let st = nix::sys::stat::fstat(ATTACH_FD)
        .map_err(|e| eprintln!("berth shim: attach descriptor {ATTACH_FD}: {e}"))
        .ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        eprintln!("berth shim: attach descriptor {ATTACH_FD} is not a socket");
        return None;
    }
    // Keep it from leaking into the container.
    let _ = nix::fcntl::fcntl(
        ATTACH_FD,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .ok()?;
    // SAFETY: the spawn protocol (spawn_shim_attached / spawn_exec_shim) is
    // the only way the `attach=` argument is passed, and it installs the
    // shim's end of a fresh socketpair as descriptor 3 in the child, which
    // nothing else in this process opens, uses or closes (the shim calls
    // this at the top of main, before it opens any descriptor of its own,
    // and calls it once). fstat above checked that descriptor 3 is open and a socket,
    // so taking ownership of it as a UnixStream is sound and unique.
    let stream = unsafe { UnixStream::from_raw_fd(ATTACH_FD) };
    Some((stream, AttachOptions::from_flags(flags)))
}
