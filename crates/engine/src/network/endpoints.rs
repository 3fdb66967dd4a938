//! Endpoints of containers: the network setup of a start (netns, one veth
//! per attached network, published ports, links, hosts and resolv.conf)
//! and its teardown at exit, failed start and removal.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_runtime::{ContainerSpec, NetworkMode};
use berth_spec::api::HostConfig;
use berth_spec::network_api::NetworkingConfig;

use super::config::NetworkConfig;
use super::hostsfile::{self, DnsOverrides, HostEntry};
use super::links;
use super::manager::port_rule;
use super::record::{ContainerNet, EndpointRec};
use crate::container::Container;
use crate::error::{EngineError, Result};
use crate::record::{ContainerRecord, Status};
use crate::{blocking, Engine};

/// Whether a network mode attaches bridge networks (not host/none/container:).
pub(crate) fn is_bridge_mode(mode: &str) -> bool {
    !(mode == "host" || mode == "none" || mode.starts_with("container:"))
}

/// Warnings of `POST /containers/create` about networking: published ports
/// are dropped in host mode (dockerd keeps them in the config, unused).
pub(crate) fn create_warnings(hc: &HostConfig) -> Vec<String> {
    let mut out = Vec::new();
    if hc.network_mode == "host" && hc.port_bindings.as_ref().is_some_and(|b| !b.is_empty()) {
        out.push("Published ports are discarded when using host network mode".to_string());
    }
    out
}

/// The network name a bridge mode stands for (`default` is `bridge`).
pub(crate) fn mode_network(mode: &str) -> &str {
    if mode.is_empty() || mode == "default" {
        "bridge"
    } else {
        mode
    }
}

impl DnsOverrides {
    /// The `--dns`, `--dns-search` and `--dns-option` of `hc`.
    pub(crate) fn of(hc: &HostConfig) -> DnsOverrides {
        DnsOverrides {
            servers: hc.dns.clone().unwrap_or_default(),
            search: hc.dns_search.clone().unwrap_or_default(),
            options: hc.dns_options.clone().unwrap_or_default(),
        }
    }
}

/// Write `dir/resolv.conf` from the host's /etc/resolv.conf, the embedded DNS
/// server `embedded` and `overrides`. Written in place, not renamed over: the
/// file is bind-mounted into the running container.
fn write_resolv(dir: &Path, embedded: Option<Ipv4Addr>, overrides: &DnsOverrides) -> Result<()> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    write_file(
        dir,
        "resolv.conf",
        &hostsfile::resolv_conf(&host, embedded, overrides),
    )
}

fn write_file(dir: &Path, name: &str, content: &str) -> Result<()> {
    let p = dir.join(name);
    std::fs::write(&p, content).map_err(|e| EngineError::io(format!("write {}", p.display()), e))
}

impl Engine {
    /// Resolve a network for a container (404 `network X not found`).
    pub(crate) fn find_network(&self, name: &str) -> Result<NetworkConfig> {
        self.net
            .find(name)
            .ok_or_else(|| EngineError::not_found(format!("network {name} not found")))
    }

    /// The endpoint configuration of a new container (`POST /containers/create`):
    /// checks `--ip`, `--link` and the network mode as dockerd does at create.
    pub(crate) fn net_create_config(
        &self,
        hc: &HostConfig,
        nc: Option<&NetworkingConfig>,
    ) -> Result<ContainerNet> {
        let mode = hc.network_mode.as_str();
        let mut out = ContainerNet::default();
        let publishes =
            hc.publish_all_ports || hc.port_bindings.as_ref().is_some_and(|b| !b.is_empty());
        if mode.starts_with("container:") && publishes {
            return Err(EngineError::invalid(
                "conflicting options: port publishing and the container type network mode",
            ));
        }
        let links = hc.links.clone().unwrap_or_default();
        if !links.is_empty() && mode == "host" {
            return Err(EngineError::invalid(
                "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
            ));
        }
        for l in &links {
            let l = links::parse(l)?;
            if self.lookup(&l.target).is_err() {
                return Err(EngineError::invalid(format!(
                    "Could not get container for {}",
                    l.target
                )));
            }
        }
        // `container:NAME` is checked at start, as dockerd does.
        let configs = nc
            .and_then(|n| n.endpoints_config.clone())
            .unwrap_or_default();
        // API 1.41 creates a container on one network; the others are connected after.
        if configs.len() > 1 {
            let names: Vec<&str> = configs.keys().map(String::as_str).collect();
            return Err(EngineError::invalid(format!(
                "Container cannot be connected to network endpoints: {}",
                names.join(", ")
            )));
        }
        if !is_bridge_mode(mode) {
            return Ok(out);
        }
        let primary_name = mode_network(mode);
        let Some(primary) = self.net.find(primary_name) else {
            // dockerd reports an unknown network at start.
            return Ok(out);
        };
        let given = configs
            .get(mode)
            .or_else(|| configs.get(primary_name))
            .or_else(|| configs.get(&primary.name))
            .or_else(|| configs.get(&primary.id))
            .cloned()
            .unwrap_or_default();
        let ep = endpoint_config(&primary, &given, 0)?;
        out.endpoints.insert(primary.id.clone(), ep);
        Ok(out)
    }

