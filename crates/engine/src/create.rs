//! `POST /containers/create`: validation, image config merge, the container directory.

use std::path::Path;
use std::sync::Arc;

use berth_spec::api::{ContainerCreateRequest, ContainerCreateResponse};
use chrono::Utc;
use rand::RngCore;

use crate::container::Container;
use crate::error::{EngineError, Result};
use crate::merge::{entrypoint_and_args, merge_config};
use crate::record::ContainerRecord;
use crate::{blocking, Engine};

/// The log drivers built into dockerd 20.10 (`docker info` → Plugins.Log).
const LOG_DRIVERS: &[&str] = &[
    "awslogs",
    "fluentd",
    "gcplogs",
    "gelf",
    "journald",
    "json-file",
    "local",
    "logentries",
    "none",
    "splunk",
    "syslog",
];

/// `/etc/hosts` of a container without a network of its own, as Docker writes it.
pub(crate) const HOSTS_LOCAL: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// A new random 64-hex container ID.
pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Normalise `HostConfig.NetworkMode` (`""` becomes `default`; the rest is
/// kept as given like dockerd, which checks the network at start: see
/// `Engine::net_setup` and [`effective_network`]).
pub(crate) fn network_mode(mode: &str) -> String {
    if mode.is_empty() {
        "default".into()
    } else {
        mode.to_string()
    }
}

/// The network a container's files are prepared for at create: `host`, else
/// `none` (bridge networks write their hosts and resolv.conf at start).
pub(crate) fn effective_network(mode: &str) -> &'static str {
    if mode == "host" {
        "host"
    } else {
        "none"
    }
}

/// Docker's default masked paths (`HostConfig.MaskedPaths`).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];
/// Docker's default read-only paths (`HostConfig.ReadonlyPaths`).
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Host's resolv.conf without loopback nameservers (Docker's filtering for
/// containers that do not share the host's network); Google's servers when none remain.
pub(crate) fn filter_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("nameserver") {
            let addr = rest.trim();
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

fn host_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Write the container directory: rootfs dirs and the /etc files.
fn prepare_dir(dir: &Path, hostname: &str, network: &str) -> Result<()> {
    for sub in ["upper", "work", "rootfs"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p)
            .map_err(|e| EngineError::io(format!("mkdir {}", p.display()), e))?;
    }
    let write = |name: &str, content: &str| -> Result<()> {
        let p = dir.join(name);
        std::fs::write(&p, content)
            .map_err(|e| EngineError::io(format!("write {}", p.display()), e))
    };
    write("hostname", &format!("{hostname}\n"))?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if network == "host" {
        let hosts =
            std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS_LOCAL.to_string());
        write("hosts", &hosts)?;
        write("resolv.conf", &host_resolv)?;
    } else {
        write("hosts", HOSTS_LOCAL)?;
        write("resolv.conf", &filter_resolv_conf(&host_resolv))?;
    }
    Ok(())
}

