//! End-to-end tests of the embedded DNS server on loopback, with a fake Lookup and fake upstreams.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use berth_dns::{DnsServer, Lookup};
use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

/// A hang guard for waits that must end (never what a test asserts on).
const HANG_GUARD: Duration = Duration::from_secs(20);

/// Knows "web" -> 10.9.0.3 (and "multi" -> two addresses) for clients on 127.0.0.0/8.
struct Fake;

impl Lookup for Fake {
    fn lookup_a(&self, client: IpAddr, name: &str) -> Option<Vec<Ipv4Addr>> {
        let IpAddr::V4(c) = client else { return None };
        if !c.is_loopback() {
            return None;
        }
        match name {
            "web" => Some(vec![Ipv4Addr::new(10, 9, 0, 3)]),
            "multi" => Some(vec![Ipv4Addr::new(10, 9, 0, 4), Ipv4Addr::new(10, 9, 0, 5)]),
            _ => None,
        }
    }
    fn lookup_ptr(&self, _client: IpAddr, ip: Ipv4Addr) -> Option<String> {
        (ip == Ipv4Addr::new(10, 9, 0, 3)).then(|| "web.".to_string())
    }
}

fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    m
}

async fn start(upstreams: Vec<SocketAddr>) -> DnsServer {
    DnsServer::start("127.0.0.1:0".parse().unwrap(), Arc::new(Fake), upstreams)
        .await
        .unwrap()
}

/// Send `q` over UDP to `server` and wait (up to `wait`) for the reply.
async fn ask_udp(server: SocketAddr, q: &Message, wait: Duration) -> Option<Message> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&q.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some(Message::from_vec(&buf[..n]).unwrap())
}

async fn ask_tcp(server: SocketAddr, q: &Message) -> Message {
    let mut s = TcpStream::connect(server).await.unwrap();
    write_frame(&mut s, &q.to_vec().unwrap()).await;
    let resp = read_frame(&mut s).await;
    Message::from_vec(&resp).unwrap()
}

async fn write_frame(s: &mut TcpStream, b: &[u8]) {
    let mut f = (b.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(b);
    s.write_all(&f).await.unwrap();
}

async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.unwrap();
    buf
}

/// The address the fake upstreams answer with.
const UPSTREAM_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);

/// The answer a fake upstream gives: `name` A `ip`, TTL 33.
fn upstream_answer(req: &Message, ip: Ipv4Addr) -> Vec<u8> {
    let mut r = Message::response(req.metadata.id, req.metadata.op_code);
    r.metadata.recursion_available = true;
    r.add_query(req.queries[0].clone());
    r.add_answer(Record::from_rdata(
        req.queries[0].name().clone(),
        33,
        RData::A(A(ip)),
    ));
    r.to_vec().unwrap()
}

/// When a fake UDP upstream answers.
enum Reply {
    /// Every query right away.
    Now,
    /// The first query once the paired sender fires (or is dropped), later ones right away.
    After(oneshot::Receiver<()>),
    /// Never.
    Never,
}

/// A fake UDP upstream answering with `ip` as `reply` says; returns its address and a
/// channel of the raw queries it received (each reported before it is answered).
async fn udp_upstream(
    ip: Ipv4Addr,
    reply: Reply,
) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut hold, never) = match reply {
            Reply::Now => (None, false),
            Reply::After(release) => (Some(release), false),
            Reply::Never => (None, true),
        };
        let mut buf = vec![0u8; 65535];
        while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
            let raw = buf[..n].to_vec();
            let req = Message::from_vec(&raw).unwrap();
            let _ = tx.send(raw);
            if never {
                continue;
            }
            if let Some(release) = hold.take() {
                let _ = release.await;
            }
            sock.send_to(&upstream_answer(&req, ip), peer)
                .await
                .unwrap();
        }
    });
    (addr, rx)
}

