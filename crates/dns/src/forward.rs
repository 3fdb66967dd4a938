//! Relaying raw queries to the upstream nameservers.
//!
//! Each upstream is tried in turn with [`UPSTREAM_TIMEOUT`]; the first answer whose
//! transaction id matches the query's is relayed back unchanged.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout, Instant};

/// How long to wait for one upstream before trying the next.
pub(crate) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest DNS message we accept from an upstream over UDP.
const MAX_UDP: usize = 65535;

/// Relay `query` over UDP to each upstream in turn; `None` when all failed.
pub(crate) async fn udp(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        match timeout(UPSTREAM_TIMEOUT, udp_one(query, *up)).await {
            Ok(Ok(Some(resp))) => return Some(resp),
            Ok(Ok(None)) => tracing::debug!("dns: upstream {up} answered garbage"),
            Ok(Err(e)) => tracing::debug!("dns: upstream {up} (udp): {e}"),
            Err(_) => tracing::debug!("dns: upstream {up} (udp) timed out"),
        }
    }
    None
}

/// One UDP exchange with `up` on a fresh connected socket; reads until a reply with our id.
async fn udp_one(query: &[u8], up: SocketAddr) -> std::io::Result<Option<Vec<u8>>> {
    let bind: SocketAddr = if up.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(up).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; MAX_UDP];
    let deadline = Instant::now() + UPSTREAM_TIMEOUT;
    loop {
        let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => return Ok(None),
        };
        if is_reply_to(query, &buf[..n]) {
            return Ok(Some(buf[..n].to_vec()));
        }
    }
}

/// Relay `query` over TCP to each upstream in turn; `None` when all failed.
pub(crate) async fn tcp(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        match timeout(UPSTREAM_TIMEOUT, tcp_one(query, *up)).await {
            Ok(Ok(Some(resp))) => return Some(resp),
            Ok(Ok(None)) => tracing::debug!("dns: upstream {up} answered garbage"),
            Ok(Err(e)) => tracing::debug!("dns: upstream {up} (tcp): {e}"),
            Err(_) => tracing::debug!("dns: upstream {up} (tcp) timed out"),
        }
    }
    None
}

/// One TCP exchange with `up` (2-byte length prefix framing).
async fn tcp_one(query: &[u8], up: SocketAddr) -> std::io::Result<Option<Vec<u8>>> {
    let Ok(len) = u16::try_from(query.len()) else {
        return Ok(None);
    };
    let mut stream = TcpStream::connect(up).await?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let resp = read_frame(&mut stream).await?;
    Ok(is_reply_to(query, &resp).then_some(resp))
}

/// Read one length-prefixed DNS message from a stream.
pub(crate) async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).await?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Whether `resp` looks like the answer to `query`: same id, QR bit set.
fn is_reply_to(query: &[u8], resp: &[u8]) -> bool {
    resp.len() >= 12 && query.len() >= 2 && resp[..2] == query[..2] && resp[2] & 0x80 != 0
}
