//! How a container's networking shows in `GET /containers/{id}/json`
//! (`NetworkSettings`, `HostConfig.Links`) and `GET /containers/json`
//! (`Ports`, `NetworkSettings.Networks`).

use std::collections::BTreeMap;

use berth_spec::api::{EndpointSettings, NetworkSettings, Port, PortBinding};
use berth_spec::network_api::EndpointIpamConfig;

use super::endpoints::{is_bridge_mode, mode_network};
use super::ports::parse_port_key;
use super::record::EndpointRec;
use crate::record::{ContainerRecord, Status};
use crate::Engine;

fn running(rec: &ContainerRecord) -> bool {
    matches!(rec.state.status, Status::Running | Status::Restarting)
}

impl Engine {
    /// The current name of a network (the recorded one if it is gone).
    fn net_name(&self, ep: &EndpointRec) -> String {
        self.net
            .find(&ep.network_id)
            .map(|n| n.name)
            .unwrap_or_else(|| ep.network_name.clone())
    }

    fn endpoint_settings(&self, rec: &ContainerRecord, ep: &EndpointRec) -> EndpointSettings {
        let user_net = self
            .net
            .find(&ep.network_id)
            .map(|n| !n.default_bridge)
            .unwrap_or(true);
        // dockerd adds the short ID to the aliases when the container first joins the
        // network (at start); before that, only the given aliases (`null` when none).
        let joined = rec.state.started_at.is_some() || ep.ip.is_some();
        let aliases = if user_net {
            let mut a = ep.aliases.clone();
            let short = rec.short_id().to_string();
            if joined && !a.contains(&short) {
                a.push(short);
            }
            (!a.is_empty()).then_some(a)
        } else {
            None
        };
        let ipam_config = (ep.requested_ip.is_some() || !ep.link_local_ips.is_empty()).then(|| {
            EndpointIpamConfig {
                ipv4_address: ep.requested_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                link_local_ips: (!ep.link_local_ips.is_empty()).then(|| ep.link_local_ips.clone()),
                ..Default::default()
            }
        });
        let live = running(rec) && ep.ip.is_some();
        let mut s = EndpointSettings {
            ipam_config,
            links: (!ep.links.is_empty()).then(|| ep.links.clone()),
            aliases,
            network_id: ep.network_id.clone(),
            driver_opts: ep.driver_opts.clone(),
            ..Default::default()
        };
        if live {
            s.endpoint_id = ep.endpoint_id.clone();
            s.gateway = ep.gateway.map(|g| g.to_string()).unwrap_or_default();
            s.ip_address = ep.ip.map(|i| i.to_string()).unwrap_or_default();
            s.ip_prefix_len = i64::from(ep.prefix);
            s.mac_address = ep.mac.clone();
        } else {
            // A MAC address asked for shows before the container runs, as dockerd shows it.
            s.mac_address = ep.requested_mac.clone();
        }
        s
    }

    /// `Networks` of a container: every attached network by name.
    pub(crate) fn networks_view(
        &self,
        rec: &ContainerRecord,
    ) -> BTreeMap<String, EndpointSettings> {
        let mode = rec.host_config.network_mode.as_str();
        let mut out = BTreeMap::new();
        if !is_bridge_mode(mode) {
            if mode == "host" || mode == "none" {
                let net_id = self.pseudo_network_id(mode);
                out.insert(
                    mode.to_string(),
                    EndpointSettings {
                        network_id: net_id,
                        ..Default::default()
                    },
                );
            }
            return out;
        }
        for ep in rec.network.endpoints.values() {
            out.insert(self.net_name(ep), self.endpoint_settings(rec, ep));
        }
        if out.is_empty() {
            out.insert(mode_network(mode).to_string(), EndpointSettings::default());
        }
        out
    }

    /// `NetworkSettings` of container inspect.
    pub(crate) fn network_settings(&self, rec: &ContainerRecord) -> NetworkSettings {
        let networks = self.networks_view(rec);
        let mut s = NetworkSettings {
            networks,
            ..Default::default()
        };
        let live = running(rec);
        if live {
            s.sandbox_key = rec.network.sandbox_key.clone();
            s.ports = self.ports_view(rec);
        }
        if let Some(bridge) = self.net.default_bridge() {
            if let Some(ep) = rec.network.endpoints.get(&bridge.id).filter(|_| live) {
                s.endpoint_id = ep.endpoint_id.clone();
                s.gateway = ep.gateway.map(|g| g.to_string()).unwrap_or_default();
                s.ip_address = ep.ip.map(|i| i.to_string()).unwrap_or_default();
                s.ip_prefix_len = i64::from(ep.prefix);
                s.mac_address = ep.mac.clone();
            }
        }
        s
    }

    /// `NetworkSettings.Ports`: published bindings, `null` for exposed-only ports.
    fn ports_view(&self, rec: &ContainerRecord) -> BTreeMap<String, Option<Vec<PortBinding>>> {
        let mut out: BTreeMap<String, Option<Vec<PortBinding>>> = BTreeMap::new();
        if !is_bridge_mode(&rec.host_config.network_mode) {
            return out;
        }
        for key in rec.config.exposed_ports.iter().flat_map(|m| m.keys()) {
            if let Some((port, proto)) = parse_port_key(key) {
                out.insert(format!("{port}/{proto}"), None);
            }
        }
        for p in &rec.network.ports {
            let key = format!("{}/{}", p.container_port, p.proto);
            out.entry(key)
                .or_insert(None)
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: p
                        .host_ip
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "0.0.0.0".into()),
                    host_port: p.host_port.to_string(),
                });
        }
        out
    }

    /// `Ports` of a container summary.
    pub(crate) fn summary_ports(&self, rec: &ContainerRecord) -> Vec<Port> {
        let mut out = Vec::new();
        if !running(rec) {
            return out;
        }
        for (key, bindings) in self.ports_view(rec) {
            let Some((port, proto)) = parse_port_key(&key) else {
                continue;
            };
            match bindings {
                Some(list) => out.extend(list.into_iter().map(|b| Port {
                    ip: b.host_ip,
                    private_port: port,
                    public_port: b.host_port.parse().ok(),
                    kind: proto.to_string(),
                })),
                None => out.push(Port {
                    ip: String::new(),
                    private_port: port,
                    public_port: None,
                    kind: proto.to_string(),
                }),
            }
        }
        out.sort_by(|a, b| {
            (a.private_port, &a.kind, a.public_port).cmp(&(b.private_port, &b.kind, b.public_port))
        });
        out
    }

    /// The `network` filter of a container listing: attached to one of
    /// `nets` (names or IDs).
    pub(crate) fn on_networks(&self, rec: &ContainerRecord, nets: &[String]) -> bool {
        self.networks_view(rec).iter().any(|(name, ep)| {
            nets.iter().any(|n| {
                n == name || (!ep.network_id.is_empty() && ep.network_id.starts_with(n.as_str()))
            })
        })
    }

    /// `HostConfig.Links` as dockerd shows them: `/name:/linker/alias`.
    pub(crate) fn links_view(&self, rec: &ContainerRecord) -> Option<Vec<String>> {
        let links = rec.host_config.links.as_ref()?;
        Some(
            links
                .iter()
                .map(|l| match super::links::parse(l) {
                    Ok(p) => {
                        let target = self
                            .lookup(&p.target)
                            .map(|c| c.rec().name.clone())
                            .unwrap_or(p.target);
                        super::links::normalise(&target, &rec.name, &p.alias)
                    }
                    Err(_) => l.clone(),
                })
                .collect(),
        )
    }
}
