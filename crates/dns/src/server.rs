//! The UDP and TCP serving loops and the [`DnsServer`] handle.
//!
//! Every task of a server (the two loops, and the per-query / per-connection tasks, which
//! live in `JoinSet`s owned by the loops) is aborted when the handle is dropped, which
//! closes the listening sockets. Only the loop tasks own the listening sockets, so the
//! address is free again as soon as those two tasks are gone ([`DnsServer::stop`] awaits that).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::answer::{self, Action, Transport};
use crate::{forward, DnsError, Lookup};

/// Most UDP queries handled at once; more are dropped (the client retries).
const MAX_UDP_INFLIGHT: usize = 1024;
/// Most TCP connections served at once; more are closed right away.
const MAX_TCP_CONNS: usize = 256;
/// A TCP connection idle this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Shared state of one server's tasks.
struct Ctx {
    lookup: Arc<dyn Lookup>,
    upstreams: Vec<SocketAddr>,
}

impl Ctx {
    /// The bytes to send back for `packet` from `client`, if any.
    async fn respond(
        &self,
        packet: &[u8],
        client: IpAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        match answer::handle(packet, client, self.lookup.as_ref(), transport) {
            Action::Reply(bytes) => Some(bytes),
            Action::Ignore => None,
            Action::Forward(request) => {
                // A client with servers of its own (`--dns`) is forwarded there.
                let own = self.lookup.upstreams(client);
                let upstreams = own.as_deref().unwrap_or(&self.upstreams);
                let relayed = match transport {
                    Transport::Udp => forward::udp(packet, upstreams).await,
                    Transport::Tcp => forward::tcp(packet, upstreams).await,
                };
                relayed.or_else(|| answer::servfail(&request))
            }
        }
    }
}

/// A running embedded DNS server (UDP + TCP on one address). Dropping it stops it.
pub struct DnsServer {
    local: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Bind UDP and TCP on `listen` (port 0 picks a free port, the same for both) and start
    /// serving in the current tokio runtime. Queries the [`Lookup`] can't answer are relayed
    /// to `upstreams` (tried in order; the server's own address is skipped to avoid loops).
    pub async fn start(
        listen: SocketAddr,
        lookup: Arc<dyn Lookup>,
        upstreams: Vec<SocketAddr>,
    ) -> Result<DnsServer, DnsError> {
        let (udp, tcp) = bind_pair(listen).await?;
        let local = udp.local_addr().map_err(|source| DnsError::Io {
            context: format!("local address of udp socket bound on {listen}"),
            source,
        })?;
        let upstreams = upstreams.into_iter().filter(|u| *u != local).collect();
        let ctx = Arc::new(Ctx { lookup, upstreams });
        let tasks = vec![
            tokio::spawn(udp_loop(udp, ctx.clone())),
            tokio::spawn(tcp_loop(tcp, ctx)),
        ];
        tracing::debug!("dns: serving on {local}");
        Ok(DnsServer { local, tasks })
    }

