//! ADD's remote sources: `http://` by a plain HTTP/1.0 GET written here
//! (the workspace has no blocking HTTP client crate), `https://` through
//! the system's `curl` (no TLS stack in the workspace either).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{EngineError, Result};

/// Most redirects followed.
const MAX_REDIRECTS: usize = 10;

fn add_err(url: &str, what: impl std::fmt::Display) -> EngineError {
    EngineError::invalid(format!("ADD failed: failed to GET {url}: {what}"))
}

/// The file name a URL gives (last path segment, query left out).
pub(crate) fn file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    (!name.is_empty()).then(|| name.to_string())
}

/// Split `http://host[:port]/path` into (host, port, path).
fn split_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h.to_string(), p.parse().ok()?)
        }
        _ => (authority.to_string(), 80),
    };
    let path = path.split('#').next().unwrap_or("/").to_string();
    Some((host.trim_matches(['[', ']']).to_string(), port, path))
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
    let mut current = url.to_string();
    for _ in 0..MAX_REDIRECTS {
        if current.starts_with("https://") {
            curl(url, &current, &target)?;
            return Ok((target, name));
        }
        let (host, port, path) =
            split_url(&current).ok_or_else(|| add_err(url, "unsupported URL"))?;
        let mut conn = TcpStream::connect((host.as_str(), port)).map_err(|e| add_err(url, e))?;
        let _ = conn.set_read_timeout(Some(Duration::from_secs(300)));
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: berth\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        conn.write_all(req.as_bytes())
            .map_err(|e| add_err(url, e))?;
        let mut r = BufReader::new(conn);
        let mut status = String::new();
        r.read_line(&mut status).map_err(|e| add_err(url, e))?;
        let code: u16 = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| add_err(url, "malformed HTTP response"))?;
        let reason = status
            .split_whitespace()
            .skip(2)
            .collect::<Vec<_>>()
            .join(" ");
        let mut location = None;
        let mut last_modified = None;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).map_err(|e| add_err(url, e))? == 0 {
                break;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "location" => location = Some(v.trim().to_string()),
                    "last-modified" => last_modified = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        if (300..400).contains(&code) {
            let loc = location
                .ok_or_else(|| add_err(url, format!("redirect {code} without Location")))?;
            current = if loc.starts_with("http") {
                loc
            } else {
                format!("http://{host}:{port}{loc}")
            };
            continue;
        }
        if code >= 400 {
            return Err(EngineError::invalid(format!(
                "ADD failed: failed to GET {url} with status {code} {reason}"
            )));
        }
        let mut file = std::fs::File::create(&target)
            .map_err(|e| EngineError::io(format!("create {}", target.display()), e))?;
        std::io::copy(&mut r.by_ref(), &mut file).map_err(|e| add_err(url, e))?;
        drop(file);
        let mtime = last_modified
            .and_then(|t| chrono::DateTime::parse_from_rfc2822(&t).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let ts = nix::sys::time::TimeSpec::new(mtime, 0);
        let _ = nix::sys::stat::utimensat(
            None,
            &target,
            &ts,
            &ts,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        );
        return Ok((target, name));
    }
    Err(add_err(url, "too many redirects"))
}

/// Fetch an `https://` URL with curl (redirects followed, server time kept).
fn curl(url: &str, current: &str, target: &Path) -> Result<()> {
    let out = std::process::Command::new("curl")
        .args([
            "-fsSL",
            "--proto",
            "=https",
            "--max-redirs",
            "10",
            "-R",
            "-o",
        ])
        .arg(target)
        .arg(current)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| add_err(url, format!("https needs curl, which failed to start: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(add_err(
        url,
        if msg.is_empty() {
            out.status.to_string()
        } else {
            msg
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            file_name("http://h/a/b.tar.gz?x=1").as_deref(),
            Some("b.tar.gz")
        );
        assert_eq!(file_name("http://h/"), None);
        assert_eq!(
            split_url("http://127.0.0.1:8000/x/y"),
            Some(("127.0.0.1".into(), 8000, "/x/y".into()))
        );
        assert_eq!(split_url("http://h"), Some(("h".into(), 80, "/".into())));
    }

    #[test]
    fn https_failures_are_reported() {
        let d = tempfile::tempdir().unwrap();
        let err = download("https://127.0.0.1:1/x.txt", d.path()).unwrap_err();
        assert!(
            err.message
                .starts_with("ADD failed: failed to GET https://127.0.0.1:1/x.txt: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn downloads_from_a_local_server() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                if req.starts_with("GET /old") {
                    s.write_all(b"HTTP/1.0 301 Moved\r\nLocation: /f.txt\r\n\r\n")
                        .unwrap();
                } else {
                    s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                        .unwrap();
                }
            }
        });
        let d = tempfile::tempdir().unwrap();
        let (p, name) = download(&format!("http://127.0.0.1:{port}/old"), d.path()).unwrap();
        assert_eq!(name, "old");
        assert_eq!(std::fs::read_to_string(p).unwrap(), "hello");
        t.join().unwrap();
    }
}