impl Engine {
    /// Create a container (`docker create`).
    pub async fn create(
        self: &Arc<Self>,
        req: ContainerCreateRequest,
        name: Option<String>,
    ) -> Result<ContainerCreateResponse> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                if !berth_spec::names::is_valid_container_name(&n) {
                    return Err(EngineError::invalid(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                Some(n.trim_start_matches('/').to_string())
            }
            None => None,
        };
        crate::health::config::validate(req.config.healthcheck.as_ref())?;
        let mut host_config = req.host_config;
        crate::restart::validate(&host_config.restart_policy)?;
        crate::resources::validate(&host_config, false)?;
        crate::resources::apply_defaults(&mut host_config);
        let policy = host_config.restart_policy.name.as_str();
        if host_config.auto_remove && !(policy.is_empty() || policy == "no") {
            return Err(EngineError::invalid(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
        host_config.network_mode = network_mode(&host_config.network_mode);
        if host_config.log_config.kind.is_empty() {
            host_config.log_config.kind = "json-file".into();
        }
        // The names of dockerd's built-in log drivers are accepted (and recorded) as before;
        // any other name would be a logging plugin, and none is installed.
        if !LOG_DRIVERS.contains(&host_config.log_config.kind.as_str()) {
            return Err(EngineError::invalid(format!(
                "error looking up logging plugin {0}: plugin \"{0}\" not found",
                host_config.log_config.kind
            )));
        }
        // dockerd's default runtime is named `runc`, and clients expect that name back; under
        // berth, `runc` and `berth` both name berth's own runtime (the shim).
        if host_config.runtime.is_empty() {
            host_config.runtime = "runc".into();
        }
        if !matches!(host_config.runtime.as_str(), "berth" | "runc") {
            return Err(EngineError::invalid(format!(
                "Unknown runtime specified {}",
                host_config.runtime
            )));
        }
        if host_config.memory_swappiness == Some(-1) {
            host_config.memory_swappiness = None;
        }
        if host_config.pids_limit == Some(0) {
            host_config.pids_limit = None;
        }
        if !host_config.privileged {
            if host_config.masked_paths.is_none() {
                host_config.masked_paths =
                    Some(MASKED_PATHS.iter().map(|s| s.to_string()).collect());
            }
            if host_config.readonly_paths.is_none() {
                host_config.readonly_paths =
                    Some(READONLY_PATHS.iter().map(|s| s.to_string()).collect());
            }
        }
        let mut config = req.config;
        let image_name = config.image.clone();
        if image_name.is_empty() {
            return Err(EngineError::invalid("No such image: "));
        }
        let store = self.store();
        let lookup = image_name.clone();
        let (image_id, image_config) = blocking(move || {
            let id = store.resolve(&lookup)?;
            let cfg = store.config(&id)?;
            Ok((id, cfg))
        })
        .await?;
        if let Some(img) = &image_config.config {
            merge_config(&mut config, img);
        }
        if config.volumes.as_ref().is_some_and(|v| v.is_empty()) {
            config.volumes = None;
        }
        let (path, args) = entrypoint_and_args(&config)?;
        let _volume_use = self.volume_use_lock().await;
        let mounts = self.resolve_mounts(&config, &host_config).await?;
        let new_volumes = self.new_volumes(&mounts);
        let mut network = self.net_create_config(&host_config, req.networking_config.as_ref())?;
        // `Config.MacAddress` (API <= 1.43) is the primary endpoint's address (checked at
        // start, as dockerd does).
        if !config.mac_address.is_empty() {
            for ep in network.endpoints.values_mut().filter(|e| e.order == 0) {
                ep.requested_mac = config.mac_address.clone();
            }
        }
        let net_warnings = crate::network::create_warnings(&host_config);
        let id = new_id();
        if config.hostname.is_empty() {
            config.hostname = if host_config.network_mode == "host" {
                host_hostname()
            } else {
                id[..12].to_string()
            };
        }
        let rec = ContainerRecord {
            id: id.clone(),
            name: String::new(),
            created: Utc::now(),
            path,
            args,
            image_id,
            image_name,
            config,
            host_config,
            state: Default::default(),
            mounts,
            network,
        };
        let dir = self.containers_dir().join(&id);
        let container = Arc::new(Container::new(rec, dir.clone()));
        // Hold the new container's operation lock until its directory is
        // written, so that a concurrent remove (or prune) of the just
        // registered container waits and cannot race with the writes here.
        let _op = container.op.try_lock().map_err(|_| {
            EngineError::system(format!("container {id} is locked before its creation"))
        })?;
        // Reserve the name and insert under one lock.
        {
            let mut map = self.map();
            let taken = |n: &str| {
                map.values()
                    .find(|c| c.rec().name == n)
                    .map(|c| c.id.clone())
            };
            let final_name = match name {
                Some(n) => {
                    if let Some(other) = taken(&n) {
                        return Err(EngineError::conflict(format!(
                            "Conflict. The container name \"/{n}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                        )));
                    }
                    n
                }
                None => {
                    let mut retry = 0;
                    loop {
                        let n = berth_spec::names::generate(retry);
                        if taken(&n).is_none() {
                            break n;
                        }
                        retry += 1;
                    }
                }
            };
            container.modify(|r| r.name = final_name);
            map.insert(id.clone(), Arc::clone(&container));
        }
        let rec = container.snapshot();
        let res = blocking(move || {
            std::fs::create_dir_all(&dir)
                .map_err(|e| EngineError::io(format!("mkdir {}", dir.display()), e))?;
            prepare_dir(
                &dir,
                &rec.config.hostname,
                effective_network(&rec.host_config.network_mode),
            )?;
            rec.save(&dir)
        })
        .await;
        if let Err(e) = res {
            self.map().remove(&id);
            let dir = container.dir.clone();
            let _ = std::fs::remove_dir_all(dir);
            return Err(e);
        }
        new_volumes.keep();
        tracing::info!(id = %id, "container created");
        self.container_event(&container, "create", &[]);
        Ok(ContainerCreateResponse {
            id,
            warnings: net_warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let out = filter_resolv_conf("search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n");
        assert_eq!(out, "search lan\nnameserver 10.0.0.1\n");
        let out = filter_resolv_conf("nameserver 127.0.0.1\n");
        assert!(out.contains("8.8.8.8"));
    }

    #[test]
    fn network_modes() {
        assert_eq!(network_mode("default"), "default");
        assert_eq!(network_mode(""), "default");
        assert_eq!(effective_network("default"), "none");
        assert_eq!(network_mode("host"), "host");
    }

    #[test]
    fn ids_are_64_hex() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
