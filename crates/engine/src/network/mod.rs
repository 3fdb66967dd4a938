//! Container networking in the engine: bridge networks (the default
//! `bridge` and user networks), endpoints of containers (netns, veth, IP),
//! published ports, legacy links, hosts/resolv.conf, the embedded DNS
//! servers and the `/networks` operations.
//!
//! The kernel work is done by `berth-network`; DNS by `berth-dns`. Here
//! lives the bookkeeping: which network has which address pool, which
//! container holds which endpoint, and the records on disk.

mod api;
pub(crate) mod config;
mod dns;
mod endpoints;
mod hostlock;
mod hostsfile;
mod links;
mod manager;
mod names;
mod ports;
pub(crate) mod record;
mod unlink;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_network::firewall::Firewall;
use berth_network::ipam::Pool;
use berth_network::ports::Reservation;

pub use api::NetworkListOptions;
pub(crate) use config::NetworkConfig;
pub(crate) use endpoints::create_warnings;

use crate::error::EngineError;

impl From<berth_network::NetError> for EngineError {
    fn from(e: berth_network::NetError) -> Self {
        EngineError::system(e.to_string())
    }
}

/// A network known to the engine, with its address pool.
pub(crate) struct NetEntry {
    /// The persisted record.
    pub cfg: NetworkConfig,
    /// Addresses handed out to running endpoints.
    pub pool: Pool,
}

impl NetEntry {
    /// Whether a running endpoint holds an address (the auxiliary addresses do not count).
    pub fn in_use(&self) -> bool {
        self.pool
            .allocated
            .iter()
            .any(|ip| !self.cfg.is_aux_address(*ip))
    }
}

/// Mutable networking state (short critical sections only).
#[derive(Default)]
pub(crate) struct Inner {
    /// Networks by ID.
    pub nets: BTreeMap<String, NetEntry>,
    /// Host ports held for each running container.
    pub reservations: HashMap<String, Vec<(PortKey, Reservation)>>,
    /// Embedded DNS servers by network ID.
    pub dns: HashMap<String, berth_dns::DnsServer>,
}

/// A reserved host port: protocol, host address (None = all), port.
pub(crate) type PortKey = (
    berth_network::firewall::Proto,
    Option<std::net::Ipv4Addr>,
    u16,
);

/// The engine's networking state.
pub(crate) struct NetState {
    /// Data root (network records live in `<data_root>/network`).
    pub data_root: PathBuf,
    /// `<exec_root>/netns`.
    pub netns_dir: PathBuf,
    /// This daemon's firewall chains.
    pub fw: Arc<Firewall>,
    /// Whether iptables is usable here (probed off the async runtime by
    /// [`crate::Engine::network_open`]; unset = not usable).
    fw_usable: std::sync::OnceLock<bool>,
    inner: Mutex<Inner>,
    /// Serialises network create/remove/prune.
    pub op: tokio::sync::Mutex<()>,
    /// Bridges, firewall and DNS servers are up (see `Engine::ensure_net_ready`).
    pub ready: tokio::sync::Mutex<bool>,
}

impl NetState {
    /// Networking state for a data root and exec root; records are loaded by
    /// [`crate::Engine::network_open`].
    pub fn new(data_root: &Path, exec_root: &Path) -> NetState {
        NetState {
            data_root: data_root.to_path_buf(),
            netns_dir: exec_root.join("netns"),
            fw: Arc::new(Firewall::new(&names::firewall_prefix(data_root))),
            fw_usable: std::sync::OnceLock::new(),
            inner: Mutex::new(Inner::default()),
            op: tokio::sync::Mutex::new(()),
            ready: tokio::sync::Mutex::new(false),
        }
    }

    /// Whether iptables is usable here.
    pub fn fw_enabled(&self) -> bool {
        self.fw_usable.get().copied().unwrap_or(false)
    }

    /// Record the result of the iptables probe (the first one wins).
    pub fn set_fw_enabled(&self, usable: bool) {
        let _ = self.fw_usable.set(usable);
    }

    /// Lock the mutable state (never across `.await`).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The netns file of a container.
    pub fn netns_path(&self, container_id: &str) -> PathBuf {
        self.netns_dir.join(container_id)
    }

    /// The records of all networks.
    pub fn configs(&self) -> Vec<NetworkConfig> {
        self.lock().nets.values().map(|n| n.cfg.clone()).collect()
    }

    /// The default bridge network's record.
    pub fn default_bridge(&self) -> Option<NetworkConfig> {
        self.lock()
            .nets
            .values()
            .find(|n| n.cfg.default_bridge)
            .map(|n| n.cfg.clone())
    }

    /// Find a network by full name, full ID or unique ID prefix.
    pub fn find(&self, name_or_id: &str) -> Option<NetworkConfig> {
        let g = self.lock();
        if let Some(n) = g.nets.values().find(|n| n.cfg.name == name_or_id) {
            return Some(n.cfg.clone());
        }
        if let Some(n) = g.nets.get(name_or_id) {
            return Some(n.cfg.clone());
        }
        let mut matches = g
            .nets
            .values()
            .filter(|n| !name_or_id.is_empty() && n.cfg.id.starts_with(name_or_id));
        let first = matches.next()?;
        if matches.next().is_some() {
            return None;
        }
        Some(first.cfg.clone())
    }
}

/// A random 64-hex ID.
pub(crate) fn random_id() -> String {
    crate::create::new_id()
}

/// A container's config with the `--link` variables of its current run
/// before its own (so that its own win), for the environment of an exec.
pub(crate) fn with_link_env(
    rec: &crate::record::ContainerRecord,
) -> berth_spec::api::ContainerConfig {
    let mut cfg = rec.config.clone();
    if !rec.network.link_env.is_empty() {
        let mut env = rec.network.link_env.clone();
        env.extend(cfg.env.take().unwrap_or_default());
        cfg.env = Some(env);
    }
    cfg
}

impl Drop for NetState {
    /// An engine dropped without [`crate::Engine::shutdown_network`] (tests,
    /// embedders) still removes its bridges and firewall chains when no
    /// endpoint is in use.
    fn drop(&mut self) {
        if !*self.ready.get_mut() {
            return;
        }
        let inner = match self.inner.get_mut() {
            Ok(i) => i,
            Err(p) => p.into_inner(),
        };
        if inner.nets.values().any(NetEntry::in_use) {
            return;
        }
        inner.dns.clear();
        inner.reservations.clear();
        let bridges: Vec<String> = inner
            .nets
            .values()
            .filter(|n| !n.cfg.adopted_bridge)
            .map(|n| n.cfg.bridge.clone())
            .collect();
        let fw = self.fw_enabled().then(|| Arc::clone(&self.fw));
        // Netlink needs a runtime; this may run inside one (or none): a thread of its own.
        let cleanup = std::thread::spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(async {
                    for b in &bridges {
                        if let Err(e) = berth_network::link::delete_bridge(b).await {
                            tracing::warn!("deleting bridge {b}: {e}");
                        }
                    }
                }),
                Err(e) => tracing::warn!("no runtime to delete bridges: {e}"),
            }
            if let Some(fw) = fw {
                if let Err(e) = fw.teardown() {
                    tracing::warn!("removing firewall chains: {e}");
                }
            }
        });
        let _ = cleanup.join();
    }
}
