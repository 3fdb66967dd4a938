//! IPv4 address management: subnets, Docker's default pools, per-network address pools and MACs.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{NetError, Result};

/// An IPv4 subnet; `addr` always has its host bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subnet {
    /// Network address (host bits zero).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

impl Default for Subnet {
    fn default() -> Subnet {
        Subnet {
            addr: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
        }
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

impl Subnet {
    /// The subnet of `addr/prefix` with host bits cleared (prefix clamped to 32).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        let prefix = prefix.min(32);
        Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        }
    }

    /// Number of addresses in the subnet (2^(32-prefix)).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix.min(32)))
    }

    /// Whether `ip` is inside the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = mask(self.prefix);
        u32::from(ip) & m == u32::from(self.addr) & m
    }

    /// Whether the two subnets share at least one address.
    pub fn overlaps(&self, o: &Subnet) -> bool {
        self.contains(o.addr) || o.contains(self.addr)
    }

    /// The `n`-th address of the subnet (0 = network address), None past its end.
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        if u64::from(n) >= self.size() {
            return None;
        }
        Some(Ipv4Addr::from(u32::from(self.addr).wrapping_add(n)))
    }

    /// The broadcast (last) address of the subnet.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    /// The default gateway: the first host address (`.1`).
    pub fn gateway(&self) -> Ipv4Addr {
        self.nth(1).unwrap_or(self.addr)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = NetError;

    /// Parses `a.b.c.d/n` (host bits are masked off) or a bare address (`/32`).
    fn from_str(s: &str) -> Result<Subnet> {
        let bad = || NetError::InvalidSubnet(s.to_string());
        let (ip, prefix) = match s.trim().split_once('/') {
            Some((ip, p)) => (ip, p.parse::<u8>().map_err(|_| bad())?),
            None => (s.trim(), 32),
        };
        if prefix > 32 {
            return Err(bad());
        }
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        Ok(Subnet::new(ip, prefix))
    }
}

/// Docker's default local address pools, in order: 172.17.0.0/16 ... 172.31.0.0/16,
/// then 192.168.0.0/20 ... 192.168.240.0/20.
pub fn default_pools() -> Vec<Subnet> {
    let mut v: Vec<Subnet> = (17u8..=31)
        .map(|b| Subnet::new(Ipv4Addr::new(172, b, 0, 0), 16))
        .collect();
    v.extend((0u16..16).map(|i| Subnet::new(Ipv4Addr::new(192, 168, (i * 16) as u8, 0), 20)));
    v
}

/// The first of `candidates` that overlaps none of `taken`.
pub fn choose_subnet(candidates: &[Subnet], taken: &[Subnet]) -> Option<Subnet> {
    candidates
        .iter()
        .find(|c| !taken.iter().any(|t| t.overlaps(c)))
        .copied()
}

