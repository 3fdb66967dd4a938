//! API abuse: random requests, gigabyte and endless bodies, thousands of idle and half-written
//! connections, requests cut off mid-stream, attach and exec streams abandoned. The daemon
//! never panics, keeps answering other clients, keeps its memory bounded and frees what an
//! abandoned stream held. The figures (requests, peak RSS, descriptors) are printed for the
//! closing report (`cargo test -p berth --test abuse -- --nocapture`).
//!
//! The random requests only name routes that stay on this machine: no `fromImage` pulls,
//! remote build contexts or Hub searches.
mod common;
use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A private daemon for this file (its memory and descriptors are measured).
fn daemon() -> &'static Daemon {
    static D: std::sync::OnceLock<Daemon> = std::sync::OnceLock::new();
    D.get_or_init(|| Daemon::with_busybox("abuse"))
}

/// The tests measure the daemon's descriptors and memory: one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static L: std::sync::Mutex<()> = std::sync::Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

fn pid() -> u32 {
    daemon().pid().expect("daemon pid")
}

/// `VmHWM` (peak RSS) and `VmRSS` of the daemon, in KiB.
fn memory_kib() -> (u64, u64) {
    (status_kib(pid(), "VmHWM:"), status_kib(pid(), "VmRSS:"))
}

fn daemon_fds() -> usize {
    fd_count(pid())
}

#[track_caller]
fn assert_alive() {
    let r = http(
        &daemon().sock,
        "GET /_ping HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
    );
    assert!(
        matches!(&r, Ok((200, b)) if b.trim() == "OK"),
        "daemon no longer answers /_ping: {r:?}\nlog:\n{}",
        daemon().log_text()
    );
    assert!(daemon().running(), "daemon exited");
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE", "BREW", "",
];
const PATHS: &[&str] = &[
    "/_ping",
    "/version",
    "/info",
    "/containers/json",
    "/containers/create",
    "/containers/x/json",
    "/containers/x/start",
    "/containers/x/stop",
    "/containers/x/kill",
    "/containers/x/wait",
    "/containers/x/logs",
    "/containers/x/attach",
    "/containers/x/exec",
    "/containers/x/archive",
    "/containers/x/resize",
    "/containers/x/update",
    "/containers/x/rename",
    "/containers/x",
    "/exec/x/start",
    "/exec/x/json",
    "/images/json",
    "/images/x/json",
    "/images/x/tag",
    "/images/x/history",
    "/images/x",
    "/images/load",
    "/images/get",
    "/networks",
    "/networks/create",
    "/networks/x",
    "/networks/x/connect",
    "/volumes",
    "/volumes/create",
    "/volumes/x",
    "/events",
    "/system/df",
    "/../../etc/passwd",
    "/%2e%2e/%00",
    "//////",
];
const QUERIES: &[&str] = &[
    "",
    "?all=1",
    "?filters=%7B%22label%22%3A%5B%22a%22%5D%7D",
    "?filters=notjson",
    "?filters=%7B%22until%22%3A%5B%22-999999999999%22%5D%7D",
    "?t=-1",
    "?t=99999999999999999999",
    "?name=%00%ff",
    "?signal=NOPE",
    "?until=0&since=0",
    "?tail=-5",
    "?h=-1&w=999999",
    "?path=../../../../etc",
    "?condition=whatever",
];
const BODIES: &[&str] = &[
    "",
    "{}",
    "null",
    "[]",
    "{\"Image\":null,\"Cmd\":{}}",
    "{\"Image\":\"nosuch\",\"HostConfig\":{\"Memory\":-1,\"Binds\":[\"/:/host\"]}}",
    "{\"Name\":\"\",\"Driver\":7}",
    "{\"AttachStdin\":\"yes\"}",
    "{{{{{{{{",
    "\"\\ud800\"",
    "{\"a\":1e999999}",
];

