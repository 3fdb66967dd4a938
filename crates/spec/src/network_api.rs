//! Engine API models of networks (`/networks/*`) and of a container's
//! networking config (`NetworkingConfig` in `POST /containers/create`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::EndpointSettings;

/// `NetworkingConfig` of `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    /// Network name or ID -> endpoint settings (aliases, IPAM config).
    pub endpoints_config: Option<BTreeMap<String, EndpointSettings>>,
}

/// `EndpointSettings.IPAMConfig`: a static address asked for (`--ip`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    /// `--ip`.
    #[serde(rename = "IPv4Address", skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    /// `--ip6` (not supported; kept for round-trips).
    #[serde(rename = "IPv6Address", skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    /// Link-local addresses (kept for round-trips).
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "Option::is_none")]
    pub link_local_ips: Option<Vec<String>>,
}

/// One `IPAM.Config` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamPool {
    /// CIDR, e.g. `172.18.0.0/16`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    /// `--ip-range` (accepted; allocation stays within `subnet`).
    #[serde(rename = "IPRange", skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    /// The gateway (the bridge's address).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// `--aux-address` (accepted, not used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auxiliary_addresses: Option<BTreeMap<String, String>>,
}

/// `IPAM` of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    /// Always `default`.
    pub driver: String,
    /// Driver options (`null` when none).
    pub options: Option<BTreeMap<String, String>>,
    /// The pools (one IPv4 pool here).
    pub config: Vec<IpamPool>,
}

impl Default for Ipam {
    fn default() -> Self {
        Ipam {
            driver: "default".into(),
            options: None,
            config: Vec::new(),
        }
    }
}

/// One entry of a network's `Containers` map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkContainer {
    /// Container name (without `/`).
    pub name: String,
    /// Endpoint ID (64 hex).
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// `02:42:...`.
    pub mac_address: String,
    /// `172.18.0.2/16`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// Empty (no IPv6).
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// `ConfigFrom` of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigReference {
    /// Always empty here.
    pub network: String,
}

/// `GET /networks/{id}` and each entry of `GET /networks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Network {
    /// Name.
    pub name: String,
    /// ID (64 hex).
    pub id: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    /// Always `local`.
    pub scope: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// Always false.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Address management.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// `--internal`: no outside access.
    pub internal: bool,
    /// `--attachable`.
    pub attachable: bool,
    /// Always false.
    pub ingress: bool,
    /// Always empty.
    pub config_from: ConfigReference,
    /// Always false.
    pub config_only: bool,
    /// Container ID -> endpoint (filled by inspect; empty in list).
    pub containers: BTreeMap<String, NetworkContainer>,
    /// Driver options (`com.docker.network.bridge.name`, ...).
    pub options: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// Body of `POST /networks/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    /// Name (required).
    pub name: String,
    /// Refuse an existing name (berth always does, as dockerd 20.10 with the docker CLI).
    pub check_duplicate: bool,
    /// `bridge` (default) only.
    pub driver: String,
    /// `--internal`.
    pub internal: bool,
    /// `--attachable`.
    pub attachable: bool,
    /// Not supported (must be false).
    pub ingress: bool,
    /// Address management; `None` picks a free subnet.
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    /// Not supported (must be false).
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Driver options (`-o`).
    pub options: Option<BTreeMap<String, String>>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// `--config-only` etc. are accepted and ignored.
    pub config_only: bool,
    /// Ignored.
    pub config_from: Option<ConfigReference>,
    /// Ignored.
    pub scope: String,
}

/// Response of `POST /networks/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateResponse {
    /// The new network's ID.
    pub id: String,
    /// Empty, or a warning.
    pub warning: String,
}

/// Body of `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConnectRequest {
    /// Container name or ID.
    pub container: String,
    /// `--alias`, `--ip`, `--link`.
    pub endpoint_config: Option<EndpointSettings>,
}

/// Body of `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkDisconnectRequest {
    /// Container name or ID.
    pub container: String,
    /// `--force`.
    pub force: bool,
}

/// Response of `POST /networks/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkPruneResponse {
    /// Names of the removed networks (`null` when none, as dockerd).
    pub networks_deleted: Option<Vec<String>>,
}
