//! The `/etc/hosts` and `/etc/resolv.conf` a container on a bridge network
//! gets, laid out as dockerd lays them out.

use std::net::Ipv4Addr;

/// One `IP\tnames` line of a hosts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostEntry {
    /// Address as text (extra hosts may be IPv6).
    pub ip: String,
    /// Space-separated names.
    pub names: String,
}

/// Parse `--add-host` entries (`name:ip`; the IP may itself contain `:`).
/// `host-gateway` stands for `gateway` when given.
pub(crate) fn extra_hosts(entries: &[String], gateway: Option<Ipv4Addr>) -> Vec<HostEntry> {
    entries
        .iter()
        .filter_map(|e| {
            let (name, ip) = e.split_once(':')?;
            let ip = if ip == "host-gateway" {
                gateway?.to_string()
            } else {
                ip.to_string()
            };
            Some(HostEntry {
                ip,
                names: name.to_string(),
            })
        })
        .collect()
}

/// The hosts file: Docker's defaults, the extra hosts, the links, then the
/// container's own address (`IP\tfqdn hostname` or `IP\thostname`).
pub(crate) fn hosts(
    own: Option<Ipv4Addr>,
    hostname: &str,
    domainname: &str,
    extra: &[HostEntry],
) -> String {
    let mut out = crate::create::HOSTS_LOCAL.to_string();
    for e in extra {
        out.push_str(&format!("{}\t{}\n", e.ip, e.names));
    }
    if let Some(ip) = own {
        let fqdn = if domainname.is_empty() {
            hostname.to_string()
        } else {
            format!("{hostname}.{domainname}")
        };
        let names = match fqdn.split_once('.') {
            Some((short, _)) => format!("{fqdn} {short}"),
            None => fqdn,
        };
        out.push_str(&format!("{ip}\t{names}\n"));
    }
    out
}

/// The `--dns*` overrides of a container.
#[derive(Debug, Clone, Default)]
pub(crate) struct DnsOverrides {
    /// `--dns`.
    pub servers: Vec<String>,
    /// `--dns-search`.
    pub search: Vec<String>,
    /// `--dns-option`.
    pub options: Vec<String>,
}

impl DnsOverrides {
    fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.search.is_empty() && self.options.is_empty()
    }
}

fn words_of(host: &str, key: &str) -> Vec<String> {
    host.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix(key)?;
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            Some(
                rest.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
        })
        .next_back()
        .unwrap_or_default()
}

fn host_servers(host: &str) -> Vec<String> {
    host.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next().map(str::to_string))?
        })
        .filter(|a| !a.starts_with("127.") && a != "::1")
        .collect()
}

/// The resolv.conf of a container: with an embedded DNS server (`embedded`,
/// user networks) its only nameserver is that server plus `options ndots:0`;
/// otherwise the host's (loopback servers removed). `--dns*` override the
/// matching parts.
pub(crate) fn resolv_conf(host: &str, embedded: Option<Ipv4Addr>, o: &DnsOverrides) -> String {
    if embedded.is_none() && o.is_empty() {
        return crate::create::filter_resolv_conf(host);
    }
    let servers = match embedded {
        Some(gw) => vec![gw.to_string()],
        None if !o.servers.is_empty() => o.servers.clone(),
        None => {
            let s = host_servers(host);
            if s.is_empty() {
                vec!["8.8.8.8".into(), "8.8.4.4".into()]
            } else {
                s
            }
        }
    };
    let search = if o.search.is_empty() {
        words_of(host, "search")
    } else {
        o.search.clone()
    };
    let mut options = if o.options.is_empty() {
        words_of(host, "options")
    } else {
        o.options.clone()
    };
    if embedded.is_some() && !options.iter().any(|x| x.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    let mut out = String::new();
    let search = search.join(" ");
    if !search.trim().is_empty() && search.trim() != "." {
        out.push_str(&format!("search {search}\n"));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_like_dockerd() {
        let extra = extra_hosts(
            &[
                "h1:1.2.3.4".into(),
                "gw:host-gateway".into(),
                "v6:::1".into(),
            ],
            Some(Ipv4Addr::new(172, 17, 0, 1)),
        );
        let mut all = extra.clone();
        all.push(HostEntry {
            ip: "172.17.0.2".into(),
            names: "db 1f7930f3a823 redis".into(),
        });
        let h = hosts(Some(Ipv4Addr::new(172, 17, 0, 4)), "myhost", "", &all);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost"));
        assert!(h.ends_with(
            "1.2.3.4\th1\n172.17.0.1\tgw\n::1\tv6\n172.17.0.2\tdb 1f7930f3a823 redis\n172.17.0.4\tmyhost\n"
        ));
        let h = hosts(Some(Ipv4Addr::new(10, 0, 0, 2)), "web", "example.com", &[]);
        assert!(h.ends_with("10.0.0.2\tweb.example.com web\n"));
    }

    #[test]
    fn resolv_conf_for_embedded_dns() {
        let host = "# c\nsearch lan corp\nnameserver 127.0.0.53\noptions edns0\n";
        let r = resolv_conf(
            host,
            Some(Ipv4Addr::new(172, 18, 0, 1)),
            &Default::default(),
        );
        assert_eq!(
            r,
            "search lan corp\nnameserver 172.18.0.1\noptions edns0 ndots:0\n"
        );
        let o = DnsOverrides {
            servers: vec!["9.9.9.9".into()],
            search: vec!["x.org".into()],
            options: vec![],
        };
        let r = resolv_conf(host, None, &o);
        assert_eq!(r, "search x.org\nnameserver 9.9.9.9\noptions edns0\n");
        let r = resolv_conf(host, None, &Default::default());
        assert!(r.contains("search lan corp") && !r.contains("127.0.0.53"));
    }
}