/// Docker's MAC for an IP: `02:42:` followed by the four address bytes in hex.
pub fn mac_from_ip(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// Parses `aa:bb:cc:dd:ee:ff` into bytes.
pub fn parse_mac(mac: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = mac.split(':');
    for b in out.iter_mut() {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// The addresses of one network: which are allocated, and where round-robin allocation resumes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pool {
    /// The network's subnet.
    pub subnet: Subnet,
    /// The gateway (never allocated to an endpoint).
    pub gateway: Ipv4Addr,
    /// Addresses held by endpoints.
    pub allocated: BTreeSet<Ipv4Addr>,
    /// The last address handed out; allocation continues after it.
    pub last: Option<Ipv4Addr>,
    /// `--ip-range`: automatic allocation stays inside it (a sub-range of the subnet).
    #[serde(default)]
    pub range: Option<Subnet>,
}

impl Default for Pool {
    fn default() -> Pool {
        Pool::new(Subnet::default(), Ipv4Addr::UNSPECIFIED)
    }
}

impl Pool {
    /// An empty pool.
    pub fn new(subnet: Subnet, gateway: Ipv4Addr) -> Pool {
        Pool {
            subnet,
            gateway,
            allocated: BTreeSet::new(),
            last: None,
            range: None,
        }
    }

    /// An empty pool whose automatic allocation stays inside `range`
    /// (`--ip-range`); errors with dockerd's message when `range` is not
    /// inside `subnet`.
    pub fn with_range(subnet: Subnet, gateway: Ipv4Addr, range: Subnet) -> Result<Pool> {
        if range.prefix < subnet.prefix || !subnet.contains(range.addr) {
            return Err(NetError::NoAddress(format!(
                "Invalid ip-range {range}: not within subnet {subnet}"
            )));
        }
        let mut p = Pool::new(subnet, gateway);
        p.range = Some(range);
        Ok(p)
    }

    /// Usable host addresses as offsets [first, last] within the subnet.
    fn host_range(&self) -> Option<(u32, u32)> {
        match self.prefix_kind() {
            HostKind::None => None,
            HostKind::All(n) => Some((0, n - 1)),
            HostKind::Inner(n) => Some((1, n - 2)),
        }
    }

    /// Offsets [first, last] of automatic allocation: the host range,
    /// narrowed to `range` when one is set.
    fn auto_range(&self) -> Option<(u32, u32)> {
        let (lo, hi) = self.host_range()?;
        let Some(r) = self.range else {
            return Some((lo, hi));
        };
        let base = u32::from(self.subnet.addr);
        let rlo = u32::from(r.addr).checked_sub(base)?;
        let rhi = rlo.checked_add(u32::try_from(r.size().checked_sub(1)?).ok()?)?;
        let (a, b) = (rlo.max(lo), rhi.min(hi));
        (a <= b).then_some((a, b))
    }

    fn prefix_kind(&self) -> HostKind {
        let size = self.subnet.size();
        if size <= 2 {
            // /31 and /32: every address is usable (RFC 3021).
            HostKind::All(size as u32)
        } else if size > u64::from(u32::MAX) {
            HostKind::None
        } else {
            HostKind::Inner(size as u32)
        }
    }

    fn usable(&self, ip: Ipv4Addr) -> bool {
        ip != self.gateway && !self.allocated.contains(&ip)
    }

    /// Allocates `requested` (error if outside the subnet or in use), or else the next free
    /// address after the last one handed out (round-robin), skipping network, broadcast and gateway.
    pub fn allocate(&mut self, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
        let Some((lo, hi)) = self.host_range() else {
            return Err(NetError::NoAddress(format!(
                "no available IPv4 addresses in subnet {}",
                self.subnet
            )));
        };
        if let Some(ip) = requested {
            let off = u32::from(ip).wrapping_sub(u32::from(self.subnet.addr));
            if !self.subnet.contains(ip) || off < lo || off > hi {
                return Err(NetError::NoAddress(format!(
                    "no configured subnet or ip-range contain the IP address {ip}"
                )));
            }
            if !self.usable(ip) {
                return Err(NetError::AddressInUse("Address already in use".into()));
            }
            self.allocated.insert(ip);
            self.last = Some(ip);
            return Ok(ip);
        }
        let Some((lo, hi)) = self.auto_range() else {
            return Err(NetError::NoAddress(format!(
                "no available IPv4 addresses on this network's address pools: {}",
                self.subnet
            )));
        };
        let base = u32::from(self.subnet.addr);
        let start = match self.last {
            Some(l) if self.subnet.contains(l) => {
                let off = u32::from(l) - base;
                if off >= hi || off < lo {
                    lo
                } else {
                    (off + 1).max(lo)
                }
            }
            _ => lo,
        };
        let count = hi - lo + 1;
        for i in 0..count {
            let off = lo + (start - lo + i) % count;
            let ip = Ipv4Addr::from(base + off);
            if self.usable(ip) {
                self.allocated.insert(ip);
                self.last = Some(ip);
                return Ok(ip);
            }
        }
        Err(NetError::NoAddress(format!(
            "no available IPv4 addresses on this network's address pools: {}",
            self.subnet
        )))
    }

    /// Frees `ip` (no-op when not allocated).
    pub fn release(&mut self, ip: Ipv4Addr) {
        self.allocated.remove(&ip);
    }
}

enum HostKind {
    None,
    All(u32),
    Inner(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn subnet_parse_display_mask() {
        let s: Subnet = "10.1.2.3/16".parse().unwrap();
        assert_eq!(s.addr, ip("10.1.0.0"));
        assert_eq!(s.to_string(), "10.1.0.0/16");
        assert_eq!(
            "1.2.3.4".parse::<Subnet>().unwrap().to_string(),
            "1.2.3.4/32"
        );
        assert!("1.2.3.4/33".parse::<Subnet>().is_err());
        assert!("1.2.3/8".parse::<Subnet>().is_err());
        assert!("x/8".parse::<Subnet>().is_err());
        assert_eq!("0.0.0.0/0".parse::<Subnet>().unwrap().size(), 1 << 32);
    }

    #[test]
    fn subnet_contains_overlaps_nth() {
        let s: Subnet = "172.18.0.0/16".parse().unwrap();
        assert!(s.contains(ip("172.18.255.255")));
        assert!(!s.contains(ip("172.19.0.0")));
        assert!(s.overlaps(&"172.0.0.0/8".parse().unwrap()));
        assert!(s.overlaps(&"172.18.5.0/24".parse().unwrap()));
        assert!(!s.overlaps(&"172.17.0.0/16".parse().unwrap()));
        assert_eq!(s.nth(2), Some(ip("172.18.0.2")));
        assert_eq!(s.nth(65535), Some(ip("172.18.255.255")));
        assert_eq!(s.nth(65536), None);
        assert_eq!(s.gateway(), ip("172.18.0.1"));
        assert_eq!(s.broadcast(), ip("172.18.255.255"));
        let all: Subnet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
    }

    #[test]
    fn default_pools_order() {
        let p = default_pools();
        assert_eq!(p.len(), 31);
        assert_eq!(p[0].to_string(), "172.17.0.0/16");
        assert_eq!(p[14].to_string(), "172.31.0.0/16");
        assert_eq!(p[15].to_string(), "192.168.0.0/20");
        assert_eq!(p[16].to_string(), "192.168.16.0/20");
        assert_eq!(p[30].to_string(), "192.168.240.0/20");
    }

    #[test]
    fn choose_skips_taken() {
        let p = default_pools();
        let taken: Vec<Subnet> = vec![
            "172.17.0.0/16".parse().unwrap(),
            "172.18.3.0/24".parse().unwrap(),
        ];
        assert_eq!(
            choose_subnet(&p, &taken).unwrap().to_string(),
            "172.19.0.0/16"
        );
        let all: Vec<Subnet> = vec!["0.0.0.0/0".parse().unwrap()];
        assert_eq!(choose_subnet(&p, &all), None);
    }

    #[test]
    fn mac() {
        assert_eq!(mac_from_ip(ip("172.18.0.2")), "02:42:ac:12:00:02");
        assert_eq!(
            parse_mac("02:42:ac:12:00:02"),
            Some([2, 0x42, 0xac, 0x12, 0, 2])
        );
        assert_eq!(parse_mac("02:42:ac:12:00"), None);
        assert_eq!(parse_mac("02:42:ac:12:00:02:01"), None);
    }

    #[test]
    fn pool_round_robin_and_errors() {
        let s: Subnet = "10.9.0.0/29".parse().unwrap(); // hosts .1-.6, gateway .1
        let mut p = Pool::new(s, s.gateway());
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.2"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.3"));
        p.release(ip("10.9.0.2"));
        // round-robin: continues after .3, does not reuse .2 yet
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.4"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.5"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.6"));
        // wraps, skipping the gateway and in-use addresses
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.2"));
        let e = p.allocate(None).unwrap_err();
        assert!(matches!(e, NetError::NoAddress(_)), "{e}");
        assert!(e
            .to_string()
            .starts_with("no available IPv4 addresses on this network's address pools"));
        p.release(ip("10.9.0.5"));
        assert!(
            matches!(p.allocate(Some(ip("10.9.0.4"))), Err(NetError::AddressInUse(m)) if m == "Address already in use")
        );
        assert!(matches!(
            p.allocate(Some(ip("10.9.0.1"))),
            Err(NetError::AddressInUse(_))
        ));
        let e = p.allocate(Some(ip("10.10.0.4"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no configured subnet or ip-range contain the IP address 10.10.0.4"
        );
        assert!(matches!(
            p.allocate(Some(ip("10.9.0.7"))),
            Err(NetError::NoAddress(_))
        ));
        assert_eq!(p.allocate(Some(ip("10.9.0.5"))).unwrap(), ip("10.9.0.5"));
    }

    #[test]
    fn pool_serde_roundtrip() {
        let s: Subnet = "172.18.0.0/16".parse().unwrap();
        let mut p = Pool::new(s, s.gateway());
        p.allocate(None).unwrap();
        let j = serde_json::to_string(&p).unwrap();
        let q: Pool = serde_json::from_str(&j).unwrap();
        assert_eq!(q.allocated, p.allocated);
        assert_eq!(q.last, Some(ip("172.18.0.2")));
    }

    #[test]
    fn ip_range_bounds_automatic_allocation() {
        let subnet: Subnet = "10.9.0.0/16".parse().unwrap();
        let range: Subnet = "10.9.5.0/30".parse().unwrap();
        let mut p = Pool::with_range(subnet, subnet.gateway(), range).unwrap();
        let got: Vec<_> = (0..4).map(|_| p.allocate(None).unwrap()).collect();
        assert_eq!(
            got,
            vec![
                ip("10.9.5.0"),
                ip("10.9.5.1"),
                ip("10.9.5.2"),
                ip("10.9.5.3")
            ]
        );
        assert!(p.allocate(None).is_err(), "range exhausted");
        // An explicit address elsewhere in the subnet is still allowed.
        assert_eq!(p.allocate(Some(ip("10.9.7.7"))).unwrap(), ip("10.9.7.7"));
        p.release(ip("10.9.5.2"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.5.2"));
    }

    #[test]
    fn ip_range_outside_subnet_is_refused() {
        let subnet: Subnet = "10.9.0.0/16".parse().unwrap();
        let err = Pool::with_range(subnet, subnet.gateway(), "10.10.0.0/24".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not within subnet"), "{err}");
        assert!(Pool::with_range(subnet, subnet.gateway(), "10.0.0.0/8".parse().unwrap()).is_err());
    }
}
