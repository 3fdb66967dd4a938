//! The names the embedded DNS servers answer: containers attached to the
//! querying client's user network, by name, network alias and short ID.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Weak};

use crate::record::Status;
use crate::Engine;

/// [`berth_dns::Lookup`] over the engine's containers (holds the engine weakly).
pub(crate) struct EngineLookup {
    engine: Weak<Engine>,
}

impl EngineLookup {
    /// A lookup for `engine`.
    pub fn new(engine: &Arc<Engine>) -> EngineLookup {
        EngineLookup {
            engine: Arc::downgrade(engine),
        }
    }

    /// Running endpoints on the user network of `client`: (IP, names).
    fn peers(&self, client: IpAddr) -> Option<Vec<(Ipv4Addr, Vec<String>)>> {
        let IpAddr::V4(client) = client else {
            return None;
        };
        let engine = self.engine.upgrade()?;
        let net_id = {
            let g = engine.net.lock();
            g.nets
                .values()
                .find(|n| !n.cfg.default_bridge && n.cfg.subnet.contains(client))
                .map(|n| n.cfg.id.clone())?
        };
        let recs: Vec<_> = engine.map().values().map(|c| c.snapshot()).collect();
        Some(
            recs.into_iter()
                .filter(|r| r.state.status == Status::Running)
                .filter_map(|r| {
                    let ep = r.network.endpoints.get(&net_id)?;
                    let ip = ep.ip?;
                    let mut names = vec![r.name.to_lowercase(), r.short_id().to_lowercase()];
                    names.extend(ep.aliases.iter().map(|a| a.to_lowercase()));
                    Some((ip, names))
                })
                .collect(),
        )
    }
}

impl berth_dns::Lookup for EngineLookup {
    fn lookup_a(&self, client: IpAddr, name: &str) -> Option<Vec<Ipv4Addr>> {
        let name = name.trim_end_matches('.').to_lowercase();
        let ips: Vec<Ipv4Addr> = self
            .peers(client)?
            .into_iter()
            .filter(|(_, names)| names.contains(&name))
            .map(|(ip, _)| ip)
            .collect();
        (!ips.is_empty()).then_some(ips)
    }

    fn lookup_ptr(&self, client: IpAddr, ip: Ipv4Addr) -> Option<String> {
        let engine = self.engine.upgrade()?;
        let peers = self.peers(client)?;
        let (_, names) = peers.into_iter().find(|(i, _)| *i == ip)?;
        let name = names.first()?.clone();
        // dockerd answers `name.network.`
        let net = {
            let g = engine.net.lock();
            g.nets
                .values()
                .find(|n| n.cfg.subnet.contains(ip) && !n.cfg.default_bridge)
                .map(|n| n.cfg.name.clone())
        };
        Some(match net {
            Some(n) => format!("{name}.{n}."),
            None => format!("{name}."),
        })
    }
}
