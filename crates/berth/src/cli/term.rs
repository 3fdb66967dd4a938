//! The local terminal: raw mode (restored on every exit path), window
//! size, and docker's detach-key sequences (`ctrl-p,ctrl-q`).

use std::io::IsTerminal;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Mutex;

use nix::sys::termios::{self, SetArg, Termios};

/// Docker's default detach sequence: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: [u8; 2] = [16, 17];

/// The settings to restore, shared with the panic hook and signal handler.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Whether stdout is a terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Put back the saved terminal settings, if raw mode is on.
pub fn restore_terminal() {
    let saved = match SAVED.lock() {
        Ok(mut g) => g.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    if let Some(t) = saved {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &t);
    }
}

/// Raw mode on stdin while alive; dropping it (or a panic, or a
/// terminating signal handled by [`RawTerminal::watch_signals`]) restores
/// the terminal.
pub struct RawTerminal {
    _private: (),
}

impl RawTerminal {
    /// Switch stdin to raw mode (`cfmakeraw`); `None` when stdin is not a
    /// terminal.
    pub fn enable() -> Option<RawTerminal> {
        let stdin = std::io::stdin();
        let fd = stdin.as_fd();
        if !stdin.is_terminal() {
            return None;
        }
        let orig = termios::tcgetattr(fd).ok()?;
        let mut raw = orig.clone();
        termios::cfmakeraw(&mut raw);
        match SAVED.lock() {
            Ok(mut g) => *g = Some(orig),
            Err(poisoned) => *poisoned.into_inner() = Some(orig),
        }
        install_panic_hook();
        if termios::tcsetattr(fd, SetArg::TCSANOW, &raw).is_err() {
            restore_terminal();
            return None;
        }
        Some(RawTerminal { _private: () })
    }

    /// Restore the terminal and exit when SIGTERM/SIGHUP arrives (the
    /// signals are not proxied with a TTY, so they end the CLI).
    pub fn watch_signals() -> Vec<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut tasks = Vec::new();
        for (kind, num) in [
            (SignalKind::terminate(), libc::SIGTERM),
            (SignalKind::hangup(), libc::SIGHUP),
        ] {
            let Ok(mut s) = signal(kind) else { continue };
            tasks.push(tokio::spawn(async move {
                if s.recv().await.is_some() {
                    restore_terminal();
                    std::process::exit(128 + num);
                }
            }));
        }
        tasks
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

/// The size (rows, columns) of the terminal on `fd`, if it is one.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    use std::os::fd::AsRawFd;
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` through the pointer,
    // which points to a live, properly aligned `libc::winsize`; the fd is
    // borrowed and therefore open for the duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// The size of the controlling terminal: stdout's, else stdin's.
pub fn terminal_size() -> Option<(u16, u16)> {
    window_size(std::io::stdout().as_fd()).or_else(|| window_size(std::io::stdin().as_fd()))
}

/// Docker's `term.ToBytes`: `ctrl-p,ctrl-q`, `a,b`, `ctrl-@`..`ctrl-_`,
/// `DEL`.
pub fn parse_detach_keys(keys: &str) -> Result<Vec<u8>, String> {
    const CTRL: &str = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
    let mut codes = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            codes.push(key.as_bytes()[0]);
            continue;
        }
        if key == "DEL" {
            codes.push(127);
            continue;
        }
        let code = key
            .strip_prefix("ctrl-")
            .filter(|c| c.len() == 1)
            .and_then(|c| CTRL.find(c));
        match code {
            Some(i) => codes.push(i as u8),
            None => return Err(format!("Unknown character: '{key}'")),
        }
    }
    Ok(codes)
}

/// Watches input for the detach sequence, as docker's escape proxy: bytes
/// that may start the sequence are held back until it is known whether
/// the sequence follows.
#[derive(Debug)]
pub struct EscapeProxy {
    keys: Vec<u8>,
    matched: usize,
}

/// What one chunk of input amounts to.
#[derive(Debug, PartialEq, Eq)]
pub enum Escape {
    /// Forward these bytes.
    Forward(Vec<u8>),
    /// The sequence was typed: detach (bytes before it are forwarded).
    Detach(Vec<u8>),
}

impl EscapeProxy {
    /// A proxy for `keys` (empty: never detaches).
    pub fn new(keys: Vec<u8>) -> Self {
        EscapeProxy { keys, matched: 0 }
    }

    /// Feed input.
    pub fn feed(&mut self, input: &[u8]) -> Escape {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return Escape::Forward(out);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Escape::Detach(out);
                }
                continue;
            }
            // Not the sequence: release what was held back, then look at
            // this byte afresh (it may start a new sequence).
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Escape::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Escape::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_key_syntax() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            DEFAULT_DETACH_KEYS
        );
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert_eq!(parse_detach_keys("ctrl-@,ctrl-_").unwrap(), vec![0, 31]);
        assert_eq!(parse_detach_keys("DEL").unwrap(), vec![127]);
        assert_eq!(
            parse_detach_keys("ctrl-1").unwrap_err(),
            "Unknown character: 'ctrl-1'"
        );
        assert!(parse_detach_keys("ctrl-P").is_err());
        assert!(parse_detach_keys("foo").is_err());
    }

    #[test]
    fn escape_proxy_detects_split_sequence() {
        let mut p = EscapeProxy::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(p.feed(b"ls\r"), Escape::Forward(b"ls\r".to_vec()));
        assert_eq!(p.feed(&[b'a', 16]), Escape::Forward(b"a".to_vec()));
        assert_eq!(p.feed(&[17, b'z']), Escape::Detach(Vec::new()));
    }

    #[test]
    fn escape_proxy_releases_false_starts() {
        let mut p = EscapeProxy::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(p.feed(&[16]), Escape::Forward(Vec::new()));
        assert_eq!(p.feed(b"x"), Escape::Forward(vec![16, b'x']));
        assert_eq!(p.feed(&[16, 16, 17]), Escape::Detach(vec![16]));
        let mut none = EscapeProxy::new(Vec::new());
        assert_eq!(none.feed(&[16, 17]), Escape::Forward(vec![16, 17]));
    }
}