    /// The address actually bound (UDP and TCP share it).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stop the server and wait until its sockets are closed (dropping it also stops it,
    /// but the sockets are then closed a moment later by the runtime).
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Bind UDP then TCP on the same address; with port 0, retry a few times when the port
/// the UDP socket got is taken for TCP.
async fn bind_pair(listen: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let mut attempt = 0;
    loop {
        let udp = UdpSocket::bind(listen)
            .await
            .map_err(|source| DnsError::Bind {
                proto: "udp",
                addr: listen,
                source,
            })?;
        let port = udp
            .local_addr()
            .map(|a| a.port())
            .map_err(|source| DnsError::Io {
                context: format!("local address of udp socket bound on {listen}"),
                source,
            })?;
        let tcp_addr = SocketAddr::new(listen.ip(), port);
        match TcpListener::bind(tcp_addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if listen.port() == 0 && attempt < 10 => {
                tracing::debug!("dns: tcp port {port} busy ({e}), retrying");
                attempt += 1;
            }
            Err(source) => {
                return Err(DnsError::Bind {
                    proto: "tcp",
                    addr: tcp_addr,
                    source,
                })
            }
        }
    }
}

/// Receive datagrams; each one is handled in its own task; replies go back through a
/// channel so that only this task owns the socket.
async fn udp_loop(sock: UdpSocket, ctx: Arc<Ctx>) {
    let (tx, mut rx) = mpsc::channel::<(Vec<u8>, SocketAddr)>(256);
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut buf = vec![0u8; 65535];
    loop {
        tokio::select! {
            received = sock.recv_from(&mut buf) => match received {
                Ok((n, peer)) => {
                    if tasks.len() >= MAX_UDP_INFLIGHT {
                        tracing::debug!("dns: too many queries in flight, dropping one from {peer}");
                        continue;
                    }
                    let packet = buf[..n].to_vec();
                    let ctx = ctx.clone();
                    let tx = tx.clone();
                    tasks.spawn(async move {
                        if let Some(resp) = ctx.respond(&packet, peer.ip(), Transport::Udp).await {
                            let _ = tx.send((resp, peer)).await;
                        }
                    });
                }
                Err(e) => {
                    tracing::debug!("dns: udp receive: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some((resp, peer)) = rx.recv() => {
                if let Err(e) = sock.send_to(&resp, peer).await {
                    tracing::debug!("dns: udp send to {peer}: {e}");
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
}

/// Accept TCP connections, each served in its own task.
async fn tcp_loop(listener: TcpListener, ctx: Arc<Ctx>) {
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if conns.len() >= MAX_TCP_CONNS {
                        tracing::debug!("dns: too many tcp connections, closing one from {peer}");
                        continue;
                    }
                    conns.spawn(serve_conn(stream, peer, ctx.clone()));
                }
                Err(e) => {
                    tracing::debug!("dns: tcp accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Serve length-prefixed queries on one TCP connection until EOF, error or idleness.
async fn serve_conn(mut stream: TcpStream, peer: SocketAddr, ctx: Arc<Ctx>) {
    loop {
        let packet = match tokio::time::timeout(TCP_IDLE, forward::read_frame(&mut stream)).await {
            Ok(Ok(p)) => p,
            _ => return,
        };
        let Some(resp) = ctx.respond(&packet, peer.ip(), Transport::Tcp).await else {
            continue;
        };
        let Ok(len) = u16::try_from(resp.len()) else {
            continue;
        };
        let mut framed = Vec::with_capacity(resp.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&resp);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// Knows no name; sends one client to its own nameservers.
    struct OwnServers {
        client: IpAddr,
        servers: Vec<SocketAddr>,
    }

    impl Lookup for OwnServers {
        fn lookup_a(&self, _: IpAddr, _: &str) -> Option<Vec<Ipv4Addr>> {
            None
        }
        fn lookup_ptr(&self, _: IpAddr, _: Ipv4Addr) -> Option<String> {
            None
        }
        fn upstreams(&self, client: IpAddr) -> Option<Vec<SocketAddr>> {
            (client == self.client).then(|| self.servers.clone())
        }
    }

    /// A query for `x.example` A IN with id `id`.
    fn query(id: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        q.extend_from_slice(b"\x01x\x07example\x00\x00\x01\x00\x01");
        q
    }

    #[tokio::test]
    async fn client_with_own_servers_is_forwarded_to_them() {
        // The client's own server echoes the query back as an answer.
        let own = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let own_addr = own.local_addr().unwrap();
        let echo = tokio::spawn(async move {
            let mut buf = vec![0u8; 512];
            let (n, peer) = own.recv_from(&mut buf).await.unwrap();
            buf[2] |= 0x80;
            own.send_to(&buf[..n], peer).await.unwrap();
            buf[..n].to_vec()
        });
        // The server's default upstream is a socket that never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let lookup = Arc::new(OwnServers {
            client: IpAddr::V4(Ipv4Addr::LOCALHOST),
            servers: vec![own_addr],
        });
        let server = DnsServer::start(
            "127.0.0.1:0".parse().unwrap(),
            lookup,
            vec![silent.local_addr().unwrap()],
        )
        .await
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client
            .send_to(&query(0x4242), server.local_addr())
            .await
            .unwrap();
        let mut buf = vec![0u8; 512];
        // A guard against hanging forever, not a timing assertion.
        let (n, _) = tokio::time::timeout(Duration::from_secs(60), client.recv_from(&mut buf))
            .await
            .expect("no answer: the query went to the server's upstream")
            .unwrap();
        assert_eq!(
            buf[3] & 0x0f,
            0,
            "not a SERVFAIL from the server's own upstream"
        );
        let seen = echo.await.unwrap();
        assert_eq!(
            &seen[..2],
            &[0x42, 0x42],
            "the query reached the client's own server"
        );
        assert_eq!(&buf[..2], &[0x42, 0x42]);
        assert_ne!(buf[2] & 0x80, 0, "relayed answer");
        assert_eq!(n, seen.len());
    }
}
