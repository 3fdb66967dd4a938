//! The shim's single-threaded I/O loop: the process's output goes to the
//! json-file log and to every attach client; attach clients feed stdin and
//! resize the TTY (protocol in [`crate::attach`]). Never blocks in a write
//! to a client, but applies backpressure like Docker: while some client has
//! [`CLIENT_BUFFER`] or more queued, the process's output is not read (the
//! process blocks on its pipe or pty). A client is dropped only when its
//! socket fails or it takes nothing for [`STALL_TIMEOUT`].

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::attach::{
    encode, AttachOptions, Decoder, CLIENT_BUFFER, KIND_ATTACH, KIND_EXIT, KIND_RESIZE,
    KIND_STDERR, KIND_STDIN, KIND_STDIN_CLOSE, KIND_STDOUT,
};
use crate::logs::{LineSplitter, LogWriter};

use super::oom::OomWatch;

/// How much stdin the shim buffers before it stops reading from clients.
const STDIN_BUFFER: usize = 1 << 20;
/// After the process exited, how long to wait for the end of its output
/// (a background process may hold the pipes open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);
/// How long a client with queued output may take nothing before it is
/// dropped (the process is held back meanwhile).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The process's standard streams as the shim holds them.
pub enum ProcessIo {
    /// Pipes: read ends of stdout/stderr, write end of stdin (when open).
    Pipes {
        /// Write end of the process's stdin pipe (`open_stdin`).
        stdin: Option<OwnedFd>,
        /// Read end of stdout.
        stdout: OwnedFd,
        /// Read end of stderr.
        stderr: OwnedFd,
    },
    /// A pseudo-terminal: its master.
    Tty {
        /// The pty master.
        master: OwnedFd,
        /// Whether clients may write to it (`open_stdin`).
        stdin: bool,
    },
}

/// One output source (pipe or pty master).
struct Source {
    /// Log stream name and attach frame kind.
    name: &'static str,
    kind: u8,
    file: Option<File>,
    splitter: LineSplitter,
}

struct Client {
    stream: UnixStream,
    decoder: Decoder,
    /// `None` until the client's `ATTACH` frame.
    opts: Option<AttachOptions>,
    out: Vec<u8>,
    /// When the client last took output (or output started to queue).
    last_progress: Instant,
    dead: bool,
}

impl Client {
    fn new(stream: UnixStream, opts: Option<AttachOptions>) -> Option<Self> {
        stream.set_nonblocking(true).ok()?;
        Some(Client {
            stream,
            decoder: Decoder::default(),
            opts,
            out: Vec::new(),
            last_progress: Instant::now(),
            dead: false,
        })
    }

    fn wants(&self, kind: u8) -> bool {
        match self.opts {
            Some(o) => (kind == KIND_STDOUT && o.stdout) || (kind == KIND_STDERR && o.stderr),
            None => false,
        }
    }

    /// Write as much queued output as the socket takes now.
    fn flush(&mut self) {
        while !self.out.is_empty() && !self.dead {
            match self.stream.write(&self.out) {
                Ok(0) => self.dead = true,
                Ok(n) => {
                    self.out.drain(..n);
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.dead = true,
            }
        }
    }

    /// Queue a frame (never dropped: the relay stops reading the process
    /// while this client is [`CLIENT_BUFFER`] behind).
    fn queue(&mut self, frame: &[u8]) {
        if self.dead {
            return;
        }
        if self.out.is_empty() {
            self.last_progress = Instant::now();
        }
        self.out.extend_from_slice(frame);
        self.flush();
    }

    /// Whether this client holds the process back.
    fn behind(&self) -> bool {
        !self.dead && self.out.len() >= CLIENT_BUFFER
    }

    /// When this client is dropped if it takes nothing more.
    fn stall_deadline(&self) -> Option<Instant> {
        (!self.dead && !self.out.is_empty()).then(|| self.last_progress + STALL_TIMEOUT)
    }
}

/// What one poll found ready.
struct Ready {
    listener: bool,
    sources: Vec<usize>,
    clients: Vec<usize>,
    stdin: bool,
    exited: bool,
    oom: bool,
}

/// What the relay serves.
pub struct Relay {
    listener: Option<UnixListener>,
    socket_path: PathBuf,
    clients: Vec<Client>,
    sources: Vec<Source>,
    /// Where stdin bytes go: the stdin pipe or the pty master.
    stdin: Option<File>,
    stdin_buf: Vec<u8>,
    stdin_close: bool,
    stdin_once: bool,
    /// Index-free identity of the first stdin client: its socket's raw fd.
    first_stdin_client: Option<i32>,
    /// The pty master, for resizes.
    tty: Option<File>,
    log: Option<LogWriter>,
    /// Becomes readable when the main process exits.
    pidfd: Option<OwnedFd>,
    exited_at: Option<Instant>,
    oom: Option<OomWatch>,
    /// Called once when the process has run this long (memory release).
    idle_hook: Option<(Instant, fn())>,
}

fn set_nonblocking(fd: BorrowedFd<'_>) {
    if let Ok(flags) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags));
    }
}

