//! A fake registry v1 search endpoint: Debian's distribution has none.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A fake registry v1 search endpoint (`/v1/_ping`, `/v1/search?q=&n=`), answering
/// `results` (cut to `n`); returns `127.0.0.1:PORT`. Lives until the test process ends.
pub fn fake_search(results: serde_json::Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind search endpoint");
    let addr = listener.local_addr().expect("local addr").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let results = results.clone();
            std::thread::spawn(move || answer_search(conn, &results));
        }
    });
    addr
}

fn answer_search(conn: TcpStream, results: &serde_json::Value) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&conn);
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() || !first.starts_with("GET ") {
        // A TLS hello (the daemon tries https first) or garbage: hang up.
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/");
    let body = if path.starts_with("/v1/search") {
        let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let param = |k: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .to_string()
        };
        let n: usize = param("n").parse().unwrap_or(25);
        let list: Vec<serde_json::Value> = results
            .as_array()
            .map(|a| a.iter().take(n).cloned().collect())
            .unwrap_or_default();
        serde_json::json!({"num_results": list.len(), "query": param("q"), "results": list})
            .to_string()
    } else {
        "{}".to_string()
    };
    let mut w = &conn;
    let _ = write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
