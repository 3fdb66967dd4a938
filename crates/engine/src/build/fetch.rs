//! ADD's remote sources: `http://` and `https://` URLs fetched with `ureq`
//! (rustls, trusting the host's CA bundle), streamed to a file in the
//! build's scratch dir whatever their size. As in Docker, redirects are
//! followed (at most 10), an HTTP error status fails the step with the
//! response body in the message, and the file's mtime is the response's
//! `Last-Modified` (the epoch without one).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ureq::tls::{PemItem, RootCerts, TlsConfig};

use crate::error::{EngineError, Result};

/// Most redirects followed (Go's `http.Get` default).
const MAX_REDIRECTS: u32 = 10;
/// The host's CA bundle (Debian's `ca-certificates`).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to send the response headers, and the
/// longest stretch without any body data before the download fails.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a whole body transfer may take (a backstop that also ends
/// the reader thread of an abandoned download).
const BODY_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// How often a waiting download checks whether the build was cancelled.
const CANCEL_POLL: Duration = Duration::from_millis(250);
/// Size of the chunks passed from the reader thread.
const CHUNK: usize = 64 * 1024;
/// The most of an error response's body quoted in the message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

fn add_err(what: impl std::fmt::Display) -> EngineError {
    EngineError::invalid(format!("ADD failed: {what}"))
}

/// The file name a URL gives (last path segment, query left out).
pub(crate) fn file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    (!name.is_empty()).then(|| name.to_string())
}

/// The root certificates: the host's bundle when it has one, else the
/// Mozilla roots compiled into the binary.
fn root_certs() -> RootCerts {
    let Ok(pem) = std::fs::read(CA_BUNDLE) else {
        return RootCerts::WebPki;
    };
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::Specific(Arc::new(certs))
    }
}

/// The process-wide HTTP agent (its connection pool and TLS roots are
/// set up once).
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        let tls = TlsConfig::builder().root_certs(root_certs()).build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(MAX_REDIRECTS)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(IDLE_TIMEOUT))
            .timeout_recv_body(Some(BODY_TIMEOUT))
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        ureq::Agent::new_with_config(config)
    })
}

/// Download `url` into `dir`; returns the file and its name. The
/// transfer fails when no data arrives for [`IDLE_TIMEOUT`], and stops as
/// soon as `cancelled()` says the build was cancelled.
pub(crate) fn download(
    url: &str,
    dir: &Path,
    cancelled: &dyn Fn() -> bool,
) -> Result<(PathBuf, String)> {
    download_with(url, dir, cancelled, IDLE_TIMEOUT)
}