    /// Set up the network of a start; sets `spec.network` (and the link
    /// variables). Undoes everything it did when it fails.
    pub(crate) async fn net_setup(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
        spec: &mut ContainerSpec,
    ) -> Result<()> {
        let mode = rec.host_config.network_mode.as_str();
        if mode == "host" {
            spec.network = NetworkMode::Host;
            return Ok(());
        }
        if mode == "none" {
            spec.network = NetworkMode::None;
            return Ok(());
        }
        if let Some(target) = mode.strip_prefix("container:") {
            return self.join_container(c, target, spec).await;
        }
        let primary = self.find_network(mode_network(mode))?;
        let mut ids: Vec<&str> = rec.network.endpoints.keys().map(String::as_str).collect();
        ids.push(&primary.id);
        self.ensure_nets_ready(&ids).await?;
        let mut eps: Vec<EndpointRec> = Vec::new();
        let mut state = rec.network.clone();
        state
            .endpoints
            .entry(primary.id.clone())
            .or_insert_with(|| EndpointRec {
                network_id: primary.id.clone(),
                network_name: primary.name.clone(),
                ..Default::default()
            });
        for (id, ep) in &state.endpoints {
            let mut ep = ep.clone();
            ep.clear_runtime();
            match self.net.find(id) {
                Some(n) => {
                    ep.network_name = n.name.clone();
                    ep.order = u32::from(n.id != primary.id);
                    eps.push(ep);
                }
                None => {
                    tracing::warn!(id = %c.id, "network {} is gone, not attaching", ep.network_name)
                }
            }
        }
        eps.sort_by(|a, b| {
            a.order
                .cmp(&b.order)
                .then_with(|| a.network_name.cmp(&b.network_name))
        });
        state.endpoints.clear();
        state.ports.clear();
        state.link_env.clear();
        // Links: only the default bridge, the linked containers must run.
        let mut link_hosts = Vec::new();
        if primary.default_bridge {
            for l in rec.host_config.links.clone().unwrap_or_default() {
                let (env, host) = self.link_info(&rec.name, &l, &primary)?;
                state.link_env.extend(env);
                link_hosts.push(host);
            }
        }
        let t0 = std::time::Instant::now();
        let netns = self.net.netns_path(&c.id);
        let ns = netns.clone();
        blocking(move || Ok(berth_network::netns::create(&ns)?)).await?;
        let t_ns = t0.elapsed();
        state.sandbox_key = netns.to_string_lossy().into_owned();
        let res = self
            .attach_all(c, rec, &mut state, eps, &netns, &primary, link_hosts)
            .await;
        if let Err(e) = res {
            self.release_net(&c.id, &state).await;
            return Err(e);
        }
        // Persisted before the shim is spawned: a daemon that dies between
        // the spawn and the start's record update finds the endpoints and
        // ports at the next open (kept while the shim lives, else released).
        // No fsync: after a power loss there is no netns or veth to find.
        if let Err(e) = c.update_unsynced(|r| r.network = state.clone()) {
            // The in-memory record holds the state: release it from there.
            self.net_release(c).await;
            return Err(e);
        }
        tracing::debug!(id = %c.id, "network set up in {:?} (netns {t_ns:?})", t0.elapsed());
        for ep in state.endpoints.values().filter(|e| e.ip.is_some()) {
            if let Some(n) = self.net.find(&ep.network_id) {
                self.network_event("connect", &n, Some(&c.id));
            }
        }
        spec.network = NetworkMode::Path(netns);
        for kv in &state.link_env {
            let key = kv.split('=').next().unwrap_or(kv);
            let present = spec.env.iter().any(|e| e.split('=').next() == Some(key));
            if !present {
                spec.env.push(kv.clone());
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn attach_all(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
        state: &mut ContainerNet,
        eps: Vec<EndpointRec>,
        netns: &Path,
        primary: &NetworkConfig,
        link_hosts: Vec<HostEntry>,
    ) -> Result<()> {
        for (i, mut ep) in eps.into_iter().enumerate() {
            let net_id = ep.network_id.clone();
            let res = self.attach_one(&mut ep, netns, i, i == 0).await;
            state.endpoints.insert(net_id, ep);
            res?;
        }
        let primary_ep = state
            .endpoints
            .get(&primary.id)
            .cloned()
            .unwrap_or_default();
        let ports = self
            .publish_ports(c, rec, &primary_ep, &primary.bridge, &mut state.ports)
            .await;
        ports?;
        // hosts and resolv.conf.
        let hc = &rec.host_config;
        let mut extra = hostsfile::extra_hosts(
            hc.extra_hosts.as_deref().unwrap_or(&[]),
            self.net.default_bridge().map(|b| b.gateway),
        );
        extra.extend(link_hosts);
        let hosts = hostsfile::hosts(
            primary_ep.ip,
            &rec.config.hostname,
            &rec.config.domainname,
            &extra,
        );
        let overrides = DnsOverrides::of(hc);
        let embedded = (!primary.default_bridge).then_some(primary.gateway);
        let dir = c.dir.clone();
        blocking(move || {
            write_file(&dir, "hosts", &hosts)?;
            write_resolv(&dir, embedded, &overrides)
        })
        .await
    }

    /// Allocate an address on `ep`'s network and plug a veth into `netns`
    /// (`ethN`, the default route when `default_route`). On failure `ep`
    /// holds nothing.
    pub(crate) async fn attach_one(
        &self,
        ep: &mut EndpointRec,
        netns: &Path,
        index: usize,
        default_route: bool,
    ) -> Result<()> {
        let (ip, n) = {
            let mut g = self.net.lock();
            let entry = g.nets.get_mut(&ep.network_id).ok_or_else(|| {
                EngineError::not_found(format!("network {} not found", ep.network_name))
            })?;
            let ip = entry.pool.allocate(ep.requested_ip).map_err(|e| {
                EngineError::system(match e {
                    berth_network::NetError::AddressInUse(m) => m,
                    other => other.to_string(),
                })
            })?;
            (ip, entry.cfg.clone())
        };
        ep.endpoint_id = super::random_id();
        ep.ip = Some(ip);
        ep.prefix = n.subnet.prefix;
        ep.gateway = Some(n.gateway);
        ep.mac = if ep.requested_mac.is_empty() {
            berth_network::ipam::mac_from_ip(ip)
        } else {
            ep.requested_mac.clone()
        };
        ep.host_ifname = berth_network::link::random_veth_name();
        ep.ifname = format!("eth{index}");
        let link = berth_network::link::Endpoint {
            bridge: n.bridge.clone(),
            netns: netns.to_path_buf(),
            host_ifname: ep.host_ifname.clone(),
            ifname: ep.ifname.clone(),
            ip,
            prefix: n.subnet.prefix,
            mac: ep.mac.clone(),
            gateway: default_route.then_some(n.gateway),
        };
        if let Err(e) = berth_network::link::add_endpoint(&link).await {
            if let Some(entry) = self.net.lock().nets.get_mut(&ep.network_id) {
                entry.pool.release(ip);
            }
            ep.clear_runtime();
            return Err(EngineError::system(format!(
                "failed to add the endpoint on network {}: {e}",
                n.name
            )));
        }
        Ok(())
    }

    /// Environment and hosts entry of one `--link`.
    fn link_info(
        &self,
        linker: &str,
        link: &str,
        bridge: &NetworkConfig,
    ) -> Result<(Vec<String>, HostEntry)> {
        let l = links::parse(link)?;
        let target = self.lookup(&l.target).map_err(|_| {
            EngineError::invalid(format!("Could not get container for {}", l.target))
        })?;
        let t = target.snapshot();
        if !matches!(t.state.status, Status::Running) {
            return Err(EngineError::system(format!(
                "Cannot link to a non running container: /{} AS /{linker}/{}",
                t.name, l.alias
            )));
        }
        let Some(ip) = t.network.endpoints.get(&bridge.id).and_then(|e| e.ip) else {
            return Err(EngineError::invalid(format!(
                "Cannot link to /{}, as it does not belong to the default network",
                t.name
            )));
        };
        let keys: Vec<String> = t
            .config
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let env = links::env(
            linker,
            &l.alias,
            ip,
            &links::ports(keys.iter()),
            t.config.env.as_deref().unwrap_or(&[]),
        );
        let mut names = vec![l.alias.clone()];
        for n in [t.short_id().to_string(), t.name.clone()] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        Ok((
            env,
            HostEntry {
                ip: ip.to_string(),
                names: names.join(" "),
            },
        ))
    }

    /// `--network container:NAME`: share that container's netns, hosts and resolv.conf.
    async fn join_container(
        self: &Arc<Self>,
        c: &Arc<Container>,
        target: &str,
        spec: &mut ContainerSpec,
    ) -> Result<()> {
        let t = self.lookup(target)?;
        if t.id == c.id {
            return Err(EngineError::invalid("cannot join own network"));
        }
        let trec = t.snapshot();
        if trec.state.status != Status::Running {
            return Err(EngineError::conflict(format!(
                "cannot join network of a non running container: {}",
                t.id
            )));
        }
        spec.network = if trec.host_config.network_mode == "host" {
            NetworkMode::Host
        } else if !trec.network.sandbox_key.is_empty() {
            NetworkMode::Path(PathBuf::from(&trec.network.sandbox_key))
        } else {
            NetworkMode::Path(PathBuf::from(format!("/proc/{}/ns/net", trec.state.pid)))
        };
        spec.hostname = trec.config.hostname.clone();
        let (from, to) = (t.dir.clone(), c.dir.clone());
        blocking(move || {
            for f in ["hosts", "resolv.conf", "hostname"] {
                let (a, b) = (from.join(f), to.join(f));
                std::fs::copy(&a, &b).map_err(|e| {
                    EngineError::io(format!("copy {} to {}", a.display(), b.display()), e)
                })?;
            }
            Ok(())
        })
        .await
    }

    /// Tear down the network of `c`'s last run (exit, failed start, removal).
    /// Idempotent: the record says what is still held.
    pub(crate) async fn net_teardown(self: &Arc<Self>, c: &Container) {
        let left = self.net_release(c).await;
        self.net_disconnected(&c.id, left);
    }

    /// Network `disconnect` events (as dockerd sends when a container stops)
    /// for the networks [`Engine::net_release`] detached.
    pub(crate) fn net_disconnected(&self, container_id: &str, left: Vec<String>) {
        for id in left {
            if let Some(n) = self.net.find(&id) {
                self.network_event("disconnect", &n, Some(container_id));
            }
        }
    }

    /// [`Engine::net_teardown`] without the events: returns the IDs of the
    /// networks whose endpoints went.
    pub(crate) async fn net_release(self: &Arc<Self>, c: &Container) -> Vec<String> {
        let state = c.modify(|r| {
            let s = r.network.clone();
            r.network.ports.clear();
            r.network.sandbox_key.clear();
            r.network.link_env.clear();
            for ep in r.network.endpoints.values_mut() {
                ep.clear_runtime();
            }
            s
        });
        if !state.is_active() {
            return Vec::new();
        }
        // The caller persists the record (exit, failed start) or deletes it.
        self.release_net(&c.id, &state).await;
        state
            .endpoints
            .values()
            .filter(|e| e.ip.is_some())
            .map(|e| e.network_id.clone())
            .collect()
    }

    /// Release everything `state` holds: port rules and reservations,
    /// addresses, veths and the netns.
    pub(crate) async fn release_net(&self, id: &str, state: &ContainerNet) {
        let t0 = std::time::Instant::now();
        let rules: Vec<_> = state.ports.iter().filter_map(port_rule).collect();
        let reservations = {
            let mut g = self.net.lock();
            for ep in state.endpoints.values() {
                if let (Some(ip), Some(n)) = (ep.ip, g.nets.get_mut(&ep.network_id)) {
                    n.pool.release(ip);
                }
            }
            g.reservations.remove(id)
        };
        drop(reservations);
        let fw = (self.net.fw_enabled() && !rules.is_empty()).then(|| Arc::clone(&self.net.fw));
        let netns = (!state.sandbox_key.is_empty()).then(|| PathBuf::from(&state.sandbox_key));
        let id2 = id.to_string();
        let _ = blocking(move || {
            if let Some(fw) = fw {
                if let Err(e) = fw.remove_ports(&rules) {
                    tracing::warn!(id = %id2, "removing port rules: {e}");
                }
            }
            if let Some(ns) = netns {
                if let Err(e) = berth_network::netns::remove(&ns) {
                    tracing::warn!(id = %id2, "removing {}: {e}", ns.display());
                }
            }
            Ok(())
        })
        .await;
        // The veths die with the netns; deleting them explicitly makes sure,
        // off the caller's path (a veth deletion waits for the kernel's RCU
        // grace periods: 10-15 ms).
        let veths: Vec<String> = state
            .endpoints
            .values()
            .filter(|e| !e.host_ifname.is_empty())
            .map(|e| e.host_ifname.clone())
            .collect();
        if !veths.is_empty() {
            tokio::spawn(async move {
                for v in veths {
                    if let Err(e) = berth_network::link::remove_endpoint(&v).await {
                        tracing::warn!("removing {v}: {e}");
                    }
                }
            });
        }
        tracing::debug!(id, "network released in {:?}", t0.elapsed());
    }
}

/// An endpoint config from the API's endpoint settings, checked as dockerd
/// checks `--ip`.
pub(crate) fn endpoint_config(
    n: &NetworkConfig,
    given: &berth_spec::api::EndpointSettings,
    order: u32,
) -> Result<EndpointRec> {
    let ip_text = given
        .ipam_config
        .as_ref()
        .map(|c| c.ipv4_address.clone())
        .unwrap_or_default();
    let requested_ip = if ip_text.is_empty() {
        None
    } else {
        if n.default_bridge {
            return Err(EngineError::invalid(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        if !n.user_subnet {
            return Err(EngineError::invalid(
                "user specified IP address is supported only when connecting to networks with user configured subnets",
            ));
        }
        let ip: Ipv4Addr = ip_text
            .parse()
            .map_err(|_| EngineError::invalid(format!("invalid IPv4 address: {ip_text}")))?;
        if !n.subnet.contains(ip) {
            return Err(EngineError::invalid(format!(
                "no configured subnet or ip-range contain the IP address {ip}"
            )));
        }
        Some(ip)
    };
    let aliases = given.aliases.clone().unwrap_or_default();
    if n.default_bridge && !aliases.is_empty() {
        return Err(EngineError::invalid(
            "network-scoped alias is supported only for containers in user defined networks",
        ));
    }
    let requested_mac = given.mac_address.clone();
    let link_local_ips = given
        .ipam_config
        .as_ref()
        .and_then(|c| c.link_local_ips.clone())
        .unwrap_or_default();
    Ok(EndpointRec {
        network_id: n.id.clone(),
        network_name: n.name.clone(),
        aliases,
        links: given.links.clone().unwrap_or_default(),
        requested_ip,
        requested_mac,
        link_local_ips,
        driver_opts: given.driver_opts.clone(),
        order,
        ..Default::default()
    })
}

impl Engine {
    /// Rewrite the resolv.conf of a running container after a connect or
    /// disconnect: the embedded DNS server of its first live user network
    /// (by attach order), else the host's servers.
    pub(crate) async fn refresh_resolv_conf(&self, c: &Container) -> Result<()> {
        let rec = c.snapshot();
        let mut live: Vec<&EndpointRec> = rec
            .network
            .endpoints
            .values()
            .filter(|e| e.ip.is_some())
            .collect();
        live.sort_by_key(|e| (e.order, e.ifname.clone()));
        let embedded = live.iter().find_map(|e| {
            let n = self.net.find(&e.network_id)?;
            (!n.default_bridge).then_some(n.gateway)
        });
        let overrides = DnsOverrides::of(&rec.host_config);
        let dir = c.dir.clone();
        blocking(move || write_resolv(&dir, embedded, &overrides)).await
    }
}
