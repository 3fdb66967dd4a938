//! Hostile and malformed requests: the daemon answers with Docker's errors,
//! never panics or hangs, and keeps serving.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Daemon {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

async fn start() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let engine = berth_engine::Engine::open(berth_engine::EngineConfig {
        data_root: dir.path().join("data"),
        exec_root: dir.path().join("exec"),
        shim_exe: PathBuf::from("/nonexistent/berth"),
        daemon_log: None,
    })
    .await
    .unwrap();
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(berth_daemon::serve(listener, engine));
    Daemon { socket, _dir: dir }
}

/// Send raw bytes; return (status, body) of the answer.
fn raw(socket: &Path, request: &[u8]) -> (u16, String) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn request(socket: &Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    raw(socket, req.as_bytes())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nasty_requests_get_docker_errors_and_the_daemon_survives() {
    let d = start().await;
    let s = d.socket.clone();
    blocking(move || {
        let (st, body) = request(&s, "GET", "/_ping", "");
        assert_eq!((st, body.as_str()), (200, "OK"));

        let (st, body) = request(&s, "POST", "/v1.41/containers/create", "{not json");
        assert_eq!(st, 400, "{body}");
        assert!(body.contains("\"message\""), "{body}");

        let (st, body) = request(
            &s,
            "POST",
            "/v1.41/containers/create",
            r#"{"Image":"busybox","HostConfig":{"Bogus":1}}"#,
        );
        assert_eq!(st, 400, "{body}");
        assert!(body.contains("Bogus"), "{body}");

        let (st, body) = request(&s, "POST", "/containers/create", "");
        assert_eq!(st, 400, "{body}");

        let (st, body) = request(
            &s,
            "POST",
            "/containers/create",
            r#"{"Image":"busybox","HostConfig":{"Memory":999999999999999999999999999}}"#,
        );
        assert_eq!(st, 400, "{body}");

        let (st, body) = request(&s, "POST", "/containers/create", r#"{"Image":"nosuch:latest"}"#);
        assert_eq!(st, 404, "{body}");
        assert!(body.contains("No such image: nosuch:latest"), "{body}");

        let (st, body) = request(&s, "GET", "/v1.41/bogus/route", "");
        assert_eq!(st, 404);
        assert!(body.contains("page not found"), "{body}");

        let (st, body) = request(&s, "GET", "/v1.99/info", "");
        assert_eq!(st, 400);
        assert!(body.contains("client version 1.99 is too new"), "{body}");

        let (st, body) = request(&s, "GET", "/containers/nosuch/json", "");
        assert_eq!(st, 404);
        assert!(body.contains("No such container: nosuch"), "{body}");

        let (st, _) = request(&s, "GET", "/containers/json?filters=%7Bnotjson", "");
        assert_eq!(st, 400);
        let (st, body) = request(&s, "GET", "/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D", "");
        assert_eq!(st, 400);
        assert!(body.contains("Invalid filter 'bogus'"), "{body}");
        let (st, _) = request(&s, "GET", "/containers/json?limit=99999999999999999999999", "");
        assert_eq!(st, 400);
        let (st, _) = request(&s, "POST", "/containers/x/stop?t=abc", "");
        assert_eq!(st, 400);

        // A lying Content-Length and garbage: the connection is dropped or answered, nothing else.
        let _ = raw(
            &s,
            b"POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 18446744073709551615\r\n\r\n{\"Image\":",
        );
        let _ = raw(&s, b"\x00\x01\x02garbage\r\n\r\n");
        let _ = raw(&s, b"GET /_ping HTTP/1.1\r\nHost: d\r\nContent-Length: -5\r\n\r\n");
        let huge_header = format!("GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20));
        let _ = raw(&s, huge_header.as_bytes());

        let (st, body) = request(&s, "GET", "/_ping", "");
        assert_eq!((st, body.as_str()), (200, "OK"), "daemon must still answer");
        let (st, body) = request(&s, "GET", "/v1.41/version", "");
        assert_eq!(st, 200);
        assert!(body.contains("\"ApiVersion\":\"1.41\""), "{body}");
    })
    .await;
}