/// [`download`] with a chosen idle timeout.
fn download_with(
    url: &str,
    dir: &Path,
    cancelled: &dyn Fn() -> bool,
    idle: Duration,
) -> Result<(PathBuf, String)> {
    let name = file_name(url).unwrap_or_else(|| "__unnamed__".into());
    let out_dir = dir.join("downloads");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| EngineError::io(format!("mkdir {}", out_dir.display()), e))?;
    let target = out_dir.join(format!(
        "{}-{name}",
        std::fs::read_dir(&out_dir).map(|r| r.count()).unwrap_or(0)
    ));
    let mut resp = agent()
        .get(url)
        .call()
        .map_err(|e| add_err(format!("Get \"{url}\": {e}")))?;
    let status = resp.status();
    if status.as_u16() >= 300 {
        // A 3xx left over is a redirect without a usable Location (or one
        // too many), which Go reports the same way as an error status.
        let mut msg = format!(
            "failed to GET {url} with status {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string();
        let mut body = Vec::new();
        let read = std::io::Read::read_to_end(
            &mut std::io::Read::take(resp.body_mut().as_reader(), MAX_ERROR_BODY),
            &mut body,
        );
        match read {
            Ok(_) => {
                msg.push_str(": ");
                msg.push_str(String::from_utf8_lossy(&body).trim());
            }
            Err(_) => msg.push_str(": error reading body"),
        }
        return Err(add_err(msg));
    }
    let last_modified = resp
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut file = std::fs::File::create(&target)
        .map_err(|e| EngineError::io(format!("create {}", target.display()), e))?;
    copy_body(resp.into_body().into_reader(), &mut file, cancelled, idle).map_err(|e| match e {
        CopyError::Cancelled => super::cancelled_error(),
        CopyError::Idle => add_err(format!(
            "failed to download {url}: read timeout: no data received for {}s",
            idle.as_secs()
        )),
        CopyError::Io(e) => add_err(format!("failed to download {url}: {e}")),
    })?;
    file.sync_all()
        .map_err(|e| EngineError::io(format!("write {}", target.display()), e))?;
    drop(file);
    let mtime = last_modified
        .and_then(|t| chrono::DateTime::parse_from_rfc2822(&t).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let ts = nix::sys::time::TimeSpec::new(mtime, 0);
    nix::sys::stat::utimensat(
        None,
        &target,
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| EngineError::system(format!("set the mtime of {}: {e}", target.display())))?;
    Ok((target, name))
}

/// Why copying a body stopped early.
enum CopyError {
    /// The build was cancelled.
    Cancelled,
    /// No data arrived for the idle timeout.
    Idle,
    /// Reading the body or writing the file failed.
    Io(std::io::Error),
}

/// Copy `body` into `out`. The blocking reads happen on a helper thread
/// that passes chunks over a bounded channel, so that this side can give
/// up when no chunk arrives for `idle` or when the build is cancelled;
/// the helper then stops at its next chunk (or when the agent's body
/// timeout ends its read).
fn copy_body(
    mut body: impl std::io::Read + Send + 'static,
    out: &mut impl std::io::Write,
    cancelled: &dyn Fn() -> bool,
    idle: Duration,
) -> std::result::Result<(), CopyError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(4);
    std::thread::Builder::new()
        .name("build-add-url".into())
        .spawn(move || loop {
            let mut buf = vec![0u8; CHUNK];
            match body.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        })
        .map_err(CopyError::Io)?;
    let mut waited = Duration::ZERO;
    loop {
        if cancelled() {
            return Err(CopyError::Cancelled);
        }
        match rx.recv_timeout(CANCEL_POLL.min(idle)) {
            Ok(Ok(chunk)) => {
                waited = Duration::ZERO;
                out.write_all(&chunk).map_err(CopyError::Io)?;
            }
            Ok(Err(e)) => return Err(CopyError::Io(e)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                waited += CANCEL_POLL.min(idle);
                if waited >= idle {
                    return Err(CopyError::Idle);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn urls() {
        assert_eq!(
            file_name("http://h/a/b.tar.gz?x=1").as_deref(),
            Some("b.tar.gz")
        );
        assert_eq!(file_name("http://h/"), None);
        assert_eq!(file_name("https://h").as_deref(), None);
    }

    #[test]
    fn connection_failures_are_reported() {
        let d = tempfile::tempdir().unwrap();
        for url in ["http://127.0.0.1:1/x.txt", "https://127.0.0.1:1/x.txt"] {
            let err = download(url, d.path(), &|| false).unwrap_err();
            assert!(
                err.message
                    .starts_with(&format!("ADD failed: Get \"{url}\": ")),
                "{}",
                err.message
            );
        }
    }

    /// A one-thread HTTP/1.1 server answering `n` requests by path.
    fn serve(n: usize, answer: fn(&str) -> Vec<u8>) -> (u16, std::thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            for _ in 0..n {
                let (mut s, _) = l.accept().unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.ends_with(b"\r\n\r\n") {
                    let k = s.read(&mut buf).unwrap();
                    if k == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..k]);
                }
                let req = String::from_utf8_lossy(&req).into_owned();
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                s.write_all(&answer(&path)).unwrap();
            }
        });
        (port, t)
    }

    #[test]
    fn downloads_follow_redirects_and_keep_last_modified() {
        let (port, t) = serve(2, |path| {
            if path == "/old" {
                b"HTTP/1.1 301 Moved Permanently\r\nLocation: /f.txt\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nLast-Modified: Thu, 02 Jan 2020 03:04:05 GMT\r\nConnection: close\r\n\r\nhello".to_vec()
            }
        });
        let d = tempfile::tempdir().unwrap();
        let (p, name) =
            download(&format!("http://127.0.0.1:{port}/old"), d.path(), &|| false).unwrap();
        assert_eq!(name, "old");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "hello");
        assert_eq!(std::fs::metadata(&p).unwrap().mtime(), 1_577_934_245);
        t.join().unwrap();
    }

    #[test]
    fn large_bodies_stream_and_missing_last_modified_is_the_epoch() {
        const SIZE: usize = 12 << 20;
        let (port, t) = serve(1, |_| {
            let mut r =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\n")
                    .into_bytes();
            r.extend(std::iter::repeat_n(b'z', SIZE));
            r
        });
        let d = tempfile::tempdir().unwrap();
        let (p, name) = download(
            &format!("http://127.0.0.1:{port}/big.bin"),
            d.path(),
            &|| false,
        )
        .unwrap();
        assert_eq!(name, "big.bin");
        let md = std::fs::metadata(&p).unwrap();
        assert_eq!(md.len(), SIZE as u64);
        assert_eq!(md.mtime(), 0);
        t.join().unwrap();
    }

    #[test]
    fn error_statuses_fail_with_the_body_like_docker() {
        let (port, t) = serve(1, |_| {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\nConnection: close\r\n\r\nno such file"
                .to_vec()
        });
        let d = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}/nope.txt");
        let err = download(&url, d.path(), &|| false).unwrap_err();
        assert_eq!(
            err.message,
            format!("ADD failed: failed to GET {url} with status 404 Not Found: no such file")
        );
        t.join().unwrap();
    }

    /// A server that sends headers and part of the body, then stalls
    /// until the client hangs up.
    fn serve_stalling() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                .unwrap();
            // Holds the connection open until the client goes away.
            let _ = s.read(&mut buf);
        });
        port
    }

    #[test]
    fn a_stalled_body_times_out() {
        let port = serve_stalling();
        let d = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}/slow.bin");
        let err = download_with(&url, d.path(), &|| false, Duration::from_secs(1)).unwrap_err();
        assert_eq!(
            err.message,
            format!("ADD failed: failed to download {url}: read timeout: no data received for 1s")
        );
    }

    #[test]
    fn a_cancelled_build_stops_the_download() {
        let port = serve_stalling();
        let d = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}/slow.bin");
        let calls = std::sync::atomic::AtomicUsize::new(0);
        // Cancelled after the download has started waiting for data.
        let cancelled = || calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2;
        let err = download(&url, d.path(), &cancelled).unwrap_err();
        assert_eq!(err.message, crate::build::cancelled_error().message);
    }
}
