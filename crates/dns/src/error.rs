//! The crate's error type.

use std::net::SocketAddr;

/// Errors of the embedded DNS server.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// Binding a listening socket failed.
    #[error("dns: cannot bind {proto} socket on {addr}: {source}")]
    Bind {
        /// "udp" or "tcp".
        proto: &'static str,
        /// The address that could not be bound.
        addr: SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Other I/O error.
    #[error("dns: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Underlying error.
        source: std::io::Error,
    },
}