/// The next query a fake upstream reported (panics if none comes: a hang guard).
async fn next(seen: &mut mpsc::UnboundedReceiver<Vec<u8>>) -> Vec<u8> {
    tokio::time::timeout(HANG_GUARD, seen.recv())
        .await
        .expect("the upstream was never asked")
        .expect("the upstream task ended")
}

/// A fake UDP upstream answering every query at once with [`UPSTREAM_IP`].
async fn fake_udp_upstream() -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    udp_upstream(UPSTREAM_IP, Reply::Now).await
}

/// A loopback UDP port with nothing bound on it (ICMP port unreachable -> fast failure).
async fn dead_port() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.local_addr().unwrap()
}

#[tokio::test]
async fn answers_known_name_over_udp() {
    let server = start(vec![]).await;
    assert_ne!(server.local_addr().port(), 0);
    let q = query("Web.", RecordType::A);
    let r = ask_udp(server.local_addr(), &q, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.recursion_available);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].ttl, 600);
    assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(10, 9, 0, 3))));

    let r = ask_udp(
        server.local_addr(),
        &query("multi", RecordType::A),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let mut ips: Vec<RData> = r.answers.iter().map(|a| a.data.clone()).collect();
    ips.sort_by_key(|d| format!("{d}"));
    assert_eq!(
        ips,
        vec![
            RData::A(A(Ipv4Addr::new(10, 9, 0, 4))),
            RData::A(A(Ipv4Addr::new(10, 9, 0, 5)))
        ]
    );
}

#[tokio::test]
async fn aaaa_of_known_name_is_empty_and_not_forwarded() {
    let (up, mut seen) = fake_udp_upstream().await;
    let server = start(vec![up]).await;
    let r = ask_udp(
        server.local_addr(),
        &query("web", RecordType::AAAA),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert!(
        seen.try_recv().is_err(),
        "query must not reach the upstream"
    );
}

#[tokio::test]
async fn answers_ptr_and_tcp() {
    let server = start(vec![]).await;
    let r = ask_udp(
        server.local_addr(),
        &query("3.0.9.10.in-addr.arpa.", RecordType::PTR),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(r.answers.len(), 1);
    assert_eq!(
        r.answers[0].data,
        RData::PTR(PTR(Name::from_str("web.").unwrap()))
    );

    let q = query("web", RecordType::A);
    let r = ask_tcp(server.local_addr(), &q).await;
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(10, 9, 0, 3))));
}

#[tokio::test]
async fn forwards_unknown_names_over_udp_and_skips_failed_upstreams() {
    // Tried in order: a closed port (refused), one that never answers, one that answers.
    let dead = dead_port().await;
    let (silent, mut silent_seen) = udp_upstream(Ipv4Addr::new(192, 0, 2, 66), Reply::Never).await;
    let (up, mut seen) = fake_udp_upstream().await;
    let server = start(vec![dead, silent, up]).await;
    let q = query("example.org.", RecordType::A);
    let r = ask_udp(server.local_addr(), &q, HANG_GUARD).await.unwrap();
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    // the answer is the good upstream's, relayed unchanged ...
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].ttl, 33);
    assert_eq!(r.answers[0].data, RData::A(A(UPSTREAM_IP)));
    assert_eq!(next(&mut seen).await, q.to_vec().unwrap());
    // ... after the silent one was asked (and given up on), not instead of asking it
    assert_eq!(next(&mut silent_seen).await, q.to_vec().unwrap());
}

#[tokio::test]
async fn forwards_over_tcp_for_tcp_clients() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let raw = read_frame(&mut s).await;
            let req = Message::from_vec(&raw).unwrap();
            write_frame(&mut s, &upstream_answer(&req, UPSTREAM_IP)).await;
        }
    });
    let server = start(vec![up]).await;
    let q = query("example.net", RecordType::A);
    let r = ask_tcp(server.local_addr(), &q).await;
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].ttl, 33);
}

