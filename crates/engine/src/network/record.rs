//! A container's networking state, persisted inside its record
//! (`ContainerRecord::network`): the networks it is attached to (config
//! given at create/connect time plus the runtime endpoint while it runs),
//! the ports actually published, and what its links contributed.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The networking part of a container record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerNet {
    /// Attached networks by network ID.
    pub endpoints: BTreeMap<String, EndpointRec>,
    /// Ports published by the current run.
    pub ports: Vec<PublishedPort>,
    /// The network namespace file of the current run (`<exec_root>/netns/<id>`), empty when none.
    pub sandbox_key: String,
    /// Environment variables added by `--link` (current run).
    pub link_env: Vec<String>,
}

impl ContainerNet {
    /// Whether the current run holds network resources (netns, IPs, ports).
    pub fn is_active(&self) -> bool {
        !self.sandbox_key.is_empty()
            || !self.ports.is_empty()
            || self.endpoints.values().any(|e| e.ip.is_some())
    }
}

/// One network a container is attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointRec {
    /// Network ID (64 hex).
    pub network_id: String,
    /// Network name when attached (for display if the network is gone).
    pub network_name: String,
    /// Network aliases given by the user (`--network-alias`, `--alias`).
    pub aliases: Vec<String>,
    /// `--link` entries given for this endpoint (user networks).
    pub links: Vec<String>,
    /// `--ip`: the address asked for.
    pub requested_ip: Option<Ipv4Addr>,
    /// `--mac-address`: the MAC address asked for (empty: derived from the IP).
    pub requested_mac: String,
    /// `IPAMConfig.LinkLocalIPs` as given (recorded and reported, as dockerd's bridge does).
    pub link_local_ips: Vec<String>,
    /// `DriverOpts` of the endpoint as given (recorded and reported).
    pub driver_opts: Option<serde_json::Value>,
    /// Attach order: 0 for the primary network (the NetworkMode one).
    pub order: u32,
    /// Endpoint ID of the current run (64 hex), empty when detached.
    pub endpoint_id: String,
    /// Address of the current run.
    pub ip: Option<Ipv4Addr>,
    /// Prefix length of the network.
    pub prefix: u8,
    /// Gateway of the network (current run).
    pub gateway: Option<Ipv4Addr>,
    /// MAC address (current run).
    pub mac: String,
    /// Host-side veth (current run).
    pub host_ifname: String,
    /// Interface name inside the container (`eth0`, ...).
    pub ifname: String,
}

impl EndpointRec {
    /// Forget the runtime part (after a detach).
    pub fn clear_runtime(&mut self) {
        self.endpoint_id.clear();
        self.ip = None;
        self.gateway = None;
        self.mac.clear();
        self.host_ifname.clear();
        self.ifname.clear();
    }
}

/// One published port of the current run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// Container port.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
    /// Host address (`None` = all addresses).
    pub host_ip: Option<Ipv4Addr>,
    /// Host port.
    pub host_port: u16,
    /// The container address the rule points to.
    pub container_ip: Ipv4Addr,
    /// The bridge of that address.
    pub bridge: String,
}
