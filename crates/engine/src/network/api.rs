//! The `/networks` operations: list, inspect, create, remove, prune,
//! connect and disconnect.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use berth_network::ipam::{self, Pool, Subnet};
use berth_spec::network_api::{
    Ipam, IpamPool, Network, NetworkConnectRequest, NetworkContainer, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkPruneResponse,
};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::config::{self, NetworkConfig};
use super::endpoints::{endpoint_config, is_bridge_mode};
use super::manager::{host_subnets, port_rule, rules_of, upstreams};
use super::{names, NetEntry};
use crate::error::{EngineError, Result};
use crate::list::labels_match;
use crate::record::Status;
use crate::timefmt::rfc3339_nano;
use crate::{blocking, Engine};

/// Options of `GET /networks`.
#[derive(Debug, Clone, Default)]
pub struct NetworkListOptions {
    /// Filters: `name`, `id`, `driver`, `label`, `type`, `scope`.
    pub filters: BTreeMap<String, Vec<String>>,
}

const LIST_FILTERS: &[&str] = &["name", "id", "driver", "label", "type", "scope", "dangling"];
const PREDEFINED: &[&str] = &["bridge", "host", "none"];

fn forbidden(msg: impl Into<String>) -> EngineError {
    EngineError::new(crate::error::ErrorKind::Forbidden, msg)
}

impl Engine {
    /// Stable ID of the `host` or `none` pseudo network of this data root.
    pub(crate) fn pseudo_network_id(&self, name: &str) -> String {
        let key = format!("{}/{name}", self.net.data_root.to_string_lossy());
        hex::encode(Sha256::digest(key.as_bytes()))
    }

    fn pseudo_network(&self, name: &str) -> Network {
        Network {
            name: name.to_string(),
            id: self.pseudo_network_id(name),
            created: rfc3339_nano(&self.started_at()),
            scope: "local".into(),
            driver: if name == "host" { "host" } else { "null" }.into(),
            ipam: Ipam::default(),
            ..Default::default()
        }
    }

    fn started_at(&self) -> chrono::DateTime<Utc> {
        self.net
            .default_bridge()
            .map(|b| b.created)
            .unwrap_or_else(Utc::now)
    }

