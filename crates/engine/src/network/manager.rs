//! Networking at engine open and shutdown: the default bridge record,
//! bridges, IP forwarding, firewall chains, embedded DNS servers, and the
//! address pools and port reservations rebuilt from running containers.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use berth_network::firewall::{NetworkRules, PortRule, Proto};
use berth_network::ipam::{self, Subnet};
use chrono::Utc;

use super::config::{self, NetworkConfig};
use super::{names, NetEntry};
use crate::error::{EngineError, Result};
use crate::record::Status;
use crate::{blocking, Engine};

/// What [`Engine::ensure_net_ready`] could not set up (each already logged).
#[derive(Debug, Default)]
pub(crate) struct NotReady {
    /// IP forwarding / firewall failure (affects every network).
    pub global: Option<String>,
    /// Bridge or DNS failures by network ID.
    pub nets: BTreeMap<String, String>,
}

/// Docker's options of the default bridge network.
fn default_bridge_options(bridge: &str) -> BTreeMap<String, String> {
    [
        ("com.docker.network.bridge.default_bridge", "true"),
        ("com.docker.network.bridge.enable_icc", "true"),
        ("com.docker.network.bridge.enable_ip_masquerade", "true"),
        ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
        ("com.docker.network.bridge.name", bridge),
        ("com.docker.network.driver.mtu", "1500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The firewall view of a network.
pub(crate) fn rules_of(n: &NetworkConfig) -> NetworkRules {
    NetworkRules {
        bridge: n.bridge.clone(),
        subnet: n.subnet,
        internal: n.internal,
    }
}

/// The firewall rule of a published port.
pub(crate) fn port_rule(p: &super::record::PublishedPort) -> Option<PortRule> {
    Some(PortRule {
        proto: p.proto.parse::<Proto>().ok()?,
        host_ip: p.host_ip,
        host_port: p.host_port,
        container_ip: p.container_ip,
        container_port: p.container_port,
        bridge: p.bridge.clone(),
    })
}

/// The host's IPv4 subnets minus those of our own bridges, plus the
/// host's nameservers (a bridge over a resolver's address would cut the
/// host and every container off from DNS).
pub(crate) async fn host_subnets(own: &[Subnet]) -> Vec<Subnet> {
    let mut v = match berth_network::link::host_subnets().await {
        Ok(v) => v.into_iter().filter(|s| !own.contains(s)).collect(),
        Err(e) => {
            tracing::warn!("listing the host's routes: {e}");
            Vec::new()
        }
    };
    v.extend(nameserver_subnets(&upstreams()));
    v
}

/// The IPv4 nameservers among `upstreams` (the host's) as /32 subnets.
fn nameserver_subnets(upstreams: &[SocketAddr]) -> Vec<Subnet> {
    upstreams
        .iter()
        .filter_map(|a| match a.ip() {
            std::net::IpAddr::V4(ip) => Some(Subnet::new(ip, 32)),
            std::net::IpAddr::V6(_) => None,
        })
        .collect()
}

/// Candidate subnets of new networks: Docker's default pools, then (where
/// dockerd would fail with "could not find an available, non-overlapping
/// IPv4 address pool") 10.200.0.0/16 ... 10.255.0.0/16, so that a host
/// crowded with bridges (test daemons) still gets a network.
pub(crate) fn candidate_pools() -> Vec<Subnet> {
    let mut v = ipam::default_pools();
    v.extend((200u8..=255).map(|b| Subnet::new(Ipv4Addr::new(10, b, 0, 0), 16)));
    v
}

/// The upstream nameservers of the embedded DNS servers (the host's).
pub(crate) fn upstreams() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    berth_dns::upstreams_from_resolv_conf(&text)
}

impl Engine {
    /// Load the network records, create the default bridge record the first
    /// time, bring bridges, firewall and DNS servers up, and rebuild the
    /// address pools and port reservations of running containers.
    pub(crate) async fn network_open(self: &Arc<Self>) -> Result<()> {
        let net = &self.net;
        let usable = blocking(|| Ok(berth_network::firewall::Firewall::available())).await?;
        net.set_fw_enabled(usable);
        let root = net.data_root.clone();
        let mut nets = blocking(move || config::load_all(&root)).await?;
        if !nets.iter().any(|n| n.default_bridge) {
            let own: Vec<Subnet> = nets.iter().map(|n| n.subnet).collect();
            let mut taken = host_subnets(&own).await;
            taken.extend(own);
            let subnet = ipam::choose_subnet(&candidate_pools(), &taken)
                .unwrap_or_else(|| Subnet::new(Ipv4Addr::new(172, 17, 0, 0), 16));
            let bridge = names::default_bridge(&net.data_root);
            let cfg = NetworkConfig {
                id: super::random_id(),
                name: "bridge".into(),
                created: Utc::now(),
                bridge: bridge.clone(),
                subnet,
                gateway: subnet.gateway(),
                user_subnet: false,
                ip_range: String::new(),
                user_gateway: false,
                aux_addresses: BTreeMap::new(),
                internal: false,
                attachable: false,
                options: default_bridge_options(&bridge),
                labels: BTreeMap::new(),
                default_bridge: true,
                adopted_bridge: false,
            };
            let root = net.data_root.clone();
            let c2 = cfg.clone();
            blocking(move || config::save(&root, &c2)).await?;
            nets.push(cfg);
        }
        // Pools and reservations from the running containers.
        // (ID, network state) of each: only the network part is cloned.
        let running: Vec<(String, super::record::ContainerNet)> = self
            .map()
            .values()
            .filter_map(|c| {
                let r = c.rec();
                matches!(r.state.status, Status::Running | Status::Restarting)
                    .then(|| (c.id.clone(), r.network.clone()))
            })
            .collect();
        {
            let mut g = net.lock();
            for n in &nets {
                let mut pool = n.new_pool_reserved();
                for (_, rn) in &running {
                    if let Some(ip) = rn.endpoints.get(&n.id).and_then(|e| e.ip) {
                        pool.allocated.insert(ip);
                        pool.last = Some(ip);
                    }
                }
                g.nets.insert(
                    n.id.clone(),
                    NetEntry {
                        cfg: n.clone(),
                        pool,
                    },
                );
            }
            for (id, rn) in &running {
                let mut held = Vec::new();
                for p in &rn.ports {
                    let Ok(proto) = p.proto.parse::<Proto>() else {
                        continue;
                    };
                    match berth_network::ports::reserve(proto, p.host_ip, p.host_port) {
                        Ok(res) => held.push(((proto, p.host_ip, p.host_port), res)),
                        Err(e) => {
                            tracing::warn!(id = %id, "re-reserving port {}: {e}", p.host_port)
                        }
                    }
                }
                g.reservations.insert(id.clone(), held);
            }
        }
        // Bridges, firewall and DNS now if containers use them, else at
        // the first use (an engine that never runs a bridge container
        // leaves no trace on the host).
        let in_use = running.iter().any(|(_, rn)| rn.is_active());
        if in_use && self.ensure_net_ready().await.is_err() {
            tracing::warn!("networking not fully set up (retried at the next use)");
        }
        // Leftovers of starts interrupted by a crash.
        let stale: Vec<_> = self
            .map()
            .values()
            .filter(|c| {
                let r = c.rec();
                !matches!(r.state.status, Status::Running | Status::Restarting)
                    && r.network.is_active()
            })
            .cloned()
            .collect();
        for c in stale {
            self.net_teardown(&c).await;
            if let Err(e) = c.update(|_| ()) {
                tracing::warn!(id = %c.id, "saving the record after the network teardown: {e}");
            }
        }
        // Network namespaces no running container uses (a crash mid-start).
        let keep: Vec<std::path::PathBuf> = running
            .iter()
            .filter(|(_, rn)| !rn.sandbox_key.is_empty())
            .map(|(_, rn)| std::path::PathBuf::from(&rn.sandbox_key))
            .collect();
        let dir = net.netns_dir.clone();
        blocking(move || {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                return Ok(());
            };
            for p in rd.flatten().map(|e| e.path()) {
                if !keep.contains(&p) {
                    if let Err(e) = berth_network::netns::remove(&p) {
                        tracing::warn!("removing stale {}: {e}", p.display());
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Bring up (once) every network's bridge, IP forwarding, this daemon's
    /// firewall chains with the rules of all networks and running
    /// containers, and the DNS servers of user networks. Only a complete
    /// success marks the networking ready; after a failure the next use
    /// retries (every step is idempotent) and the failures are returned.
    pub(crate) async fn ensure_net_ready(self: &Arc<Self>) -> std::result::Result<(), NotReady> {
        let mut ready = self.net.ready.lock().await;
        if *ready {
            return Ok(());
        }
        let mut failed = NotReady::default();
        // Other daemons may be choosing subnets and making bridges now.
        let _host = match super::hostlock::acquire().await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        };
        // The host's nameservers, read once for every network.
        let upstreams = upstreams();
        let mut nets = self.net.configs();
        for n in nets.iter_mut() {
            if let Err(e) = self.move_off_taken_subnet(n, &upstreams).await {
                tracing::warn!("network {}: {e}", n.name);
            }
        }
        for n in &nets {
            if let Err(e) = berth_network::link::ensure_bridge(&n.bridge, n.subnet, n.gateway).await
            {
                let msg = format!("bringing up bridge {} of network {}: {e}", n.bridge, n.name);
                tracing::warn!("{msg}");
                failed.nets.entry(n.id.clone()).or_insert(msg);
            }
        }
        let rules: Vec<_> = nets.iter().map(rules_of).collect();
        let port_rules: Vec<PortRule> = self
            .map()
            .values()
            .flat_map(|c| {
                let r = c.rec();
                if !matches!(r.state.status, Status::Running | Status::Restarting) {
                    return Vec::new();
                }
                r.network
                    .ports
                    .iter()
                    .filter_map(port_rule)
                    .collect::<Vec<_>>()
            })
            .collect();
        if self.net.fw_enabled() {
            let fw = Arc::clone(&self.net.fw);
            let res = blocking(move || {
                if let Err(e) = berth_network::firewall::enable_ip_forward() {
                    tracing::warn!("enabling IP forwarding: {e}");
                }
                fw.sync(&rules, &port_rules)?;
                Ok(())
            })
            .await;
            if let Err(e) = res {
                let msg = format!("setting up the firewall: {}", e.message);
                tracing::warn!("{msg}");
                failed.global = Some(msg);
            }
        } else {
            tracing::warn!("iptables is not usable: no NAT or published ports");
        }
        for n in nets.iter().filter(|n| !n.default_bridge) {
            if let Err(e) = self.start_dns(n, &upstreams).await {
                failed.nets.entry(n.id.clone()).or_insert(e.message);
            }
        }
        if failed.global.is_none() && failed.nets.is_empty() {
            *ready = true;
            return Ok(());
        }
        Err(failed)
    }

    /// Move a network whose bridge is not up yet off a subnet that another
    /// interface of the host took since it was chosen (another daemon,
    /// Docker), unless the user chose the subnet or addresses are in use.
    /// `upstreams` are the host's nameservers. The caller holds the
    /// host-wide network lock.
    async fn move_off_taken_subnet(
        self: &Arc<Self>,
        n: &mut NetworkConfig,
        upstreams: &[SocketAddr],
    ) -> Result<()> {
        if n.user_subnet || n.adopted_bridge {
            return Ok(());
        }
        let busy = self
            .net
            .lock()
            .nets
            .get(&n.id)
            .is_some_and(super::NetEntry::in_use);
        if busy {
            return Ok(());
        }
        let mut taken =
            berth_network::link::host_subnets_except(std::slice::from_ref(&n.bridge)).await?;
        taken.extend(nameserver_subnets(upstreams));
        if !taken.iter().any(|s| s.overlaps(&n.subnet)) {
            return Ok(());
        }
        taken.extend(
            self.net
                .configs()
                .iter()
                .filter(|c| c.id != n.id)
                .map(|c| c.subnet),
        );
        let subnet = ipam::choose_subnet(&candidate_pools(), &taken).ok_or_else(|| {
            EngineError::system(format!(
                "subnet {} is now used elsewhere on the host and no other pool is free",
                n.subnet
            ))
        })?;
        tracing::info!(
            "network {}: subnet {} is now used elsewhere on the host; moving to {subnet}",
            n.name,
            n.subnet
        );
        // Our bridge may still carry the old address.
        berth_network::link::delete_bridge(&n.bridge).await?;
        n.subnet = subnet;
        n.gateway = subnet.gateway();
        let root = self.net.data_root.clone();
        let saved = n.clone();
        blocking(move || config::save(&root, &saved)).await?;
        if let Some(e) = self.net.lock().nets.get_mut(&n.id) {
            e.pool = n.new_pool_reserved();
            e.cfg = n.clone();
        }
        Ok(())
    }

    /// [`Engine::ensure_net_ready`] for a container attaching to the
    /// networks `ids`: an error (500) when the firewall or one of these
    /// networks could not be set up; failures of other networks are only logged.
    pub(crate) async fn ensure_nets_ready(self: &Arc<Self>, ids: &[&str]) -> Result<()> {
        let Err(failed) = self.ensure_net_ready().await else {
            return Ok(());
        };
        let mut msgs: Vec<&str> = failed.global.as_deref().into_iter().collect();
        msgs.extend(
            ids.iter()
                .filter_map(|id| failed.nets.get(*id).map(String::as_str)),
        );
        if msgs.is_empty() {
            return Ok(());
        }
        Err(EngineError::system(format!(
            "failed to set up container networking: {}",
            msgs.join("; ")
        )))
    }

    /// Start the embedded DNS server of a user network unless it runs
    /// forwarding to `upstreams` (failures are logged and returned).
    pub(crate) async fn start_dns(
        self: &Arc<Self>,
        n: &NetworkConfig,
        upstreams: &[SocketAddr],
    ) -> Result<()> {
        if self.net.lock().dns.contains_key(&n.id) {
            return Ok(());
        }
        let lookup = Arc::new(super::dns::EngineLookup::new(self, &n.id));
        let listen = SocketAddr::new(n.gateway.into(), 53);
        match berth_dns::DnsServer::start(listen, lookup, upstreams.to_vec()).await {
            Ok(s) => {
                self.net.lock().dns.insert(n.id.clone(), s);
                Ok(())
            }
            Err(e) => {
                let msg = format!("DNS server of network {} on {listen}: {e}", n.name);
                tracing::warn!("{msg}");
                Err(EngineError::system(msg))
            }
        }
    }

    /// At daemon shutdown: when no container runs, delete this daemon's
    /// bridges and firewall chains (they are recreated at the next open).
    pub async fn shutdown_network(&self) {
        let mut ready = self.net.ready.lock().await;
        if !*ready {
            return;
        }
        let (_, running, paused, _) = self.container_counts();
        let bridges: Vec<String> = {
            let mut g = self.net.lock();
            g.dns.clear();
            if running + paused > 0 {
                return;
            }
            g.reservations.clear();
            g.nets
                .values()
                .filter(|n| !n.cfg.adopted_bridge)
                .map(|n| n.cfg.bridge.clone())
                .collect()
        };
        *ready = false;
        for b in bridges {
            if let Err(e) = berth_network::link::delete_bridge(&b).await {
                tracing::warn!("deleting bridge {b}: {e}");
            }
        }
        if self.net.fw_enabled() {
            let fw = self.net.fw.clone();
            let _ = blocking(move || {
                if let Err(e) = fw.teardown() {
                    tracing::warn!("removing firewall chains: {e}");
                }
                Ok(())
            })
            .await;
        }
    }
}
