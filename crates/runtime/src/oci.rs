//! Generate the OCI runtime spec (`config.json`) of a container with Docker's
//! sandbox defaults.

use serde_json::{json, Value};

use crate::caps::effective_caps;
use crate::cgroup::cgroup_path;
use crate::error::RuntimeError;
use crate::seccomp::default_profile;
use crate::spec::{ContainerSpec, MountKind, NetworkMode, DEFAULT_SHM_SIZE};
use crate::user::ExecUser;

/// Paths Docker hides from non-privileged containers.
pub const MASKED_PATHS: &[&str] = &[
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

/// Paths Docker makes read-only in non-privileged containers.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The soft and hard `RLIMIT_NOFILE` Docker containers get (when the host allows).
pub const NOFILE_LIMIT: u64 = 1_048_576;

/// Host facts the spec depends on.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The shim's own hard `RLIMIT_NOFILE` (a limit is never raised above it).
    pub nofile_hard: u64,
    /// Whether to give the container a cgroup namespace (pure cgroup v2 hosts).
    pub cgroup_ns: bool,
    /// The host's cgroup v1 hierarchies under `/sys/fs/cgroup` (empty on pure v2 hosts).
    pub cgroup_v1: Vec<crate::cgroupfs::V1Hierarchy>,
}

impl HostFacts {
    /// The facts of this host and process.
    pub fn current() -> HostFacts {
        HostFacts {
            nofile_hard: nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map(|(_, hard)| hard)
                .unwrap_or(0),
            cgroup_ns: crate::cgroup::is_unified(),
            cgroup_v1: crate::cgroupfs::v1_hierarchies(),
        }
    }
}

/// Character devices every container may use (Docker's default device cgroup rules):
/// (major, minor or -1 for all).
const ALLOWED_CHAR_DEVICES: &[(i64, i64)] = &[
    (1, 3),    // null
    (1, 5),    // zero
    (1, 7),    // full
    (1, 8),    // random
    (1, 9),    // urandom
    (5, 0),    // tty
    (5, 1),    // console
    (5, 2),    // ptmx
    (136, -1), // pts
    (10, 200), // tun
];

fn device_rules(privileged: bool) -> Vec<Value> {
    if privileged {
        return vec![json!({"allow": true, "access": "rwm"})];
    }
    let mut rules = vec![
        json!({"allow": false, "access": "rwm"}),
        json!({"allow": true, "type": "c", "access": "m"}),
        json!({"allow": true, "type": "b", "access": "m"}),
    ];
    for (major, minor) in ALLOWED_CHAR_DEVICES {
        let mut r = json!({"allow": true, "type": "c", "major": major, "access": "rwm"});
        if *minor >= 0 {
            r["minor"] = json!(minor);
        }
        rules.push(r);
    }
    rules
}

