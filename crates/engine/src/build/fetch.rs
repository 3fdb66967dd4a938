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
/// How long connecting may take; the transfer itself has no time limit.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
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
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        ureq::Agent::new_with_config(config)
    })
}

/// Download `url` into `dir`; returns the file and its name.
pub(crate) fn download(url: &str, dir: &Path) -> Result<(PathBuf, String)> {
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
    std::io::copy(&mut resp.body_mut().as_reader(), &mut file)
        .map_err(|e| add_err(format!("failed to download {url}: {e}")))?;
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
            let err = download(url, d.path()).unwrap_err();
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
        let (p, name) = download(&format!("http://127.0.0.1:{port}/old"), d.path()).unwrap();
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
        let (p, name) = download(&format!("http://127.0.0.1:{port}/big.bin"), d.path()).unwrap();
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
        let err = download(&url, d.path()).unwrap_err();
        assert_eq!(
            err.message,
            format!("ADD failed: failed to GET {url} with status 404 Not Found: no such file")
        );
        t.join().unwrap();
    }
}