fn random_request(rng: &mut Rng) -> Vec<u8> {
    let method = rng.pick(METHODS);
    let version = if rng.next().is_multiple_of(3) {
        "/v1.41"
    } else {
        ""
    };
    let path = rng.pick(PATHS);
    let query = rng.pick(QUERIES);
    let mut body: Vec<u8> = rng.pick(BODIES).as_bytes().to_vec();
    if rng.next().is_multiple_of(5) {
        let n = (rng.next() % 4096) as usize;
        body = rng.bytes(n);
    }
    let mut req = format!("{method} {version}{path}{query} HTTP/1.1\r\nHost: b\r\n").into_bytes();
    match rng.next() % 6 {
        0 => req.extend_from_slice(b"Content-Type: application/x-tar\r\n"),
        1 => req.extend_from_slice(b"X-Registry-Auth: !!!notbase64!!!\r\n"),
        2 => req.extend_from_slice(b"Upgrade: tcp\r\nConnection: Upgrade\r\n"),
        _ => req.extend_from_slice(b"Content-Type: application/json\r\n"),
    }
    req.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    req.extend_from_slice(&body);
    req
}

/// Sends `req`, reads whatever comes back within `timeout`, and returns the status (None when
/// the daemon closed without a response: hyper does that for unparsable requests).
fn send(req: &[u8], timeout: Duration) -> Option<u16> {
    let mut s = UnixStream::connect(&daemon().sock).expect("connect");
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let _ = s.write_all(req);
    let mut head = [0u8; 64];
    let n = s.read(&mut head).ok()?;
    String::from_utf8_lossy(&head[..n])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
}

#[test]
fn random_requests_never_break_the_daemon() {
    let _serial = serial();
    let d = daemon();
    let mut rng = Rng(0x5eed_0fbe_2700);
    let mut statuses = std::collections::BTreeMap::new();
    let n = 3000;
    for i in 0..n {
        let req = random_request(&mut rng);
        // `/events` and `wait` stream until their end: a short read timeout is enough.
        let code = send(&req, Duration::from_millis(500));
        *statuses.entry(code).or_insert(0u32) += 1;
        if let Some(c) = code {
            assert!(
                (100..600).contains(&c),
                "status {c} for {:?}",
                String::from_utf8_lossy(&req[..req.len().min(200)])
            );
        }
        if i % 500 == 0 {
            assert_alive();
        }
    }
    assert_alive();
    let panics = d.log_text().matches("panicked").count();
    assert_eq!(panics, 0, "the daemon panicked:\n{}", d.log_text());
    let (hwm, rss) = memory_kib();
    println!("abuse: {n} random requests, statuses {statuses:?}; daemon peak RSS {hwm} KiB, RSS {rss} KiB");
}