#[tokio::test]
async fn servfail_when_all_upstreams_fail() {
    let dead = dead_port().await;
    let server = start(vec![dead]).await;
    let q = query("example.com", RecordType::A);
    let r = ask_udp(server.local_addr(), &q, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert!(r.answers.is_empty());

    // no upstreams at all
    let server = start(vec![]).await;
    let r = ask_udp(server.local_addr(), &q, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test]
async fn slow_upstream_does_not_block_local_answers() {
    let (release, held) = oneshot::channel();
    let (up, mut seen) = udp_upstream(UPSTREAM_IP, Reply::After(held)).await;
    let server = start(vec![up]).await;
    let addr = server.local_addr();
    let slow = tokio::spawn(async move {
        ask_udp(addr, &query("slow.example", RecordType::A), HANG_GUARD).await
    });
    // The forwarded query is now held by the upstream ...
    next(&mut seen).await;
    // ... and a local name is answered meanwhile.
    let r = ask_udp(addr, &query("web", RecordType::A), HANG_GUARD)
        .await
        .expect("local answer while the upstream holds its reply");
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(10, 9, 0, 3))));
    // Only now does the upstream answer, and the slow query gets that answer: the local one
    // came while the forward was still pending.
    release.send(()).unwrap();
    let slow = slow.await.unwrap().expect("slow query answered");
    assert_eq!(slow.metadata.response_code, ResponseCode::NoError);
    assert_eq!(slow.answers.len(), 1);
    assert_eq!(slow.answers[0].data, RData::A(A(UPSTREAM_IP)));
}

#[tokio::test]
async fn garbage_is_ignored() {
    let server = start(vec![]).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for junk in [&b""[..], &[0xffu8; 3][..], &[0u8; 12][..], &[0xab; 600][..]] {
        sock.send_to(junk, server.local_addr()).await.unwrap();
    }
    // A real query sent after the garbage: the first (and only) reply is its answer, so
    // nothing was sent back for the garbage (datagrams are handled in arrival order).
    let mut q = query("web", RecordType::A);
    q.metadata.id = 0x5151;
    sock.send_to(&q.to_vec().unwrap(), server.local_addr())
        .await
        .unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(HANG_GUARD, sock.recv_from(&mut buf))
        .await
        .expect("the real query is answered")
        .unwrap();
    let r = Message::from_vec(&buf[..n]).expect("a DNS message");
    assert_eq!(
        r.metadata.id, 0x5151,
        "first reply is not the query's: {r:?}"
    );
    assert_eq!(r.answers.len(), 1);
    // garbage over TCP: the connection is just served/closed, the server keeps working
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    write_frame(&mut s, &[1, 2, 3]).await;
    drop(s);
    let r = ask_udp(
        server.local_addr(),
        &query("web", RecordType::A),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(r.answers.len(), 1);
}

#[tokio::test]
async fn stop_and_drop_free_the_address() {
    let server = start(vec![]).await;
    let addr = server.local_addr();
    server.stop().await;
    let again = DnsServer::start(addr, Arc::new(Fake), vec![])
        .await
        .unwrap();
    assert_eq!(again.local_addr(), addr);
    let r = ask_udp(addr, &query("web", RecordType::A), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(r.answers.len(), 1);
    drop(again);
    // Dropping aborts the server's tasks; the runtime closes their sockets when it next
    // runs them, so yield to it until both binds succeed (no sleeping, no timing).
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let udp = UdpSocket::bind(addr).await;
            let tcp = TcpListener::bind(addr).await;
            if udp.is_ok() && tcp.is_ok() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("udp and tcp ports freed by drop");
}

#[tokio::test]
async fn start_reports_bind_errors() {
    let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let err = DnsServer::start(taken.local_addr().unwrap(), Arc::new(Fake), vec![])
        .await
        .err()
        .expect("bind must fail");
    assert!(err.to_string().contains("udp"), "{err}");
}
