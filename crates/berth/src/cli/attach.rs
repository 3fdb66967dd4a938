//! Attached streams: stdin up, output down over a hijacked connection
//! (raw bytes with a TTY, multiplexed frames without), the detach keys,
//! TTY resizing, and the `berth attach` command.

use std::io::{Read, Write};

use berth_client::{
    split_upgraded, AttachOptions, Client, MuxDecoder, RawStream, StreamKind, UpgradedRead,
};
use clap::Args;
use tokio::sync::mpsc;

use super::error::{CliError, CliResult};
use super::term::{self, Escape, EscapeProxy, RawTerminal, DEFAULT_DETACH_KEYS};

/// `berth attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value = "true", value_name = "bool", action = clap::ArgAction::Set, hide_default_value = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// How an attached session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The output stream ended (the process exited or closed it).
    Ended,
    /// The user typed the detach sequence.
    Detached,
}

/// What to wire up on an attached stream.
#[derive(Debug, Clone, Default)]
pub struct StreamSetup {
    /// The stream is raw (TTY) rather than multiplexed.
    pub tty: bool,
    /// Forward the local stdin.
    pub stdin: bool,
    /// The detach sequence (`--detach-keys`), parsed; `None`: the default.
    pub detach_keys: Option<Vec<u8>>,
}

/// The detach keys to watch for: the flag's, or docker's default when it
/// is absent or invalid (the daemon validates the flag it is sent).
pub fn detach_keys(flag: Option<&str>) -> Vec<u8> {
    flag.and_then(|k| term::parse_detach_keys(k).ok())
        .unwrap_or_else(|| DEFAULT_DETACH_KEYS.to_vec())
}

/// Read the local stdin on a plain thread (blocking reads must not hold
/// the async runtime's shutdown); `None` marks end of input.
fn stdin_reader() -> mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(16);
    let spawned = std::thread::Builder::new()
        .name("berth-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.blocking_send(None);
                        return;
                    }
                    Ok(n) => {
                        if tx.blocking_send(Some(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    if spawned.is_err() {
        // Without a reader thread, stdin is simply never forwarded.
        let (_tx, rx) = mpsc::channel(1);
        return rx;
    }
    rx
}

fn write_out(kind: StreamKind, data: &[u8]) -> CliResult<bool> {
    let res = match kind {
        StreamKind::Stderr => {
            let mut e = std::io::stderr().lock();
            e.write_all(data).and_then(|_| e.flush())
        }
        _ => {
            let mut o = std::io::stdout().lock();
            o.write_all(data).and_then(|_| o.flush())
        }
    };
    match res {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CliError::io("write container output", e)),
    }
}

/// Where output comes from: a plain body or a hijacked connection.
enum Reader {
    Body(RawStream),
    Upgraded(UpgradedRead),
}

impl Reader {
    async fn next_chunk(&mut self) -> berth_client::Result<Option<bytes::Bytes>> {
        match self {
            Reader::Body(b) => b.next_chunk().await,
            Reader::Upgraded(r) => r.next_chunk().await,
        }
    }
}

/// Copy output until the stream ends.
async fn copy_output(mut reader: Reader, tty: bool) -> CliResult {
    let mut dec = MuxDecoder::new();
    while let Some(chunk) = reader.next_chunk().await? {
        if tty {
            if !write_out(StreamKind::Stdout, &chunk)? {
                return Ok(());
            }
            continue;
        }
        dec.push(&chunk);
        while let Some(frame) = dec
            .next_frame()
            .map_err(|e| CliError::msg(format!("error from daemon in stream: {e}")))?
        {
            if frame.kind == StreamKind::System {
                return Err(CliError::msg(format!(
                    "error from daemon in stream: {}",
                    String::from_utf8_lossy(&frame.data).trim_end()
                )));
            }
            if !write_out(frame.kind, &frame.data)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Run an attached session on `stream` until its output ends or the user
/// detaches. With `setup.stdin`, the local stdin is sent up; its end
/// half-closes the connection (the container sees EOF) while output keeps
/// flowing. With a TTY, typed bytes go through the detach-key watcher.
pub async fn pump(stream: RawStream, setup: &StreamSetup) -> CliResult<Outcome> {
    let (read, mut write) = match split_upgraded(stream) {
        Ok((r, w)) => (Reader::Upgraded(r), Some(w)),
        Err(body) => (Reader::Body(body), None),
    };
    let output = copy_output(read, setup.tty);
    tokio::pin!(output);
    if !setup.stdin || write.is_none() {
        output.await?;
        return Ok(Outcome::Ended);
    }
    let mut input = stdin_reader();
    let mut proxy = EscapeProxy::new(if setup.tty {
        setup
            .detach_keys
            .clone()
            .unwrap_or_else(|| DEFAULT_DETACH_KEYS.to_vec())
    } else {
        Vec::new()
    });
    let mut input_open = true;
    loop {
        tokio::select! {
            res = &mut output => {
                res?;
                return Ok(Outcome::Ended);
            }
            chunk = input.recv(), if input_open => {
                let Some(w) = write.as_mut() else { continue };
                match chunk.flatten() {
                    None => {
                        input_open = false;
                        // The daemon may already have closed its side.
                        let _ = w.close_write().await;
                    }
                    Some(data) => match proxy.feed(&data) {
                        Escape::Forward(bytes) => {
                            if !bytes.is_empty() && w.write_all(&bytes).await.is_err() {
                                input_open = false;
                            }
                        }
                        Escape::Detach(bytes) => {
                            if !bytes.is_empty() {
                                let _ = w.write_all(&bytes).await;
                            }
                            return Ok(Outcome::Detached);
                        }
                    },
                }
            }
        }
    }
}

/// Which TTY a resize applies to.
#[derive(Debug, Clone)]
pub enum ResizeTarget {
    /// A container's TTY.
    Container(String),
    /// An exec's TTY.
    Exec(String),
}

async fn resize_once(client: &Client, target: &ResizeTarget) -> bool {
    let Some((h, w)) = term::terminal_size() else {
        return true;
    };
    let res = match target {
        ResizeTarget::Container(id) => client.container_resize(id, h, w).await,
        ResizeTarget::Exec(id) => client.exec_resize(id, h, w).await,
    };
    res.is_ok()
}

/// Send the terminal size now (retrying briefly while the process
/// starts, as docker does) and again on every SIGWINCH.
pub fn monitor_tty_size(client: &Client, target: ResizeTarget) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        for attempt in 0..5 {
            if resize_once(&client, &target).await {
                break;
            }
            if attempt == 4 {
                eprintln!("failed to resize tty, using default size");
            }
            tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
        }
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut winch) = signal(SignalKind::window_change()) else {
            return;
        };
        while winch.recv().await.is_some() {
            resize_once(&client, &target).await;
        }
    })
}

