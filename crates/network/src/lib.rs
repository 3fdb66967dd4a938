//! Container networking for berth.
//!
//! - [`ipam`]: subnets, Docker's default address pools, per-network address pools, MACs.
//! - [`netns`]: network namespaces bind-mounted on files.
//! - [`link`]: bridges, veth endpoints, host routes (rtnetlink).
//! - [`firewall`]: iptables rules (forwarding, NAT, published ports), per-daemon chain prefix.
//! - [`ports`]: host port reservations for published ports.

#![deny(missing_docs)]

mod error;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod netns;
pub mod ports;

pub use error::{NetError, Result};