fn mounts(spec: &ContainerSpec, host: &HostFacts) -> Vec<Value> {
    let shm = if spec.shm_size == 0 {
        DEFAULT_SHM_SIZE
    } else {
        spec.shm_size
    };
    let sys_opts = if spec.privileged {
        json!(["nosuid", "noexec", "nodev", "rw"])
    } else {
        json!(["nosuid", "noexec", "nodev", "ro"])
    };
    let mut m = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts}),
    ];
    if spec.privileged || host.cgroup_v1.is_empty() {
        // Pure v2 (libcontainer mounts cgroup2 read-only in the container's cgroup namespace),
        // or privileged (read-write, as Docker).
        let rw = if spec.privileged { "rw" } else { "ro" };
        m.push(
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                      "options": ["nosuid", "noexec", "nodev", "relatime", rw]}),
        );
    } else {
        let path = cgroup_path(&spec.cgroup_parent, &spec.id);
        m.extend(crate::cgroupfs::oci_mounts(&host.cgroup_v1, &path));
    }
    m.extend([
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]}),
    ]);
    // The container's own files and the user's mounts, parents before children: stably sorted
    // by the depth of their destination, as Docker orders them.
    let mut tail = Vec::new();
    for (dest, src) in [
        ("/etc/resolv.conf", &spec.resolv_conf_path),
        ("/etc/hostname", &spec.hostname_path),
        ("/etc/hosts", &spec.hosts_path),
    ] {
        if !src.as_os_str().is_empty() && src.exists() {
            tail.push(json!({"destination": dest, "type": "bind", "source": src,
                          "options": ["rbind", "rprivate"]}));
        }
    }
    for extra in &spec.mounts {
        match extra.kind {
            MountKind::Bind => {
                let mut opts = vec!["rbind".to_string()];
                if !extra.options.iter().any(|o| {
                    o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave")
                }) {
                    opts.push("rprivate".to_string());
                }
                opts.extend(extra.options.iter().cloned());
                tail.push(json!({"destination": extra.destination, "type": "bind",
                              "source": extra.source, "options": opts}));
            }
            MountKind::Tmpfs => {
                let mut opts = vec![
                    "nosuid".to_string(),
                    "nodev".to_string(),
                    "noexec".to_string(),
                ];
                opts.extend(extra.options.iter().cloned());
                tail.push(json!({"destination": extra.destination, "type": "tmpfs",
                              "source": "tmpfs", "options": opts}));
            }
        }
    }
    tail.sort_by_key(|v| {
        v["destination"]
            .as_str()
            .map(|d| std::path::Path::new(d).components().count())
            .unwrap_or(0)
    });
    m.extend(tail);
    m
}

fn namespaces(spec: &ContainerSpec, host: &HostFacts) -> Vec<Value> {
    let mut ns = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    match &spec.network {
        NetworkMode::None => ns.push(json!({"type": "network"})),
        NetworkMode::Host => {}
        NetworkMode::Path(p) => ns.push(json!({"type": "network", "path": p})),
    }
    if host.cgroup_ns {
        ns.push(json!({"type": "cgroup"}));
    }
    ns
}

fn resources(spec: &ContainerSpec) -> Value {
    let mut r = crate::resources::Resources::of(spec).to_oci();
    r["devices"] = json!(device_rules(spec.privileged));
    r
}

