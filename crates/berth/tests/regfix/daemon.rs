//! A fake Engine API on a unix socket whose pull, push and search answer 401 unless
//! `X-Registry-Auth` carries the expected password: dockerd turns a registry's refusal into a
//! 500, so this is how the CLI's "Please login prior to ..." path is reached.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::unique_tmp_dir;

/// The fake daemon; it serves until the test process ends.
pub struct FakeDaemon {
    /// `unix:///...`.
    pub host: String,
    /// The `X-Registry-Auth` values received, decoded (`{}` for none), in order.
    pub auths: Arc<Mutex<Vec<serde_json::Value>>>,
    _dir: PathBuf,
}

impl FakeDaemon {
    /// Serve; requests whose credentials have `password` succeed.
    pub fn start(password: &'static str) -> FakeDaemon {
        let dir = unique_tmp_dir("fakeapi");
        let sock = dir.join("api.sock");
        let listener = UnixListener::bind(&sock).expect("bind fake API socket");
        let auths = Arc::new(Mutex::new(Vec::new()));
        let seen = auths.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || serve(conn, password, &seen));
            }
        });
        FakeDaemon {
            host: format!("unix://{}", sock.display()),
            auths,
            _dir: dir,
        }
    }

    /// The credentials received so far.
    pub fn seen(&self) -> Vec<serde_json::Value> {
        self.auths.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn decode(value: &str) -> serde_json::Value {
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg("tr '_-' '/+' | base64 -d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            if let Some(mut i) = c.stdin.take() {
                let _ = i.write_all(value.as_bytes());
            }
            c.wait_with_output()
        })
        .expect("base64");
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

/// Answer the requests of one connection (keep-alive).
fn serve(conn: UnixStream, password: &str, seen: &Mutex<Vec<serde_json::Value>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(&conn);
    loop {
        let mut first = String::new();
        match reader.read_line(&mut first) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut auth = None;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "x-registry-auth" => auth = Some(v.trim().to_string()),
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = first.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("");
        let creds = auth
            .as_deref()
            .map(decode)
            .unwrap_or(serde_json::Value::Null);
        let registry_call = path.contains("/images/create")
            || path.contains("/push")
            || path.contains("/images/search");
        if registry_call {
            if let Ok(mut v) = seen.lock() {
                v.push(creds.clone());
            }
        }
        let allowed = creds["password"] == password;
        let (status, body) = if path.ends_with("/_ping") {
            ("200 OK", "OK".to_string())
        } else if !registry_call {
            (
                "404 Not Found",
                r#"{"message":"page not found"}"#.to_string(),
            )
        } else if !allowed {
            (
                "401 Unauthorized",
                r#"{"message":"unauthorized: authentication required"}"#.to_string(),
            )
        } else if path.contains("/images/search") {
            (
                "200 OK",
                r#"[{"name":"r.example/x","description":"found","star_count":1,"is_official":false,"is_automated":false}]"#
                    .to_string(),
            )
        } else if path.contains("/push") {
            (
                "200 OK",
                "{\"status\":\"The push refers to repository [r.example/x]\"}\n{\"status\":\"1: digest: sha256:0000000000000000000000000000000000000000000000000000000000000000 size: 1\"}\n".to_string(),
            )
        } else {
            (
                "200 OK",
                "{\"status\":\"Pulling from x\",\"id\":\"1\"}\n{\"status\":\"Status: Downloaded newer image for r.example/x:1\"}\n".to_string(),
            )
        };
        let head_only = method == "HEAD";
        let mut w = &conn;
        let _ = write!(
            w,
            "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if !head_only {
            let _ = w.write_all(body.as_bytes());
        }
        let _ = w.flush();
    }
}
