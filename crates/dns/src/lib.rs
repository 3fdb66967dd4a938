//! # berth-dns: the embedded DNS server of berth user networks
//!
//! Like Docker's embedded DNS (libnetwork's resolver), berth runs one DNS server per user
//! network, on `<gateway>:53` (UDP and TCP) in the host's network namespace; containers on
//! that network get `nameserver <gateway>` in their `/etc/resolv.conf`.
//!
//! ## Behaviour
//! - `A` (and `ANY`) queries for a name the engine's [`Lookup`] knows for the client's network
//!   are answered locally with those addresses, TTL 600, RA set and AA clear (as Docker 20.10);
//!   several addresses are rotated by query id (Docker shuffles them).
//! - Other types (`AAAA`, `MX`, `TXT`, ...) for a known name: NOERROR with no answers, not
//!   forwarded (Docker does this for AAAA and MX; it forwards TXT/ANY, which upstreams answer
//!   with NXDOMAIN, a lie about a name that exists, so berth answers those locally too).
//! - Names are matched as given (lowercased, trailing dot dropped); a trailing search domain
//!   is not stripped.
//! - `PTR d.c.b.a.in-addr.arpa` asks [`Lookup::lookup_ptr`].
//! - Everything else is relayed unchanged to the upstreams (each tried in turn, ~2 s each;
//!   [`Lookup::upstreams`] may give a client its own, e.g. a container's `--dns`),
//!   over UDP for UDP clients and over TCP for TCP clients; SERVFAIL when all fail.
//! - Garbage packets, responses and queries without a question are ignored. Each UDP query
//!   is handled in its own task, so a slow upstream never delays local answers.
//! - UDP answers larger than the client's payload size (512, or its EDNS size) are sent
//!   truncated (TC set) so the client retries over TCP.
//!
//! ## Why hickory-proto and not hickory-server
//! Only message parsing/encoding is needed: the server is two small tokio loops and the
//! forwarding is a raw relay of the client's bytes. `hickory-proto` without default features
//! builds fast; `hickory-server` would bring an authority/catalog model, its own
//! runtime plumbing and a resolver we would not use.
//!
//! ## Example
//! ```no_run
//! # async fn demo(lookup: std::sync::Arc<dyn berth_dns::Lookup>) -> Result<(), berth_dns::DnsError> {
//! let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
//! let upstreams = berth_dns::upstreams_from_resolv_conf(&conf);
//! let server = berth_dns::DnsServer::start("172.18.0.1:53".parse().unwrap(), lookup, upstreams).await?;
//! println!("dns on {}", server.local_addr());
//! drop(server); // stops it
//! # Ok(()) }
//! ```

mod answer;
mod error;
mod forward;
mod resolv;
mod server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub use error::DnsError;
pub use resolv::upstreams_from_resolv_conf;
pub use server::DnsServer;

/// Name resolution for containers, provided by the engine.
pub trait Lookup: Send + Sync + 'static {
    /// A records of `name` (lowercase, no trailing dot) for a query from `client`;
    /// Some(vec) when the name is a container/alias known to `client`'s network (answer locally), None = forward.
    ///
    /// Called on a tokio worker thread: must not block for long.
    fn lookup_a(&self, client: IpAddr, name: &str) -> Option<Vec<Ipv4Addr>>;
    /// PTR for a container IP on `client`'s network: Some("name.") or None (forward).
    fn lookup_ptr(&self, client: IpAddr, ip: Ipv4Addr) -> Option<String>;
    /// The nameservers queries from `client` that are not answered locally
    /// are relayed to, when the client has its own (a container's `--dns`);
    /// None = the server's upstreams. Must not block for long.
    fn upstreams(&self, _client: IpAddr) -> Option<Vec<SocketAddr>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}

    struct Never;
    impl Lookup for Never {
        fn lookup_a(&self, _: IpAddr, _: &str) -> Option<Vec<Ipv4Addr>> {
            None
        }
        fn lookup_ptr(&self, _: IpAddr, _: Ipv4Addr) -> Option<String> {
            None
        }
    }

    #[tokio::test]
    async fn server_and_start_future_are_send() {
        let fut = DnsServer::start(
            "127.0.0.1:0".parse().unwrap(),
            std::sync::Arc::new(Never),
            vec![],
        );
        assert_send(&fut);
        let server = fut.await.unwrap();
        assert_send_sync(&server);
        assert!(server.local_addr().ip().is_loopback());
    }
}
