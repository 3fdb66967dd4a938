//! The local terminal: raw mode (restored on every exit path), window
//! size, and docker's detach-key sequences (`ctrl-p,ctrl-q`).

use std::io::IsTerminal;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Mutex;

use nix::sys::termios::{self, SetArg, Termios};

pub use berth_spec::detach::{parse_detach_keys, Escape, EscapeProxy, DEFAULT_DETACH_KEYS};

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
