//! Reading upstream nameservers from a resolv.conf.

use std::net::{IpAddr, SocketAddr};

/// Upstream nameservers (port 53) from the text of a resolv.conf.
///
/// Takes every `nameserver <ip>` line, in order, skipping comments (`#`, `;`),
/// unparsable addresses and duplicates. IPv6 addresses with a zone (`fe80::1%eth0`)
/// are kept only when the zone is numeric (the scope id). Loopback servers are kept:
/// the embedded server runs in the host's network namespace, where they work.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next().and_then(parse_server) else {
            continue;
        };
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// Parse one nameserver address into `addr:53`.
fn parse_server(word: &str) -> Option<SocketAddr> {
    let word = word.split(['#', ';']).next().unwrap_or(word);
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    let (ip, zone) = word.split_once('%')?;
    let ip: std::net::Ipv6Addr = ip.parse().ok()?;
    let scope: u32 = zone.parse().ok()?;
    Some(SocketAddr::V6(std::net::SocketAddrV6::new(
        ip, 53, 0, scope,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nameservers_in_order() {
        let text =
            "# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver  127.0.0.53 \n\
                    options ndots:2\n;nameserver 1.1.1.1\nnameserver ::1\nnameserver bogus\n\
                    nameserver 10.0.0.2\nnameserver fe80::1%2\nnameserver fe80::2%eth0\n";
        let got = upstreams_from_resolv_conf(text);
        let want: Vec<SocketAddr> = vec![
            "10.0.0.2:53".parse().unwrap(),
            "127.0.0.53:53".parse().unwrap(),
            "[::1]:53".parse().unwrap(),
            "[fe80::1%2]:53".parse().unwrap(),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn empty_text_gives_nothing() {
        assert!(upstreams_from_resolv_conf("").is_empty());
        assert!(upstreams_from_resolv_conf("search a b\noptions x\n").is_empty());
    }
}