/// Set the window size of the terminal `fd`.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `fd` is an open descriptor for the duration of the call and
    // `ws` is a valid winsize the kernel only reads.
    unsafe {
        libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws);
    }
}

/// Everything needed to build a [`Relay`].
pub struct RelayConfig {
    /// Listening `attach.sock` (and its path, removed when the relay ends).
    pub listener: Option<(UnixListener, PathBuf)>,
    /// Clients connected before the process started, with their streams.
    pub clients: Vec<(UnixStream, AttachOptions)>,
    /// The process's stdio.
    pub io: ProcessIo,
    /// Close stdin when the first stdin client leaves.
    pub stdin_once: bool,
    /// The json-file log (containers; `None` for exec).
    pub log: Option<LogWriter>,
    /// pidfd of the main process.
    pub pidfd: Option<OwnedFd>,
    /// OOM watch of the container's cgroup.
    pub oom: Option<OomWatch>,
    /// Run a hook once after this long.
    pub idle_hook: Option<(Duration, fn())>,
}

impl Relay {
    /// Set up the relay (non-blocking descriptors).
    pub fn new(cfg: RelayConfig) -> Relay {
        let (listener, socket_path) = match cfg.listener {
            Some((l, p)) => {
                let _ = l.set_nonblocking(true);
                (Some(l), p)
            }
            None => (None, PathBuf::new()),
        };
        let mut relay = Relay {
            listener,
            socket_path,
            clients: Vec::new(),
            sources: Vec::new(),
            stdin: None,
            stdin_buf: Vec::new(),
            stdin_close: false,
            stdin_once: cfg.stdin_once,
            first_stdin_client: None,
            tty: None,
            log: cfg.log,
            pidfd: cfg.pidfd,
            exited_at: None,
            oom: cfg.oom,
            idle_hook: cfg.idle_hook.map(|(after, f)| (Instant::now() + after, f)),
        };
        match cfg.io {
            ProcessIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => {
                if let Some(w) = stdin {
                    set_nonblocking(w.as_fd());
                    relay.stdin = Some(File::from(w));
                }
                relay.sources.push(Source {
                    name: "stdout",
                    kind: KIND_STDOUT,
                    file: Some(File::from(stdout)),
                    splitter: LineSplitter::default(),
                });
                relay.sources.push(Source {
                    name: "stderr",
                    kind: KIND_STDERR,
                    file: Some(File::from(stderr)),
                    splitter: LineSplitter::default(),
                });
            }
            ProcessIo::Tty { master, stdin } => {
                set_nonblocking(master.as_fd());
                let file = File::from(master);
                if stdin {
                    relay.stdin = file.try_clone().ok();
                }
                relay.tty = file.try_clone().ok();
                relay.sources.push(Source {
                    name: "stdout",
                    kind: KIND_STDOUT,
                    file: Some(file),
                    splitter: LineSplitter::default(),
                });
            }
        }
        for (stream, opts) in cfg.clients {
            relay.add_client(stream, Some(opts));
        }
        relay
    }

    fn add_client(&mut self, stream: UnixStream, opts: Option<AttachOptions>) {
        if let Some(c) = Client::new(stream, opts) {
            if opts.is_some_and(|o| o.stdin) && self.first_stdin_client.is_none() {
                self.first_stdin_client = Some(c.stream.as_raw_fd());
            }
            self.clients.push(c);
        }
    }