/// Build the OCI runtime spec of `spec` run as `user`, with the root at `spec.rootfs.target`.
pub fn generate(
    spec: &ContainerSpec,
    user: &ExecUser,
    host: &HostFacts,
) -> Result<oci_spec::runtime::Spec, RuntimeError> {
    if spec.args.is_empty() {
        return Err(RuntimeError::Spec("no command specified".into()));
    }
    let caps = effective_caps(spec.privileged, &spec.cap_add, &spec.cap_drop)?;
    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let cwd = if spec.cwd.is_empty() { "/" } else { &spec.cwd };
    // noNewPrivileges is left out (Docker's default, false): libcontainer 0.7
    // loads seccomp while it still has CAP_SYS_ADMIN only when the field is absent.
    let mut process = json!({
        "terminal": spec.tty,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "args": spec.args,
        "env": env,
        "cwd": cwd,
        "capabilities": {
            "bounding": caps, "effective": caps, "permitted": caps,
        },
        "oomScoreAdj": spec.oom_score_adj,
    });
    // Never above the hard limit: the process may lack CAP_SYS_RESOURCE.
    let nofile_default = (host.nofile_hard >= NOFILE_LIMIT).then_some(NOFILE_LIMIT);
    let rlimits = crate::resources::rlimits(&spec.ulimits, nofile_default)?;
    if !rlimits.is_empty() {
        process["rlimits"] = json!(rlimits);
    }
    let mut linux = json!({
        "resources": resources(spec),
        "cgroupsPath": cgroup_path(&spec.cgroup_parent, &spec.id),
        "namespaces": namespaces(spec, host),
    });
    let sysctl = crate::sysctl::sysctls(spec)?;
    if !sysctl.is_empty() {
        linux["sysctl"] = json!(sysctl);
    }
    if !spec.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
        linux["seccomp"] = default_profile(&caps);
    }
    let hostname: String = if spec.hostname.is_empty() {
        spec.id.chars().take(12).collect()
    } else {
        spec.hostname.clone()
    };
    let annotations: serde_json::Map<String, Value> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let value = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": spec.rootfs.target, "readonly": spec.rootfs.readonly},
        "hostname": hostname,
        "mounts": mounts(spec, host),
        "linux": linux,
        "annotations": annotations,
    });
    serde_json::from_value(value).map_err(|e| RuntimeError::Spec(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::MountSpec;
    use std::path::Path;

    fn facts(hard: u64) -> HostFacts {
        HostFacts {
            nofile_hard: hard,
            cgroup_ns: false,
            cgroup_v1: Vec::new(),
        }
    }

    fn user() -> ExecUser {
        ExecUser {
            uid: 1000,
            gid: 100,
            additional_gids: vec![5],
            home: "/home/u".into(),
        }
    }

    fn base() -> ContainerSpec {
        let mut s = ContainerSpec::with_defaults(&"ab".repeat(32), Path::new("/c"));
        s.args = vec!["sh".into(), "-c".into(), "true".into()];
        s.env = vec!["PATH=/bin".into()];
        s
    }

    #[test]
    fn docker_defaults() {
        let spec = generate(&base(), &user(), &facts(20_000)).unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["hostname"], "abababababab");
        assert_eq!(v["process"]["cwd"], "/");
        assert_eq!(v["process"]["user"]["uid"], 1000);
        assert_eq!(v["process"]["user"]["additionalGids"], json!([5]));
        assert!(v["process"]["env"]
            .as_array()
            .unwrap()
            .contains(&json!("HOME=/home/u")));
        // Hard limit below 1048576: rlimits left alone.
        assert!(v["process"]
            .get("rlimits")
            .is_none_or(|r| r.as_array().unwrap().is_empty()));
        let eff = v["process"]["capabilities"]["effective"]
            .as_array()
            .unwrap();
        assert_eq!(eff.len(), 14);
        assert!(v["process"]["capabilities"].get("ambient").is_none());
        assert_eq!(
            v["linux"]["cgroupsPath"],
            format!("/berth/{}", "ab".repeat(32))
        );
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, vec!["pid", "ipc", "uts", "mount", "network"]);
        assert!(v["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .contains(&json!("/proc/kcore")));
        assert!(v["linux"]["seccomp"].is_object());
        let shm = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap();
        assert!(shm["options"]
            .as_array()
            .unwrap()
            .contains(&json!("size=67108864")));
    }

    #[test]
    fn options_map_to_spec() {
        let mut s = base();
        s.network = NetworkMode::Host;
        s.rootfs.readonly = true;
        s.cwd = "/work".into();
        s.memory = 64 << 20;
        s.nano_cpus = 1_500_000_000;
        s.pids_limit = 100;
        s.env.push("HOME=/x".into());
        s.mounts.push(MountSpec {
            source: "/data".into(),
            destination: "/data".into(),
            kind: MountKind::Bind,
            options: vec!["ro".into()],
        });
        let spec = generate(&s, &user(), &facts(2_000_000)).unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(v["process"]["cwd"], "/work");
        assert_eq!(
            v["process"]["rlimits"],
            json!([{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}])
        );
        let env = v["process"]["env"].as_array().unwrap();
        assert_eq!(
            env.iter()
                .filter(|e| e.as_str().unwrap().starts_with("HOME="))
                .count(),
            1
        );
        assert!(!v["linux"]["namespaces"].to_string().contains("network"));
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 150_000);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 100);
        let data = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/data")
            .unwrap();
        assert_eq!(data["options"], json!(["rbind", "rprivate", "ro"]));
    }

    #[test]
    fn privileged_has_everything() {
        let mut s = base();
        s.privileged = true;
        let v = serde_json::to_value(generate(&s, &user(), &facts(0)).unwrap()).unwrap();
        assert!(v["linux"].get("seccomp").is_none());
        assert!(v["linux"].get("maskedPaths").is_none());
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            crate::caps::ALL_CAPS.len()
        );
    }

    #[test]
    fn empty_args_rejected() {
        let mut s = base();
        s.args.clear();
        assert!(generate(&s, &user(), &facts(0)).is_err());
    }
}
