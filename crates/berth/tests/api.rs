//! The Engine API on the wire: version negotiation and nasty requests that must neither panic
//! nor hang the daemon.
mod common;
use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn sock() -> std::path::PathBuf {
    sock_of(&h().host)
}

fn req(method: &str, path: &str, body: &str) -> (u16, String) {
    let r = format!(
        "{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(&sock(), &r).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

#[track_caller]
fn assert_alive() {
    let (code, body) = req("GET", "/_ping", "");
    assert_eq!(
        (code, body.trim()),
        (200, "OK"),
        "daemon no longer answers /_ping"
    );
}

#[test]
fn ping_version_info() {
    let h = h();
    let r = http(
        &sock(),
        "GET /_ping HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
    )
    .expect("ping");
    assert_eq!(r.0, 200);
    // Api-Version header
    let mut s = UnixStream::connect(sock()).expect("connect");
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    assert!(
        raw.to_ascii_lowercase().contains("\napi-version: 1.41"),
        "{raw}"
    );
    let (code, body) = req("GET", "/v1.41/version", "");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("version JSON");
    assert_eq!(v["ApiVersion"], "1.41");
    assert_eq!(v["Os"], "linux");
    let (code, body) = req("GET", "/v1.41/info", "");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("info JSON");
    assert!(
        v["Images"].as_i64().is_some() && v["Containers"].as_i64().is_some(),
        "{v}"
    );
    let (code, body) = req("GET", "/v1.99/version", "");
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("client version 1.99 is too new. Maximum supported API version is 1.41"),
        "{body}"
    );
    let _ = h;
}

#[test]
fn bad_json_and_unknown_fields_are_rejected() {
    let h = h();
    let (code, body) = req("POST", "/v1.41/containers/create", "{bad json");
    assert!(
        body.contains("\"message\""),
        "error body must be JSON with a message: {body}"
    );
    let (c2, body2) = req(
        "POST",
        "/v1.41/containers/create",
        &format!(
            "{{\"Image\":\"{}\",\"Cmd\":[\"true\"],\"HostConfig\":{{\"NoSuchField\":1}}}}",
            h.image
        ),
    );
    if h.is_berth() {
        assert_eq!(code, 400, "bad JSON: {body}");
        assert_eq!(c2, 400, "unknown HostConfig field must be refused: {body2}");
        assert!(
            body2.contains("NoSuchField"),
            "the message should name the field: {body2}"
        );
    } else {
        // dockerd 20.10 answers 500 to bad JSON and ignores unknown fields
        assert_eq!(code, 500, "{body}");
        assert!(c2 == 201, "{body2}");
        let id: serde_json::Value = serde_json::from_str(&body2).expect("create JSON");
        let _ = h.run(&["rm", "-f", id["Id"].as_str().unwrap_or("")]);
    }
    // wrong types
    let (code, body) = req("POST", "/v1.41/containers/create", "{\"Image\": 42}");
    assert!((400..600).contains(&code), "{code} {body}");
    let (code, body) = req("POST", "/v1.41/containers/create", "[]");
    assert!((400..600).contains(&code), "{code} {body}");
    assert_alive();
}

#[test]
fn unknown_route_is_404() {
    h();
    let (code, body) = req("GET", "/v1.41/no/such/route", "");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("page not found"), "{body}");
    let (code, _) = req("GET", "/v1.41/containers/e2e-no-such-container/json", "");
    assert_eq!(code, 404);
    let (code, body) = req("GET", "/v1.41/containers/e2e-no-such-container/json", "");
    assert!(
        body.contains("No such container: e2e-no-such-container"),
        "{code} {body}"
    );
    assert_alive();
}

#[test]
fn bad_query_values() {
    h();
    for path in [
        "/v1.41/containers/json?limit=abc",
        "/v1.41/containers/json?filters=%7Bnot-json",
        "/v1.41/containers/json?all=maybe&size=%ff",
        "/v1.41/images/json?filters=%5B%5D",
        "/v1.41/containers/e2e-none/logs?tail=-5&since=garbage",
        "/v1.41/containers/e2e-none/stop?t=99999999999999999999999",
    ] {
        let (code, body) = req("GET", path, "");
        assert!((200..600).contains(&code), "{path}: {code} {body}");
    }
    let (code, body) = req("POST", "/v1.41/containers/e2e-none/kill?signal=SIGNOPE", "");
    assert!((400..500).contains(&code), "{code} {body}");
    assert_alive();
}

#[test]
fn huge_or_garbage_content_length_does_not_hurt() {
    let s = sock();
    h();
    // a Content-Length far larger than what is sent, then close the write side
    let r = http_bytes(
        &s,
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{\"Image\":",
        Duration::from_secs(3),
    );
    let _ = r;
    // a Content-Length that is not a number
    let r = http_bytes(
        &s,
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: b\r\nContent-Length: lots\r\nConnection: close\r\n\r\n{}",
        Duration::from_secs(5),
    );
    if let Ok((code, _)) = r {
        assert!(
            (400..500).contains(&code),
            "garbage Content-Length answered {code}"
        );
    }
    // a header line of 1 MiB
    let mut big = b"GET /_ping HTTP/1.1\r\nHost: b\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1 << 20));
    big.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let _ = http_bytes(&s, &big, Duration::from_secs(5));
    // pure garbage
    let _ = http_bytes(
        &s,
        b"\x00\x01\x02 garbage garbage\r\n\r\n",
        Duration::from_secs(3),
    );
    // a connection opened and left idle does not block others
    let idle = UnixStream::connect(&s).expect("connect");
    // 200 connections in a row
    for _ in 0..200 {
        let c = UnixStream::connect(&s).expect("connect");
        drop(c);
    }
    assert_alive();
    drop(idle);
    assert_alive();
}

#[test]
fn unknown_image_on_create_is_404_and_no_command_is_400() {
    let h = h();
    let (code, body) = req(
        "POST",
        "/v1.41/containers/create",
        "{\"Image\":\"e2e-no-such-image:zz\"}",
    );
    assert_eq!(code, 404, "{body}");
    assert!(
        body.contains("No such image: e2e-no-such-image:zz"),
        "{body}"
    );
    let bb = fixture("busybox.tar");
    let img = uname("nocmd");
    let mut g = h.guard(&[]);
    g.image(&img);
    h.run(&["import", path_str(&bb), &img]).ok();
    let (code, body) = req(
        "POST",
        "/v1.41/containers/create",
        &format!("{{\"Image\":\"{img}\"}}"),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("No command specified"), "{body}");
    assert_alive();
}

/// The API socket is `srw-rw----` and belongs to the `docker` group when it exists, as dockerd's.
#[test]
fn socket_mode_and_group_as_dockerd() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(sock()).expect("stat the API socket");
    assert_eq!(meta.permissions().mode() & 0o777, 0o660, "socket mode");
    assert_eq!(meta.uid(), 0, "socket owner");
    let docker_gid = std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"docker")).then(|| f.get(2).and_then(|g| g.parse::<u32>().ok()))?
        });
    assert_eq!(meta.gid(), docker_gid.unwrap_or(0), "socket group");
}