/// Raw mode when the session has a TTY and reads a terminal stdin.
pub fn raw_mode(setup: &StreamSetup) -> (Option<RawTerminal>, Vec<tokio::task::JoinHandle<()>>) {
    if setup.tty && setup.stdin {
        if let Some(raw) = RawTerminal::enable() {
            return (Some(raw), RawTerminal::watch_signals());
        }
    }
    (None, Vec::new())
}

/// `the input device is not a TTY`: docker's refusal of `-it` without a
/// terminal on stdin.
pub fn check_tty(attach_stdin: bool, tty: bool) -> CliResult {
    if attach_stdin && tty && !term::stdin_is_tty() {
        return Err(CliError::msg("the input device is not a TTY"));
    }
    Ok(())
}

/// `berth attach`.
pub async fn attach(client: &Client, args: &AttachArgs) -> CliResult {
    let info = client
        .container_inspect(&args.container)
        .await
        .map_err(|e| super::error::not_found_as(e, "container", &args.container))?;
    if !info.state.running {
        return Err(CliError::msg(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if info.state.paused {
        return Err(CliError::msg(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let tty = info.config.tty;
    let stdin = !args.no_stdin && info.config.open_stdin;
    check_tty(stdin, tty)?;
    let id = info.id.clone();
    // Registered before attaching so the exit status cannot be missed.
    let waiter = client.container_wait_begin(&id, None).await?;
    let stream = client
        .container_attach_with(
            &id,
            &AttachOptions {
                stdin,
                stdout: true,
                stderr: true,
                logs: false,
                detach_keys: args.detach_keys.clone(),
            },
        )
        .await?;
    let setup = StreamSetup {
        tty,
        stdin,
        detach_keys: Some(detach_keys(args.detach_keys.as_deref())),
    };
    let (raw, watchers) = raw_mode(&setup);
    let resizer = tty.then(|| monitor_tty_size(client, ResizeTarget::Container(id.clone())));
    let proxies = if args.sig_proxy != "false" && !tty {
        super::run::proxy_signals(client, &id)
    } else {
        Vec::new()
    };
    let outcome = pump(stream, &setup).await;
    drop(raw);
    watchers.iter().chain(&proxies).for_each(|t| t.abort());
    if let Some(r) = resizer {
        r.abort();
    }
    match outcome? {
        Outcome::Detached => Err(CliError::msg("read escape sequence")),
        Outcome::Ended => {
            // Docker exits with the container's status.
            let status = waiter.result().await?;
            match status.status_code {
                0 => Ok(()),
                code => Err(CliError::status(code as i32, "")),
            }
        }
    }
}
