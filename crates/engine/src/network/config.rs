//! Network records: one JSON file per network under `<data_root>/network/`,
//! written atomically (temp file, fsync, rename).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use berth_network::ipam::Subnet;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// A bridge network as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// 64 hex.
    pub id: String,
    /// Name (unique).
    pub name: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// The Linux bridge device.
    pub bridge: String,
    /// IPv4 subnet.
    pub subnet: Subnet,
    /// Gateway (the bridge's address).
    pub gateway: Ipv4Addr,
    /// The subnet was given by the user (`--subnet`): `--ip` is allowed.
    pub user_subnet: bool,
    /// `--ip-range` as given (kept for inspect).
    #[serde(default)]
    pub ip_range: String,
    /// `--gateway` was given.
    #[serde(default)]
    pub user_gateway: bool,
    /// `--aux-address` (IPAM `AuxiliaryAddresses`): names to addresses never handed out.
    #[serde(default)]
    pub aux_addresses: BTreeMap<String, String>,
    /// `--internal`.
    #[serde(default)]
    pub internal: bool,
    /// `--attachable`.
    #[serde(default)]
    pub attachable: bool,
    /// Driver options.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The default `bridge` network (no DNS, links allowed).
    #[serde(default)]
    pub default_bridge: bool,
    /// The bridge existed before the network (`-o com.docker.network.bridge.name`
    /// naming a bridge berth did not create): it is used, never deleted.
    #[serde(default)]
    pub adopted_bridge: bool,
}

impl NetworkConfig {
    /// A fresh address pool of this network (inside `--ip-range` when given).
    pub fn new_pool(&self) -> berth_network::ipam::Pool {
        use berth_network::ipam::Pool;
        match self.ip_range.parse::<Subnet>() {
            Ok(r) if !self.ip_range.is_empty() => Pool::with_range(self.subnet, self.gateway, r)
                .unwrap_or_else(|e| {
                    tracing::warn!("network {}: {e}; using the whole subnet", self.name);
                    Pool::new(self.subnet, self.gateway)
                }),
            _ => Pool::new(self.subnet, self.gateway),
        }
    }

    /// Whether `ip` is one of the auxiliary addresses (taken in the pool, but no endpoint's).
    pub fn is_aux_address(&self, ip: Ipv4Addr) -> bool {
        self.aux_addresses
            .values()
            .any(|a| a.parse::<Ipv4Addr>() == Ok(ip))
    }

    /// [`NetworkConfig::new_pool`] with the auxiliary addresses taken, so no endpoint gets one.
    pub fn new_pool_reserved(&self) -> berth_network::ipam::Pool {
        let mut pool = self.new_pool();
        for addr in self.aux_addresses.values() {
            if let Ok(ip) = addr.parse::<Ipv4Addr>() {
                let _ = pool.allocate(Some(ip));
            }
        }
        pool
    }
}

/// `<data_root>/network`.
pub(crate) fn dir(data_root: &Path) -> PathBuf {
    data_root.join("network")
}

fn file(data_root: &Path, id: &str) -> PathBuf {
    dir(data_root).join(format!("{id}.json"))
}

/// Load every network record (unreadable ones are skipped with a warning).
pub(crate) fn load_all(data_root: &Path) -> Result<Vec<NetworkConfig>> {
    let d = dir(data_root);
    let rd = match std::fs::read_dir(&d) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EngineError::io(format!("read {}", d.display()), e)),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let p = entry.path();
        if p.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<NetworkConfig>(&b).map_err(|e| e.to_string()))
        {
            Ok(n) => out.push(n),
            Err(e) => tracing::warn!("skipping network record {}: {e}", p.display()),
        }
    }
    out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// Persist a network record atomically.
pub(crate) fn save(data_root: &Path, n: &NetworkConfig) -> Result<()> {
    let d = dir(data_root);
    std::fs::create_dir_all(&d)
        .map_err(|e| EngineError::io(format!("mkdir {}", d.display()), e))?;
    let bytes = serde_json::to_vec_pretty(n)
        .map_err(|e| EngineError::system(format!("serialize network {}: {e}", n.name)))?;
    berth_runtime::write_file(
        &file(data_root, &n.id),
        &bytes,
        berth_runtime::Durability::Durable,
    )?;
    Ok(())
}

/// Delete a network record (Ok if absent).
pub(crate) fn delete(data_root: &Path, id: &str) -> Result<()> {
    let p = file(data_root, id);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io(format!("remove {}", p.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let n = NetworkConfig {
            id: "a".repeat(64),
            name: "net".into(),
            created: Utc::now(),
            bridge: "bt0".into(),
            subnet: "10.5.0.0/16".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 5, 0, 1),
            user_subnet: true,
            ip_range: String::new(),
            adopted_bridge: false,
            user_gateway: false,
            aux_addresses: BTreeMap::new(),
            internal: false,
            attachable: false,
            options: BTreeMap::new(),
            labels: BTreeMap::new(),
            default_bridge: false,
        };
        save(d.path(), &n).unwrap();
        assert_eq!(load_all(d.path()).unwrap(), vec![n.clone()]);
        delete(d.path(), &n.id).unwrap();
        delete(d.path(), &n.id).unwrap();
        assert!(load_all(d.path()).unwrap().is_empty());
    }
}
