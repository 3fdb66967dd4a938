//! Host port reservations for published ports: a bound socket keeps the port from other users.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use crate::firewall::Proto;
use crate::{NetError, Result};

/// A reserved host port: holds a bound socket (TCP: listening); dropping it frees the port.
#[derive(Debug)]
pub struct Reservation {
    proto: Proto,
    addr: SocketAddr,
    socket: Socket,
}

#[derive(Debug)]
enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl Reservation {
    /// The reserved protocol.
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// The bound address and port.
    pub fn local_addr(&self) -> SocketAddr {
        let bound = match &self.socket {
            Socket::Tcp(l) => l.local_addr(),
            Socket::Udp(u) => u.local_addr(),
        };
        bound.unwrap_or(self.addr)
    }

    /// The reserved port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }
}

/// Binds `host_ip:port` (0.0.0.0 when None) for `proto`. When the port is taken the error is
/// [`NetError::PortInUse`] with Docker's message.
pub fn reserve(proto: Proto, host_ip: Option<Ipv4Addr>, port: u16) -> Result<Reservation> {
    let ip = host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let addr = SocketAddr::from((ip, port));
    let res = match proto {
        // std sets SO_REUSEADDR on listeners, so TIME_WAIT leftovers do not block the port.
        Proto::Tcp => TcpListener::bind(addr).map(Socket::Tcp),
        Proto::Udp => UdpSocket::bind(addr).map(Socket::Udp),
    };
    match res {
        Ok(s) => Ok(Reservation {
            proto,
            addr,
            socket: s,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(NetError::PortInUse(format!(
            "Error starting userland proxy: listen {proto}4 {ip}:{port}: bind: address already in use"
        ))),
        Err(e) => Err(NetError::io(
            format!("Error starting userland proxy: listen {proto}4 {ip}:{port}"),
            e,
        )),
    }
}

/// The first port, from the start of `/proc/sys/net/ipv4/ip_local_port_range` upward, that
/// can be reserved on `host_ip` for `proto`.
pub fn reserve_any(proto: Proto, host_ip: Option<Ipv4Addr>) -> Result<(u16, Reservation)> {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    for port in start..=u16::MAX {
        match reserve(proto, host_ip, port) {
            Ok(r) => return Ok((port, r)),
            Err(NetError::PortInUse(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(NetError::PortInUse(format!(
        "no free {proto} port on {} from {start}",
        host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_conflict_and_release() {
        let lo = Some(Ipv4Addr::LOCALHOST);
        let (port, r) = reserve_any(Proto::Tcp, lo).unwrap();
        assert!(port >= 1024);
        assert_eq!(r.port(), port);
        let e = reserve(Proto::Tcp, lo, port).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use")
        );
        // UDP on the same number is independent
        let u = reserve(Proto::Udp, lo, port).unwrap();
        assert!(
            matches!(reserve(Proto::Udp, lo, port), Err(NetError::PortInUse(m)) if m.contains("udp4"))
        );
        drop(r);
        drop(u);
        let again = reserve(Proto::Tcp, lo, port).unwrap();
        assert_eq!(again.proto(), Proto::Tcp);
    }
}