#[test]
fn gigabyte_and_endless_bodies_are_cut_off() {
    let _serial = serial();
    let d = daemon();
    let (hwm_before, _) = memory_kib();
    for path in [
        "/containers/create",
        "/networks/create",
        "/volumes/create",
        "/exec/x/start",
    ] {
        // 2 GiB announced and streamed until the daemon stops reading.
        let mut s = UnixStream::connect(&d.sock).expect("connect");
        s.set_write_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let head = format!(
            "POST /v1.41{path} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            2u64 << 30
        );
        s.write_all(head.as_bytes()).expect("head");
        let chunk = vec![b' '; 1 << 20];
        let mut sent = 0u64;
        while sent < (2u64 << 30) {
            if s.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        assert!(
            sent < (2u64 << 30) || resp.starts_with("HTTP/1.1 4"),
            "{path}: 2 GiB accepted ({sent} bytes sent), answer {resp:?}"
        );
        // An endless chunked body.
        let mut s = UnixStream::connect(&d.sock).expect("connect");
        s.set_write_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let head = format!(
            "POST /v1.41{path} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        s.write_all(head.as_bytes()).expect("head");
        let mut chunked = format!("{:x}\r\n", chunk.len()).into_bytes();
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
        let mut sent = 0u64;
        while sent < (2u64 << 30) && s.write_all(&chunked).is_ok() {
            sent += chunk.len() as u64;
        }
        assert!(
            sent < (2u64 << 30),
            "{path}: an endless chunked body was read to 2 GiB"
        );
        assert_alive();
    }
    let (hwm, _) = memory_kib();
    println!("abuse: gigabyte bodies on 4 routes, daemon peak RSS {hwm_before} -> {hwm} KiB");
    assert!(
        hwm < hwm_before + 256 * 1024,
        "the daemon's peak RSS grew from {hwm_before} to {hwm} KiB"
    );
}

#[test]
fn idle_and_half_written_connections_do_not_block_others() {
    let _serial = serial();
    daemon();
    let sock = &daemon().sock;
    let fds_before = daemon_fds();
    let mut held = Vec::new();
    for i in 0..2000 {
        let mut s = UnixStream::connect(sock).expect("connect");
        match i % 4 {
            0 => {}
            1 => {
                let _ = s.write_all(b"GET /containers/json HTTP/1.1\r\nHost: b\r\nX-Slow: ");
            }
            2 => {
                let _ = s.write_all(b"POST /containers/create HTTP/1.1\r\nHost: b\r\nContent-Length: 100\r\n\r\n{\"Im");
            }
            _ => {
                let _ = s.write_all(b"GET /events HTTP/1.1\r\nHost: b\r\n\r\n");
            }
        }
        held.push(s);
    }
    // Others are still served while all of them hang.
    let t = Instant::now();
    assert_alive();
    let out = daemon().run(&["ps", "-a"]);
    out.ok();
    println!(
        "abuse: 2000 idle/half-written connections held; daemon fds {} -> {}; ping + ps took {:?}",
        fds_before,
        daemon_fds(),
        t.elapsed()
    );
    drop(held);
    // Every descriptor of those connections is released once they go away.
    wait_until(
        "descriptors of closed connections released",
        Duration::from_secs(30),
        || daemon_fds() <= fds_before + 5,
    );
}

#[test]
fn abandoned_attach_and_exec_streams_are_freed() {
    let _serial = serial();
    let d = daemon();
    let name = uname("abandon");
    d.run_d(
        &name,
        &["-i"],
        &["sh", "-c", "while true; do echo tick; sleep 0.05; done"],
    )
    .ok();
    let fds_before = daemon_fds();
    for i in 0..40 {
        let mut s = UnixStream::connect(&d.sock).expect("connect");
        if i % 2 == 0 {
            let _ = s.write_all(
                format!(
                    "POST /v1.41/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                )
                .as_bytes(),
            );
        } else {
            let (code, body) = http(
                &d.sock,
                &format!(
                    "POST /v1.41/containers/{name}/exec HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: 64\r\nConnection: close\r\n\r\n{:<64}",
                    "{\"Cmd\":[\"sleep\",\"30\"],\"AttachStdout\":true,\"AttachStdin\":true}"
                ),
            )
            .expect("exec create");
            assert_eq!(code, 201, "{body}");
            let id = body
                .split('"')
                .skip_while(|p| *p != "Id")
                .nth(2)
                .unwrap_or_default()
                .to_string();
            let _ = s.write_all(
                format!(
                    "POST /v1.41/exec/{id}/start HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{{\"Detach\":false}}"
                )
                .as_bytes(),
            );
        }
        // Read a little, then walk away without a word.
        s.set_read_timeout(Some(Duration::from_millis(200))).ok();
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
        drop(s);
    }
    assert_alive();
    wait_until(
        "abandoned streams' descriptors released",
        Duration::from_secs(30),
        || daemon_fds() <= fds_before + 5,
    );
    println!(
        "abuse: 40 abandoned attach/exec streams; daemon fds {fds_before} -> {}",
        daemon_fds()
    );
    d.run(&["rm", "-f", &name]).ok();
}