    fn network_view(&self, n: &NetworkConfig, with_containers: bool) -> Network {
        let mut containers = BTreeMap::new();
        if with_containers {
            for c in self.map().values() {
                let r = c.rec();
                if !matches!(r.state.status, Status::Running | Status::Restarting) {
                    continue;
                }
                if let Some(ep) = r.network.endpoints.get(&n.id) {
                    let Some(ip) = ep.ip else { continue };
                    containers.insert(
                        r.id.clone(),
                        NetworkContainer {
                            name: r.name.clone(),
                            endpoint_id: ep.endpoint_id.clone(),
                            mac_address: ep.mac.clone(),
                            ipv4_address: format!("{ip}/{}", ep.prefix),
                            ipv6_address: String::new(),
                        },
                    );
                }
            }
        }
        Network {
            name: n.name.clone(),
            id: n.id.clone(),
            created: rfc3339_nano(&n.created),
            scope: "local".into(),
            driver: "bridge".into(),
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".into(),
                options: None,
                config: vec![IpamPool {
                    subnet: n.subnet.to_string(),
                    ip_range: n.ip_range.clone(),
                    gateway: n.gateway.to_string(),
                    auxiliary_addresses: (!n.aux_addresses.is_empty())
                        .then(|| n.aux_addresses.clone()),
                }],
            },
            internal: n.internal,
            attachable: n.attachable,
            containers,
            options: n.options.clone(),
            labels: n.labels.clone(),
            ..Default::default()
        }
    }

    fn all_networks(&self, with_containers: bool) -> Vec<Network> {
        let cfgs = self.net.configs();
        let mut out: Vec<Network> = cfgs
            .iter()
            .map(|n| self.network_view(n, with_containers))
            .collect();
        out.push(self.pseudo_network("host"));
        out.push(self.pseudo_network("none"));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// `GET /networks`.
    pub async fn network_list(&self, opts: NetworkListOptions) -> Result<Vec<Network>> {
        let f = &opts.filters;
        for (k, vals) in f {
            if !LIST_FILTERS.contains(&k.as_str()) {
                return Err(EngineError::invalid(format!("Invalid filter '{k}'")));
            }
            if k == "type" {
                for v in vals {
                    if v != "custom" && v != "builtin" {
                        return Err(EngineError::invalid(format!(
                            "invalid filter: 'type'='{v}'"
                        )));
                    }
                }
            }
        }
        let used = self.used_networks();
        Ok(self
            .all_networks(false)
            .into_iter()
            .filter(|n| {
                f.get("name")
                    .is_none_or(|v| v.iter().any(|x| n.name.contains(x.as_str())))
                    && f.get("id")
                        .is_none_or(|v| v.iter().any(|x| n.id.contains(x.as_str())))
                    && f.get("driver").is_none_or(|v| v.contains(&n.driver))
                    && f.get("scope").is_none_or(|v| v.contains(&n.scope))
                    && f.get("label")
                        .is_none_or(|v| labels_match(v, Some(&n.labels)))
                    && f.get("type").is_none_or(|v| {
                        let builtin = PREDEFINED.contains(&n.name.as_str());
                        v.iter().any(|t| (t == "builtin") == builtin)
                    })
                    && f.get("dangling").is_none_or(|v| {
                        let dangling =
                            !PREDEFINED.contains(&n.name.as_str()) && !used.contains(&n.id);
                        v.iter().any(|d| (d == "true" || d == "1") == dangling)
                    })
            })
            .collect())
    }

    /// IDs of networks some container is attached to (any state).
    fn used_networks(&self) -> Vec<String> {
        self.map()
            .values()
            .flat_map(|c| {
                c.rec()
                    .network
                    .endpoints
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `GET /networks/{id}`: by full name, full ID or unique ID prefix.
    pub async fn network_inspect(&self, name: &str) -> Result<Network> {
        if let Some(n) = self.net.find(name) {
            return Ok(self.network_view(&n, true));
        }
        for p in ["host", "none"] {
            let v = self.pseudo_network(p);
            if name == p || (!name.is_empty() && v.id.starts_with(name)) {
                return Ok(v);
            }
        }
        Err(EngineError::not_found(format!("network {name} not found")))
    }

    /// `POST /networks/create`.
    pub async fn network_create(
        self: &Arc<Self>,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse> {
        let name = req.name.trim().to_string();
        if name.is_empty() {
            return Err(EngineError::invalid("network name must not be empty"));
        }
        match req.driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(forbidden(format!(
                    "only one instance of \"{}\" network is allowed",
                    req.driver
                )))
            }
            other => {
                return Err(EngineError::not_found(format!(
                    "plugin \"{other}\" not found"
                )))
            }
        }
        if req.enable_ipv6 {
            return Err(EngineError::invalid(
                "IPv6 networks are not supported by berth",
            ));
        }
        let _op = self.net.op.lock().await;
        // Failures are logged and retried at the next use; a new network
        // does not depend on the others.
        let _ = self.ensure_net_ready().await;
        if PREDEFINED.contains(&name.as_str())
            || self.net.lock().nets.values().any(|n| n.cfg.name == name)
        {
            return Err(EngineError::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let pool = req
            .ipam
            .as_ref()
            .and_then(|i| i.config.iter().find(|c| !c.subnet.is_empty()).cloned());
        // Held until the bridge carries the chosen subnet: other daemons
        // may be choosing at the same time.
        let _host = super::hostlock::acquire().await?;
        let own: Vec<Subnet> = self
            .net
            .lock()
            .nets
            .values()
            .map(|n| n.cfg.subnet)
            .collect();
        let (subnet, user_subnet) = match &pool {
            Some(p) => {
                let s: Subnet = p.subnet.parse().map_err(|_| {
                    EngineError::invalid(format!("invalid CIDR address: {}", p.subnet))
                })?;
                if own.iter().any(|o| o.overlaps(&s)) {
                    return Err(forbidden(
                        "Pool overlaps with other one on this address space",
                    ));
                }
                (s, true)
            }
            None => {
                let mut taken = host_subnets(&own).await;
                taken.extend(own.iter().copied());
                let s = ipam::choose_subnet(&super::manager::candidate_pools(), &taken).ok_or_else(|| {
                    forbidden("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
                })?;
                (s, false)
            }
        };
        let gw_text = pool.as_ref().map(|p| p.gateway.clone()).unwrap_or_default();
        let (gateway, user_gateway) = if gw_text.is_empty() {
            (subnet.gateway(), false)
        } else {
            let gw: Ipv4Addr = gw_text
                .parse()
                .map_err(|_| EngineError::invalid(format!("invalid gateway address: {gw_text}")))?;
            if !subnet.contains(gw) {
                return Err(forbidden(format!(
                    "no matching subnet for gateway {gw_text}"
                )));
            }
            (gw, true)
        };
        let id = super::random_id();
        let options = req.options.clone().unwrap_or_default();
        let (bridge, adopted_bridge) = match options
            .get("com.docker.network.bridge.name")
            .filter(|b| !b.is_empty())
        {
            Some(b) => (b.clone(), self.check_bridge_name(&id, b).await?),
            None => (names::user_bridge(&self.net.data_root, &id), false),
        };
        let ip_range = pool
            .as_ref()
            .map(|p| p.ip_range.clone())
            .unwrap_or_default();
        if !ip_range.is_empty() {
            let r: Subnet = ip_range
                .parse()
                .map_err(|_| EngineError::invalid(format!("invalid CIDR address: {ip_range}")))?;
            if Pool::with_range(subnet, gateway, r).is_err() {
                return Err(EngineError::invalid(format!(
                    "no matching subnet for range {ip_range}"
                )));
            }
        }
        let aux_addresses = pool
            .as_ref()
            .and_then(|p| p.auxiliary_addresses.clone())
            .unwrap_or_default();
        for (name, addr) in &aux_addresses {
            let ok = addr.parse::<Ipv4Addr>().is_ok_and(|ip| subnet.contains(ip));
            if !ok {
                return Err(forbidden(format!(
                    "auxiliary address: ({name}:{addr}) must belong to the master pool: {subnet}"
                )));
            }
        }
        let cfg = NetworkConfig {
            id: id.clone(),
            name: name.clone(),
            created: Utc::now(),
            bridge,
            subnet,
            gateway,
            user_subnet,
            ip_range,
            user_gateway,
            aux_addresses,
            internal: req.internal,
            attachable: req.attachable,
            options,
            labels: req.labels.clone().unwrap_or_default(),
            default_bridge: false,
            adopted_bridge,
        };
        berth_network::link::ensure_bridge(&cfg.bridge, cfg.subnet, cfg.gateway).await?;
        let res = async {
            if self.net.fw_enabled() {
                let fw = Arc::clone(&self.net.fw);
                let rules = rules_of(&cfg);
                blocking(move || Ok(fw.add_network(&rules)?)).await?;
            }
            let root = self.net.data_root.clone();
            let c2 = cfg.clone();
            blocking(move || config::save(&root, &c2)).await
        }
        .await;
        if let Err(e) = res {
            if !cfg.adopted_bridge {
                let _ = berth_network::link::delete_bridge(&cfg.bridge).await;
            }
            return Err(e);
        }
        let pool = cfg.new_pool_reserved();
        self.net.lock().nets.insert(
            id.clone(),
            NetEntry {
                cfg: cfg.clone(),
                pool,
            },
        );
        // Logged; retried by the next `ensure_net_ready` of a container start.
        if self.start_dns(&cfg, &upstreams()).await.is_err() {
            *self.net.ready.lock().await = false;
        }
        self.network_event("create", &cfg, None);
        Ok(NetworkCreateResponse {
            id,
            warning: String::new(),
        })
    }

    /// Check a bridge name given with `com.docker.network.bridge.name` for
    /// a new network `id`, as dockerd does: at most 15 characters, not the
    /// bridge of another network, not an existing link of another kind.
    /// Returns whether it names an existing bridge (used, never deleted).
    async fn check_bridge_name(&self, id: &str, bridge: &str) -> Result<bool> {
        if bridge.len() > 15 || bridge.contains(['/', ' ']) || bridge == "." || bridge == ".." {
            return Err(EngineError::invalid(format!(
                "invalid bridge name {bridge:?}: at most 15 characters, no '/' or spaces"
            )));
        }
        if let Some(other) = self.net.configs().into_iter().find(|n| n.bridge == bridge) {
            return Err(forbidden(format!(
                "cannot create network {id} ({bridge}): conflicts with network {} ({}): networks have same bridge name",
                other.id, other.bridge
            )));
        }
        match berth_network::link::link_is_bridge(bridge).await? {
            None => Ok(false),
            Some(true) => Ok(true),
            Some(false) => Err(EngineError::system(format!(
                "existing interface {bridge} is not a bridge"
            ))),
        }
    }

    pub(crate) fn network_event(&self, action: &str, n: &NetworkConfig, container: Option<&str>) {
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), n.name.clone());
        attrs.insert("type".to_string(), "bridge".to_string());
        if let Some(c) = container {
            attrs.insert("container".to_string(), c.to_string());
        }
        self.bus.log("network", action, &n.id, attrs);
    }

    /// `DELETE /networks/{id}`.
    pub async fn network_remove(self: &Arc<Self>, name: &str) -> Result<()> {
        let _op = self.net.op.lock().await;
        self.network_remove_locked(name).await.map(|_| ())
    }

    async fn network_remove_locked(self: &Arc<Self>, name: &str) -> Result<NetworkConfig> {
        let Some(n) = self.net.find(name) else {
            if PREDEFINED.contains(&name) {
                return Err(forbidden(format!(
                    "{name} is a pre-defined network and cannot be removed"
                )));
            }
            return Err(EngineError::not_found(format!("network {name} not found")));
        };
        if n.default_bridge {
            return Err(forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let dns = {
            let mut g = self.net.lock();
            let busy = g.nets.get(&n.id).is_some_and(NetEntry::in_use);
            if busy {
                return Err(forbidden(format!(
                    "error while removing network: network {} id {} has active endpoints",
                    n.name, n.id
                )));
            }
            g.nets.remove(&n.id);
            g.dns.remove(&n.id)
        };
        // Free its port 53 now, before a new network can get the same gateway.
        if let Some(server) = dns {
            server.stop().await;
        }
        if !n.adopted_bridge {
            if let Err(e) = berth_network::link::delete_bridge(&n.bridge).await {
                tracing::warn!("deleting bridge {}: {e}", n.bridge);
            }
        }
        if self.net.fw_enabled() {
            let fw = Arc::clone(&self.net.fw);
            let rules = rules_of(&n);
            blocking(move || {
                if let Err(e) = fw.remove_network(&rules) {
                    tracing::warn!("removing firewall rules of {}: {e}", rules.bridge);
                }
                Ok(())
            })
            .await?;
        }
        let root = self.net.data_root.clone();
        let id = n.id.clone();
        blocking(move || config::delete(&root, &id)).await?;
        self.network_event("destroy", &n, None);
        Ok(n)
    }

    /// `POST /networks/prune`: remove user networks no running container uses.
    pub async fn network_prune(
        self: &Arc<Self>,
        filters: BTreeMap<String, Vec<String>>,
    ) -> Result<NetworkPruneResponse> {
        for k in filters.keys() {
            if k != "label" && k != "until" && k != "label!" {
                return Err(EngineError::invalid(format!("Invalid filter '{k}'")));
            }
        }
        let _op = self.net.op.lock().await;
        let until = match filters.get("until").and_then(|v| v.first()) {
            Some(u) => crate::events::parse_event_time(u, Utc::now())?,
            None => None,
        };
        let candidates: Vec<NetworkConfig> = self
            .net
            .lock()
            .nets
            .values()
            .filter(|n| !n.cfg.default_bridge && !n.in_use())
            .map(|n| n.cfg.clone())
            .collect();
        let mut deleted = Vec::new();
        for n in candidates {
            if let Some(l) = filters.get("label") {
                if !labels_match(l, Some(&n.labels)) {
                    continue;
                }
            }
            if let Some(l) = filters.get("label!") {
                if l.iter()
                    .any(|x| labels_match(std::slice::from_ref(x), Some(&n.labels)))
                {
                    continue;
                }
            }
            if until.is_some_and(|t| n.created.timestamp() >= t) {
                continue;
            }
            match self.network_remove_locked(&n.id).await {
                Ok(n) => deleted.push(n.name),
                Err(e) => tracing::warn!("prune network {}: {e}", n.name),
            }
        }
        Ok(NetworkPruneResponse {
            networks_deleted: (!deleted.is_empty()).then_some(deleted),
        })
    }

    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(
        self: &Arc<Self>,
        name: &str,
        req: NetworkConnectRequest,
    ) -> Result<()> {
        if name == "host" {
            return Err(forbidden(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if name == "none" {
            return Err(forbidden("container cannot be connected to multiple networks with one of the networks in private (none) mode"));
        }
        let n = self.find_network(name)?;
        let c = self.lookup(&req.container)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, &req.container)?;
        let rec = c.snapshot();
        if !is_bridge_mode(&rec.host_config.network_mode) {
            return Err(forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if rec.network.endpoints.contains_key(&n.id) {
            return Err(forbidden(format!(
                "endpoint with name {} already exists in network {}",
                rec.name, n.name
            )));
        }
        let mut ep = endpoint_config(&n, &req.endpoint_config.unwrap_or_default(), 1)?;
        let running = rec.state.status == Status::Running && !rec.network.sandbox_key.is_empty();
        if running {
            self.ensure_nets_ready(&[n.id.as_str()]).await?;
            let index = rec
                .network
                .endpoints
                .values()
                .filter(|e| e.ip.is_some())
                .count();
            let netns = std::path::PathBuf::from(&rec.network.sandbox_key);
            self.attach_one(&mut ep, &netns, index, false).await?;
        }
        let ep2 = ep.clone();
        let saved = c.update(|r| {
            r.network.endpoints.insert(n.id.clone(), ep2);
        });
        if let Err(e) = saved {
            let mut state = super::record::ContainerNet::default();
            state.endpoints.insert(n.id.clone(), ep);
            self.release_net(&c.id, &state).await;
            return Err(e);
        }
        if running {
            if let Err(e) = self.refresh_resolv_conf(&c).await {
                tracing::warn!(id = %c.id, "updating resolv.conf: {e}");
            }
        }
        self.network_event("connect", &n, Some(&c.id));
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        self: &Arc<Self>,
        name: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<()> {
        if name == "host" || name == "none" {
            let c = self.lookup(&req.container)?;
            return Err(forbidden(format!(
                "container {} is not connected to network {name}",
                c.id
            )));
        }
        let n = self.find_network(name)?;
        let c = self.lookup(&req.container)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, &req.container)?;
        let rec = c.snapshot();
        let Some(ep) = rec.network.endpoints.get(&n.id).cloned() else {
            return Err(forbidden(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        };
        // Port rules pointing at the address that goes away.
        let (gone, kept): (Vec<_>, Vec<_>) = rec
            .network
            .ports
            .iter()
            .cloned()
            .partition(|p| Some(p.container_ip) == ep.ip);
        c.update(|r| {
            r.network.endpoints.remove(&n.id);
            r.network.ports = kept;
        })?;
        if ep.ip.is_some() {
            let mut state = super::record::ContainerNet {
                ports: gone.clone(),
                ..Default::default()
            };
            state.endpoints.insert(n.id.clone(), ep);
            // Keep the reservations of the ports that stay.
            let held = self.net.lock().reservations.remove(&c.id);
            self.release_net("", &state).await;
            if let Some(mut held) = held {
                held.retain(|(k, _)| {
                    !gone
                        .iter()
                        .any(|p| p.host_port == k.2 && port_rule(p).map(|r| r.proto) == Some(k.0))
                });
                self.net.lock().reservations.insert(c.id.clone(), held);
            }
            if let Err(e) = self.refresh_resolv_conf(&c).await {
                tracing::warn!(id = %c.id, "updating resolv.conf: {e}");
            }
        }
        self.network_event("disconnect", &n, Some(&c.id));
        Ok(())
    }
}