    /// Serve until the process exited and its output ended (all sources at
    /// end of file, or [`DRAIN_AFTER_EXIT`] after the exit: a background
    /// process may hold the output open).
    pub fn run(&mut self) {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // Done when the output ended and the process exited (a process
            // that closed its output is still served: stdin, attach).
            let output_done = self.sources.iter().all(|s| s.file.is_none());
            if output_done && (self.pidfd.is_none() || self.exited_at.is_some()) {
                return;
            }
            let now = Instant::now();
            if self.backpressured() {
                // The output is held back, not ended: the drain period
                // after the exit starts once the clients caught up.
                if let Some(t) = self.exited_at.as_mut() {
                    *t = now;
                }
            }
            if self.exited_at.is_some_and(|t| now >= t + DRAIN_AFTER_EXIT) {
                return;
            }
            // Run right before blocking, so that little code runs between the
            // hook (which drops the shim's code pages) and the wait.
            let due_hook = match self.idle_hook {
                Some((at, hook)) if now >= at => {
                    self.idle_hook = None;
                    Some(hook)
                }
                _ => None,
            };
            let timeout = self.timeout(now);
            let Some(Ready {
                listener: ready_listener,
                sources: ready_sources,
                clients: ready_clients,
                stdin: stdin_writable,
                exited,
                oom: oom_ready,
            }) = self.poll_once(timeout, due_hook)
            else {
                continue;
            };
            if exited && self.exited_at.is_none() {
                self.exited_at = Some(Instant::now());
                if let Some(o) = self.oom.as_mut() {
                    o.init_exited();
                }
            }
            if oom_ready {
                if let Some(o) = self.oom.as_mut() {
                    o.on_event();
                }
            }
            if let Some(o) = self.oom.as_mut() {
                o.tick();
            }
            self.tell_oom_kills();
            for i in ready_sources {
                self.read_source(i, &mut buf);
            }
            for i in ready_clients {
                self.read_client(i, &mut buf);
            }
            if stdin_writable {
                self.write_stdin();
            }
            if ready_listener {
                self.accept();
            }
            let now = Instant::now();
            for c in &mut self.clients {
                c.flush();
                if c.stall_deadline().is_some_and(|d| now >= d) {
                    eprintln!("berth shim: dropping an attach client that took no output for {STALL_TIMEOUT:?}");
                    c.dead = true;
                }
            }
            self.reap_clients();
            if self.stdin_close && self.stdin_buf.is_empty() && self.tty.is_none() {
                self.stdin = None;
            }
        }
    }

    /// Whether some client is so far behind that the output is not read.
    fn backpressured(&self) -> bool {
        self.clients.iter().any(Client::behind)
    }

    fn timeout(&self, now: Instant) -> PollTimeout {
        let mut deadlines: Vec<Instant> = Vec::new();
        deadlines.extend(self.clients.iter().filter_map(Client::stall_deadline));
        if let Some((at, _)) = self.idle_hook {
            deadlines.push(at);
        }
        if let Some(t) = self.exited_at {
            deadlines.push(t + DRAIN_AFTER_EXIT);
        }
        if let Some(at) = self.oom.as_ref().and_then(OomWatch::deadline) {
            deadlines.push(at);
        }
        match deadlines.into_iter().min() {
            None => PollTimeout::NONE,
            Some(d) => {
                let ms = d.saturating_duration_since(now).as_millis() + 1;
                PollTimeout::from(u16::try_from(ms).unwrap_or(u16::MAX))
            }
        }
    }

    /// One poll (calling `hook` right before it); returns what is ready,
    /// `None` on EINTR or a poll error.
    fn poll_once(&self, timeout: PollTimeout, hook: Option<fn()>) -> Option<Ready> {
        let mut fds: Vec<PollFd> = Vec::new();
        let listener_at = self.listener.as_ref().map(|l| {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let mut source_at = Vec::new();
        let sources = if self.backpressured() {
            &[][..]
        } else {
            &self.sources[..]
        };
        for (i, s) in sources.iter().enumerate() {
            if let Some(f) = &s.file {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                source_at.push((i, fds.len() - 1));
            }
        }
        let stdin_full = self.stdin_buf.len() >= STDIN_BUFFER;
        let mut client_at = Vec::new();
        for (i, c) in self.clients.iter().enumerate() {
            let mut flags = PollFlags::empty();
            if !stdin_full {
                flags |= PollFlags::POLLIN;
            }
            if !c.out.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.stream.as_fd(), flags));
            client_at.push((i, fds.len() - 1));
        }
        let stdin_at = match (&self.stdin, self.stdin_buf.is_empty()) {
            (Some(f), false) => {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLOUT));
                Some(fds.len() - 1)
            }
            _ => None,
        };
        let pid_at = match (&self.pidfd, self.exited_at) {
            (Some(p), None) => {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                Some(fds.len() - 1)
            }
            _ => None,
        };
        let oom_at = self.oom.as_ref().map(|o| {
            fds.push(PollFd::new(o.fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        if let Some(hook) = hook {
            hook();
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => return None,
            Err(e) => {
                eprintln!("berth shim: poll: {e}");
                std::thread::sleep(Duration::from_millis(10));
                return None;
            }
        }
        let ready = |at: usize| fds[at].revents().is_some_and(|r| !r.is_empty());
        Some(Ready {
            listener: listener_at.is_some_and(ready),
            sources: source_at
                .iter()
                .filter(|(_, at)| ready(*at))
                .map(|(i, _)| *i)
                .collect(),
            clients: client_at
                .iter()
                .filter(|(_, at)| ready(*at))
                .map(|(i, _)| *i)
                .collect(),
            stdin: stdin_at.is_some_and(ready),
            exited: pid_at.is_some_and(ready),
            oom: oom_at.is_some_and(ready),
        })
    }

    fn read_source(&mut self, i: usize, buf: &mut [u8]) {
        let Some(source) = self.sources.get_mut(i) else {
            return;
        };
        let Some(file) = source.file.as_mut() else {
            return;
        };
        match file.read(buf) {
            Ok(0) => finish_source(source, &mut self.log),
            Ok(n) => {
                let chunk = &buf[..n];
                let name = source.name;
                let log = &mut self.log;
                source.splitter.push(chunk, &mut |line| {
                    if let Some(l) = log.as_mut() {
                        if let Err(e) = l.write_entry(name, line) {
                            eprintln!("berth shim: write log: {e}");
                        }
                    }
                });
                let kind = source.kind;
                let frame = encode(kind, chunk);
                for c in self.clients.iter_mut().filter(|c| c.wants(kind)) {
                    c.queue(&frame);
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::Interrupted
                    || e.kind() == std::io::ErrorKind::WouldBlock => {}
            // EIO: the pty's last slave descriptor was closed.
            Err(_) => finish_source(source, &mut self.log),
        }
    }

    fn read_client(&mut self, i: usize, buf: &mut [u8]) {
        let Some(c) = self.clients.get_mut(i) else {
            return;
        };
        if c.dead {
            return;
        }
        match c.stream.read(buf) {
            Ok(0) => c.dead = true,
            Ok(n) => c.decoder.push(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::Interrupted =>
            {
                return
            }
            Err(_) => c.dead = true,
        }
        loop {
            let frame = match self.clients[i].decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("berth shim: client: {e}");
                    self.clients[i].dead = true;
                    break;
                }
            };
            self.handle_frame(i, frame);
        }
    }

    fn handle_frame(&mut self, i: usize, (kind, payload): (u8, Vec<u8>)) {
        let opts = self.clients[i].opts;
        match kind {
            KIND_ATTACH if opts.is_none() => {
                let o = AttachOptions::from_flags(payload.first().copied().unwrap_or(0));
                self.clients[i].opts = Some(o);
                if o.stdin && self.first_stdin_client.is_none() {
                    self.first_stdin_client = Some(self.clients[i].stream.as_raw_fd());
                }
            }
            KIND_STDIN
                if opts.is_some_and(|o| o.stdin) && self.stdin.is_some() && !self.stdin_close =>
            {
                self.stdin_buf.extend_from_slice(&payload);
                self.write_stdin();
            }
            // With a TTY, closing stdin is a no-op (the client sends ^D);
            // it must not block later stdin.
            KIND_STDIN_CLOSE if opts.is_some_and(|o| o.stdin) && self.tty.is_none() => {
                self.stdin_close = true;
            }
            KIND_RESIZE => {
                if let (Some(tty), [r0, r1, c0, c1, ..]) = (&self.tty, payload.as_slice()) {
                    set_winsize(
                        tty.as_fd(),
                        u16::from_be_bytes([*r0, *r1]),
                        u16::from_be_bytes([*c0, *c1]),
                    );
                }
            }
            _ => {}
        }
    }

    fn write_stdin(&mut self) {
        let Some(f) = self.stdin.as_mut() else {
            self.stdin_buf.clear();
            return;
        };
        while !self.stdin_buf.is_empty() {
            match f.write(&self.stdin_buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.stdin_buf.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // EPIPE: the process closed its stdin.
                    self.stdin_buf.clear();
                    self.stdin = None;
                    break;
                }
            }
        }
    }

    fn accept(&mut self) {
        let mut accepted = Vec::new();
        if let Some(l) = &self.listener {
            loop {
                match l.accept() {
                    Ok((s, _)) => accepted.push(s),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        for s in accepted {
            self.add_client(s, None);
        }
    }

    fn reap_clients(&mut self) {
        let mut i = 0;
        while i < self.clients.len() {
            if self.clients[i].dead {
                let c = self.clients.swap_remove(i);
                if self.first_stdin_client == Some(c.stream.as_raw_fd()) {
                    self.first_stdin_client = None;
                    if self.stdin_once {
                        self.stdin_close = true;
                        // Nobody is left to use stdin.
                        self.stdin_once = false;
                        if self.tty.is_some() {
                            self.stdin = None;
                        }
                    }
                }
            } else {
                i += 1;
            }
        }
    }

    /// Write the notices about recorded OOM kills into the log (as stderr)
    /// and to the attach clients that take stderr (stdout with a TTY).
    pub fn tell_oom_kills(&mut self) {
        let Some(notices) = self.oom.as_mut().map(OomWatch::take_notices) else {
            return;
        };
        for text in notices {
            let (name, kind, eol) = if self.tty.is_some() {
                ("stdout", KIND_STDOUT, "\r\n")
            } else {
                ("stderr", KIND_STDERR, "\n")
            };
            if let Some(l) = self.log.as_mut() {
                if let Err(e) = l.write_entry(name, format!("{text}\n").as_bytes()) {
                    eprintln!("berth shim: write log: {e}");
                }
            }
            let frame = encode(kind, format!("{text}{eol}").as_bytes());
            for c in self.clients.iter_mut().filter(|c| c.wants(kind)) {
                c.queue(&frame);
                c.flush();
            }
        }
    }

    /// The OOM watch, for the final check after the process exited.
    pub fn oom_mut(&mut self) -> Option<&mut OomWatch> {
        self.oom.as_mut()
    }

    /// Tell every client the exit code, flush everything queued (blocking;
    /// a client that takes nothing for [`STALL_TIMEOUT`] is given up) and
    /// disconnect; remove `attach.sock`.
    pub fn finish(mut self, exit_code: i32) {
        self.listener = None;
        if !self.socket_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.socket_path);
        }
        let frame = encode(KIND_EXIT, &exit_code.to_be_bytes());
        for mut c in self.clients.drain(..) {
            if c.dead {
                continue;
            }
            c.out.extend_from_slice(&frame);
            let _ = c.stream.set_nonblocking(false);
            let _ = c.stream.set_write_timeout(Some(STALL_TIMEOUT));
            let _ = c.stream.write_all(&c.out);
            let _ = c.stream.shutdown(std::net::Shutdown::Write);
        }
    }
}

fn finish_source(source: &mut Source, log: &mut Option<LogWriter>) {
    source.file = None;
    let name = source.name;
    source.splitter.finish(&mut |chunk| {
        if let Some(l) = log.as_mut() {
            let _ = l.write_entry(name, chunk);
        }
    });
}

/// Open a pidfd for our child `pid` (`None` if the kernel lacks pidfd_open).
pub fn pidfd(pid: i32) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}
