//! The client against a small in-process HTTP server on a unix socket:
//! version negotiation, daemon errors, streamed uploads, JSON-message
//! streams and the attach hijack.

use std::convert::Infallible;
use std::path::PathBuf;

use berth_client::{
    encode_frame, reader_body, AuthConfig, Client, ClientError, Filters, ImportOptions, MuxDecoder,
    SearchOptions, StreamKind,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

fn reply(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Api-Version", "1.40")
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let registry_auth = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok(match path.as_str() {
        "/v1.40/images/search" => reply(
            200,
            &serde_json::json!([{"name": query, "description": registry_auth, "star_count": 2}])
                .to_string(),
        ),
        "/v1.40/auth" => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
            reply(
                200,
                &serde_json::json!({"Status": "Login Succeeded", "IdentityToken": sent["username"]})
                    .to_string(),
            )
        }
        "/_ping" => reply(200, "OK"),
        "/v1.40/containers/web/attach" => {
            tokio::spawn(async move {
                let mut io = TokioIo::new(hyper::upgrade::on(req).await.unwrap());
                io.write_all(&encode_frame(StreamKind::Stdout, b"out\n")).await.unwrap();
                io.write_all(&encode_frame(StreamKind::Stderr, b"err\n")).await.unwrap();
                io.shutdown().await.unwrap();
            });
            Response::builder()
                .status(101)
                .header("Connection", "Upgrade")
                .header("Upgrade", "tcp")
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
        "/v1.40/images/create" => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            reply(
                200,
                &format!(
                    "{{\"status\":\"query {query}\"}}\r\n{{\"status\":\"sha256:{}\"}}\r\n",
                    body.len()
                ),
            )
        }
        "/v1.40/images/load" => reply(
            200,
            "{\"stream\":\"starting\\n\"}\n{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\n",
        ),
        "/v1.40/containers/nosuch/json" => reply(404, "{\"message\":\"No such container: nosuch\"}"),
        _ => reply(404, "{\"message\":\"page not found\"}"),
    })
}

fn serve() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("d.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(handle))
                    .with_upgrades()
                    .await;
            });
        }
    });
    (dir, sock)
}

#[tokio::test(flavor = "current_thread")]
async fn negotiates_down_to_the_daemon_version() {
    let (_dir, sock) = serve();
    let mut c = Client::new(&format!("unix://{}", sock.display())).unwrap();
    assert_eq!(c.api_version(), "1.41");
    let ping = c.negotiate().await.unwrap();
    assert_eq!(ping.api_version.as_deref(), Some("1.40"));
    assert_eq!(c.api_version(), "1.40");
}

#[tokio::test(flavor = "current_thread")]
async fn daemon_errors_carry_status_and_message() {
    let (_dir, sock) = serve();
    let mut c = Client::new(sock.to_str().unwrap()).unwrap();
    c.negotiate().await.unwrap();
    let err = c.container_inspect_raw("nosuch", false).await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        "Error response from daemon: No such container: nosuch"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn missing_socket_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new(dir.path().join("absent.sock").to_str().unwrap()).unwrap();
    let err = c.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(matches!(err, ClientError::DaemonUnavailable { .. }));
}

#[tokio::test(flavor = "current_thread")]
async fn import_streams_the_body_and_reads_messages() {
    let (dir, sock) = serve();
    let mut c = Client::new(sock.to_str().unwrap()).unwrap();
    c.negotiate().await.unwrap();
    let file = dir.path().join("big.tar");
    std::fs::write(&file, vec![7u8; 3 * 1024 * 1024 + 11]).unwrap();
    let body = reader_body(tokio::fs::File::open(&file).await.unwrap());
    let opts = ImportOptions {
        repo: "img".into(),
        tag: "1".into(),
        message: String::new(),
        changes: vec!["CMD [\"sh\"]".into()],
    };
    let msgs = c
        .image_import(body, &opts)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        msgs[0].status.as_deref(),
        Some("query fromSrc=-&repo=img&tag=1&changes=CMD%20%5B%22sh%22%5D")
    );
    assert_eq!(msgs[1].status.as_deref(), Some("sha256:3145739"));
}

#[tokio::test(flavor = "current_thread")]
async fn stream_errors_end_the_stream() {
    let (_dir, sock) = serve();
    let mut c = Client::new(sock.to_str().unwrap()).unwrap();
    c.negotiate().await.unwrap();
    let mut s = c
        .image_load(berth_client::full_body("x"), false)
        .await
        .unwrap();
    assert_eq!(
        s.next().await.unwrap().unwrap().stream.as_deref(),
        Some("starting\n")
    );
    let err = s.next().await.unwrap_err();
    assert_eq!(err.to_string(), "unexpected EOF");
}

#[tokio::test(flavor = "current_thread")]
async fn attach_hijacks_the_connection() {
    let (_dir, sock) = serve();
    let mut c = Client::new(sock.to_str().unwrap()).unwrap();
    c.negotiate().await.unwrap();
    let mut stream = c.container_attach("web", false, true, true).await.unwrap();
    assert!(matches!(stream, berth_client::RawStream::Upgraded(_)));
    let mut dec = MuxDecoder::new();
    let mut frames = Vec::new();
    while let Some(chunk) = stream.next_chunk().await.unwrap() {
        dec.push(&chunk);
        while let Some(f) = dec.next_frame().unwrap() {
            frames.push((f.kind, f.data));
        }
    }
    assert_eq!(
        frames,
        vec![
            (StreamKind::Stdout, Bytes::from_static(b"out\n")),
            (StreamKind::Stderr, Bytes::from_static(b"err\n")),
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn search_and_login_carry_credentials() {
    let (_dir, sock) = serve();
    let mut c = Client::new(sock.to_str().unwrap()).unwrap();
    c.negotiate().await.unwrap();
    let auth = AuthConfig {
        username: "u".into(),
        password: "p".into(),
        server_address: "127.0.0.1:5000".into(),
        ..Default::default()
    };
    let mut filters = Filters::new();
    filters.insert("is-official".into(), vec!["true".into()]);
    let found = c
        .image_search(&SearchOptions {
            term: "127.0.0.1:5000/x".into(),
            limit: Some(5),
            filters,
            registry_auth: Some(auth.encode_header()),
        })
        .await
        .unwrap();
    assert_eq!(
        found[0].name,
        "term=127.0.0.1%3A5000%2Fx&limit=5&filters=%7B%22is-official%22%3A%7B%22true%22%3Atrue%7D%7D"
    );
    assert_eq!(
        AuthConfig::decode_header(&found[0].description),
        Some(auth.clone())
    );
    let ok = c.registry_login(&auth).await.unwrap();
    assert_eq!(ok.status, "Login Succeeded");
    assert_eq!(ok.identity_token, "u");
}
