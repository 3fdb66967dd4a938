//! The names the embedded DNS servers answer. As dockerd, a container
//! resolves the names of the containers on EVERY user network it is
//! attached to: the asking container is found by its address, the answer is
//! the target's address on a network they share (the network the query came
//! in on first). A container with `--dns` servers has its other queries
//! relayed to them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};

use crate::record::{ContainerRecord, Status};
use crate::Engine;

/// [`berth_dns::Lookup`] over the engine's containers for the DNS server of
/// one user network (holds the engine weakly).
pub(crate) struct EngineLookup {
    engine: Weak<Engine>,
    /// The network whose gateway the server listens on.
    net_id: String,
}

/// One running container as DNS sees it.
struct Peer {
    /// Its address on each user network it is attached to, by network ID.
    ips: Vec<(String, Ipv4Addr)>,
    /// Name and short ID (lowercase).
    names: Vec<String>,
    /// Aliases by network ID (lowercase).
    aliases: Vec<(String, String)>,
    /// `--dns` servers.
    dns: Vec<String>,
}

impl Peer {
    fn of(r: &ContainerRecord, user_nets: &[String]) -> Peer {
        let mut ips = Vec::new();
        let mut aliases = Vec::new();
        for ep in r.network.endpoints.values() {
            let Some(ip) = ep.ip else { continue };
            if !user_nets.contains(&ep.network_id) {
                continue;
            }
            ips.push((ep.network_id.clone(), ip));
            for a in &ep.aliases {
                aliases.push((ep.network_id.clone(), a.to_lowercase()));
            }
        }
        Peer {
            ips,
            names: vec![r.name.to_lowercase(), r.short_id().to_lowercase()],
            aliases,
            dns: r.host_config.dns.clone().unwrap_or_default(),
        }
    }

    fn ip_on(&self, net: &str) -> Option<Ipv4Addr> {
        self.ips.iter().find(|(n, _)| n == net).map(|(_, ip)| *ip)
    }

    /// Whether `name` names this container on network `net`.
    fn named(&self, net: &str, name: &str) -> bool {
        self.ip_on(net).is_some()
            && (self.names.iter().any(|n| n == name)
                || self.aliases.iter().any(|(n, a)| n == net && a == name))
    }
}

/// What one query sees: the running peers and the networks to search, in order.
struct View {
    peers: Vec<Peer>,
    /// Networks to search: the query's network first, then the asker's others.
    search: Vec<String>,
    /// The asking container, when found (index into `peers`).
    asker: Option<usize>,
}

impl EngineLookup {
    /// A lookup for the DNS server of network `net_id` of `engine`.
    pub fn new(engine: &Arc<Engine>, net_id: &str) -> EngineLookup {
        EngineLookup {
            engine: Arc::downgrade(engine),
            net_id: net_id.to_string(),
        }
    }

    fn view(&self, client: IpAddr) -> Option<View> {
        let IpAddr::V4(client) = client else {
            return None;
        };
        let engine = self.engine.upgrade()?;
        let user_nets: Vec<String> = engine
            .net
            .lock()
            .nets
            .values()
            .filter(|n| !n.cfg.default_bridge)
            .map(|n| n.cfg.id.clone())
            .collect();
        let peers: Vec<Peer> = engine
            .map()
            .values()
            .filter_map(|c| {
                let r = c.rec();
                (r.state.status == Status::Running).then(|| Peer::of(&r, &user_nets))
            })
            .filter(|p| !p.ips.is_empty())
            .collect();
        // The asker: its address on this server's network, else on any of its networks.
        let asker = peers
            .iter()
            .position(|p| p.ip_on(&self.net_id) == Some(client))
            .or_else(|| {
                peers
                    .iter()
                    .position(|p| p.ips.iter().any(|(_, ip)| *ip == client))
            });
        let mut search = vec![self.net_id.clone()];
        if let Some(a) = asker {
            for (n, _) in &peers[a].ips {
                if !search.contains(n) {
                    search.push(n.clone());
                }
            }
        }
        Some(View {
            peers,
            search,
            asker,
        })
    }
}

impl berth_dns::Lookup for EngineLookup {
    fn lookup_a(&self, client: IpAddr, name: &str) -> Option<Vec<Ipv4Addr>> {
        let name = name.trim_end_matches('.').to_lowercase();
        let v = self.view(client)?;
        for net in &v.search {
            let ips: Vec<Ipv4Addr> = v
                .peers
                .iter()
                .filter(|p| p.named(net, &name))
                .filter_map(|p| p.ip_on(net))
                .collect();
            if !ips.is_empty() {
                return Some(ips);
            }
        }
        None
    }

    fn lookup_ptr(&self, client: IpAddr, ip: Ipv4Addr) -> Option<String> {
        let engine = self.engine.upgrade()?;
        let v = self.view(client)?;
        for net in &v.search {
            let Some(p) = v.peers.iter().find(|p| p.ip_on(net) == Some(ip)) else {
                continue;
            };
            let name = p.names.first()?.clone();
            // dockerd answers `name.network.`
            return Some(match engine.net.find(net) {
                Some(n) => format!("{name}.{}.", n.name),
                None => format!("{name}."),
            });
        }
        None
    }

    fn upstreams(&self, client: IpAddr) -> Option<Vec<SocketAddr>> {
        let v = self.view(client)?;
        let p = &v.peers[v.asker?];
        let servers: Vec<SocketAddr> = p
            .dns
            .iter()
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect();
        (!servers.is_empty()).then_some(servers)
    }
}
