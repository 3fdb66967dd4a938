//! Capability sets: Docker's default set, `--cap-add`/`--cap-drop`, `--privileged`.

use crate::error::RuntimeError;

/// Docker's default capabilities for a non-privileged container.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability the OCI spec (and so libcontainer) knows.
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; `all` -> `ALL`.
pub fn normalize(name: &str) -> String {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" || up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// The capability set of a container, as Docker computes it.
pub fn effective_caps(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<Vec<String>, RuntimeError> {
    let all: Vec<String> = ALL_CAPS.iter().map(|s| s.to_string()).collect();
    if privileged {
        return Ok(all);
    }
    let add: Vec<String> = cap_add.iter().map(|c| normalize(c)).collect();
    let drop: Vec<String> = cap_drop.iter().map(|c| normalize(c)).collect();
    for c in add.iter().chain(drop.iter()) {
        if c != "ALL" && !ALL_CAPS.contains(&c.as_str()) {
            return Err(RuntimeError::Spec(format!("unknown capability: {c:?}")));
        }
    }
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPS.iter().map(|s| s.to_string()).collect()
    };
    if add.iter().any(|c| c == "ALL") {
        caps = all;
    } else {
        for c in add {
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
    }
    if !drop.iter().any(|c| c == "ALL") {
        caps.retain(|c| !drop.contains(c));
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn docker_rules() {
        assert_eq!(effective_caps(false, &[], &[]).unwrap().len(), 14);
        let c = effective_caps(false, &s(&["net_admin"]), &s(&["NET_RAW", "CAP_KILL"])).unwrap();
        assert!(c.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!c.contains(&"CAP_NET_RAW".to_string()));
        assert!(!c.contains(&"CAP_KILL".to_string()));
        let c = effective_caps(false, &s(&["CHOWN"]), &s(&["ALL"])).unwrap();
        assert_eq!(c, s(&["CAP_CHOWN"]));
        let c = effective_caps(false, &s(&["ALL"]), &s(&["SYS_ADMIN"])).unwrap();
        assert_eq!(c.len(), ALL_CAPS.len() - 1);
        assert_eq!(
            effective_caps(true, &[], &s(&["ALL"])).unwrap().len(),
            ALL_CAPS.len()
        );
        let e = effective_caps(false, &s(&["FOO"]), &[]).unwrap_err();
        assert!(e.to_string().contains("unknown capability: \"CAP_FOO\""));
    }
}
