//! The sysctls of a container: the user's (`HostConfig.Sysctls`), checked as Docker checks
//! them, plus Docker's defaults for containers with their own network namespace.

use std::collections::BTreeMap;

use crate::error::RuntimeError;
use crate::spec::{ContainerSpec, NetworkMode};

/// IPC-namespaced kernel sysctls a container may set (Docker's list).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The sysctls to set in the container, or Docker's error for one that would reach the host.
pub fn sysctls(spec: &ContainerSpec) -> Result<BTreeMap<String, String>, RuntimeError> {
    let own_netns = spec.network != NetworkMode::Host;
    let mut out = BTreeMap::new();
    for (key, value) in &spec.sysctls {
        let namespaced = IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.");
        if key.starts_with("net.") {
            if !own_netns {
                return Err(RuntimeError::Spec(format!(
                    "sysctl {key:?} not allowed in host network namespace"
                )));
            }
        } else if !namespaced {
            return Err(RuntimeError::Spec(format!(
                "sysctl {key:?} is not in a separate kernel namespace"
            )));
        }
        out.insert(key.clone(), value.clone());
    }
    // Docker 20.10: unprivileged ports and ping for every container with its own network.
    if own_netns {
        out.entry("net.ipv4.ip_unprivileged_port_start".into())
            .or_insert_with(|| "0".into());
        out.entry("net.ipv4.ping_group_range".into())
            .or_insert_with(|| "0 2147483647".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(net: NetworkMode, user: &[(&str, &str)]) -> ContainerSpec {
        let mut s = ContainerSpec::with_defaults("abc", Path::new("/c"));
        s.network = net;
        s.sysctls = user
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        s
    }

    #[test]
    fn docker_defaults_only_with_own_network() {
        let s = sysctls(&spec(NetworkMode::None, &[])).unwrap();
        assert_eq!(s["net.ipv4.ip_unprivileged_port_start"], "0");
        assert_eq!(s["net.ipv4.ping_group_range"], "0 2147483647");
        assert!(sysctls(&spec(NetworkMode::Host, &[])).unwrap().is_empty());
    }

    #[test]
    fn user_values_win_and_host_wide_ones_are_refused() {
        let s = sysctls(&spec(
            NetworkMode::None,
            &[
                ("net.ipv4.ip_unprivileged_port_start", "80"),
                ("kernel.shmmax", "1"),
            ],
        ))
        .unwrap();
        assert_eq!(s["net.ipv4.ip_unprivileged_port_start"], "80");
        assert_eq!(s["kernel.shmmax"], "1");
        let e = sysctls(&spec(NetworkMode::None, &[("vm.swappiness", "1")])).unwrap_err();
        assert!(
            e.to_string().contains("not in a separate kernel namespace"),
            "{e}"
        );
        let e = sysctls(&spec(NetworkMode::Host, &[("net.core.somaxconn", "1")])).unwrap_err();
        assert!(e.to_string().contains("host network namespace"), "{e}");
    }
}
