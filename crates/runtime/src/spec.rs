//! `ContainerSpec`: what the engine asks the shim to run (`<container-dir>/spec.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// File name of the container spec inside the container directory.
pub const SPEC_FILE: &str = "spec.json";

/// Default size of `/dev/shm` (64 MiB), as in Docker.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// Everything needed to run one container; the engine writes it as
/// `<container-dir>/spec.json` then spawns the shim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ContainerSpec {
    /// Container ID (64 hex chars).
    pub id: String,
    /// The container's directory (`<data-root>/containers/<id>`).
    pub container_dir: PathBuf,
    /// The overlay root filesystem.
    pub rootfs: RootfsSpec,
    /// Entrypoint + cmd, already combined by the engine; must be non-empty.
    pub args: Vec<String>,
    /// Final environment (`KEY=value`); the shim adds `HOME` from passwd when absent.
    pub env: Vec<String>,
    /// Working directory inside the container; `""` means `/`.
    pub cwd: String,
    /// Docker `-u` syntax: `""`, `name`, `uid`, `uid:gid`, `name:group`.
    pub user: String,
    /// `--group-add`: extra supplementary groups (names or numbers).
    pub group_add: Vec<String>,
    /// Hostname inside the container's UTS namespace.
    pub hostname: String,
    /// Network namespace mode.
    pub network: NetworkMode,
    /// Path of the json-file log the shim writes.
    pub log_path: PathBuf,
    /// Bind-mounted to `/etc/hosts`.
    pub hosts_path: PathBuf,
    /// Bind-mounted to `/etc/hostname`.
    pub hostname_path: PathBuf,
    /// Bind-mounted to `/etc/resolv.conf`.
    pub resolv_conf_path: PathBuf,
    /// Size of `/dev/shm` in bytes (0 means the 64 MiB default).
    pub shm_size: u64,
    /// Extra bind/tmpfs mounts, in order.
    pub mounts: Vec<MountSpec>,
    /// Parent cgroup; the container's cgroup is `/<cgroup_parent>/<id>` (`""` means `berth`).
    pub cgroup_parent: String,
    /// `--privileged`: all capabilities, no seccomp, no masked paths, all devices.
    pub privileged: bool,
    /// Capabilities to add (`NET_ADMIN` or `CAP_NET_ADMIN`, or `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities to drop (`NET_RAW` or `CAP_NET_RAW`, or `ALL`).
    pub cap_drop: Vec<String>,
    /// Memory limit in bytes (0 = unset).
    pub memory: i64,
    /// CPU quota in units of 1e-9 CPUs (0 = unset).
    pub nano_cpus: i64,
    /// Max number of pids (0 = unset, negative = unlimited).
    pub pids_limit: i64,
    /// oom_score_adj of the container's processes.
    pub oom_score_adj: i64,
    /// Container labels (passed as OCI annotations).
    pub labels: BTreeMap<String, String>,
    /// `-i`: the process's stdin is a pipe fed by attach clients (else `/dev/null`).
    pub open_stdin: bool,
    /// Close stdin when the first client that attached with stdin detaches.
    pub stdin_once: bool,
    /// `-t`: the process runs on a pseudo-terminal owned by the shim.
    pub tty: bool,
    /// Initial TTY size `(rows, cols)`.
    pub console_size: Option<(u16, u16)>,
    /// Memory + swap limit in bytes (0 = Docker's default, twice `memory`; -1 = unlimited swap).
    pub memory_swap: i64,
    /// Soft memory limit in bytes (0 = unset).
    pub memory_reservation: i64,
    /// Relative CPU weight (`--cpu-shares`, 0 = unset, default 1024).
    pub cpu_shares: u64,
    /// CFS quota in microseconds per period (0 = unset; `nano_cpus` wins when set).
    pub cpu_quota: i64,
    /// CFS period in microseconds (0 = unset: 100000).
    pub cpu_period: u64,
    /// CPUs the container may use (`0-3,5`; `""` = all).
    pub cpuset_cpus: String,
    /// Memory nodes the container may use (`""` = all).
    pub cpuset_mems: String,
    /// `--ulimit`s; a hard limit may not exceed the shim's own hard limit.
    pub ulimits: Vec<Ulimit>,
    /// The container's name (without `/`), used in the messages the shim
    /// writes into the log (OOM kills); the engine rewrites it on rename.
    pub name: String,
    /// `HostConfig.Sysctls` (Docker's defaults for an own network are added at generation).
    pub sysctls: BTreeMap<String, String>,
}

/// One `--ulimit name=soft:hard`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Ulimit {
    /// Docker's name: `nofile`, `nproc`, `core`, `memlock`, `stack`, ... (without `RLIMIT_`).
    pub name: String,
    /// Soft limit (-1 = unlimited).
    pub soft: i64,
    /// Hard limit (-1 = unlimited).
    pub hard: i64,
}

/// The overlay root filesystem of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct RootfsSpec {
    /// Image layer directories, LOWEST (base layer) FIRST.
    pub lower_dirs: Vec<PathBuf>,
    /// The container's writable upper dir (`container_dir/upper`).
    pub upper_dir: PathBuf,
    /// Overlay work dir (`container_dir/work`).
    pub work_dir: PathBuf,
    /// Mount point (`container_dir/rootfs`).
    pub target: PathBuf,
    /// `--read-only`: the root is mounted read-only inside the container.
    pub readonly: bool,
}

/// The network namespace of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A new network namespace with only `lo` (up).
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// Join an existing network namespace at this path.
    Path(PathBuf),
}

/// Kind of an extra mount.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A bind mount of `source`.
    #[default]
    Bind,
    /// A tmpfs (source ignored).
    Tmpfs,
}

/// An extra mount in the container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct MountSpec {
    /// Host path (bind) or ignored (tmpfs).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    /// Bind or tmpfs.
    pub kind: MountKind,
    /// Mount options (`ro`, `rw`, `rprivate`, `size=..`, `mode=..`, ...).
    pub options: Vec<String>,
}

impl Default for ContainerSpec {
    fn default() -> Self {
        ContainerSpec {
            id: String::new(),
            container_dir: PathBuf::new(),
            rootfs: RootfsSpec::default(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: String::new(),
            user: String::new(),
            group_add: Vec::new(),
            hostname: String::new(),
            network: NetworkMode::None,
            log_path: PathBuf::new(),
            hosts_path: PathBuf::new(),
            hostname_path: PathBuf::new(),
            resolv_conf_path: PathBuf::new(),
            shm_size: DEFAULT_SHM_SIZE,
            mounts: Vec::new(),
            cgroup_parent: "berth".to_string(),
            privileged: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            memory: 0,
            nano_cpus: 0,
            pids_limit: 0,
            oom_score_adj: 0,
            labels: BTreeMap::new(),
            open_stdin: false,
            stdin_once: false,
            tty: false,
            console_size: None,
            memory_swap: 0,
            memory_reservation: 0,
            cpu_shares: 0,
            cpu_quota: 0,
            cpu_period: 0,
            cpuset_cpus: String::new(),
            cpuset_mems: String::new(),
            ulimits: Vec::new(),
            name: String::new(),
            sysctls: BTreeMap::new(),
        }
    }
}

impl ContainerSpec {
    /// A spec with the conventional paths inside `container_dir` filled in
    /// (rootfs upper/work/target, log, hosts, hostname, resolv.conf) and Docker's defaults.
    pub fn with_defaults(id: &str, container_dir: &Path) -> Self {
        ContainerSpec {
            id: id.to_string(),
            container_dir: container_dir.to_path_buf(),
            rootfs: RootfsSpec {
                lower_dirs: Vec::new(),
                upper_dir: container_dir.join("upper"),
                work_dir: container_dir.join("work"),
                target: container_dir.join("rootfs"),
                readonly: false,
            },
            log_path: container_dir.join(format!("{id}-json.log")),
            hosts_path: container_dir.join("hosts"),
            hostname_path: container_dir.join("hostname"),
            resolv_conf_path: container_dir.join("resolv.conf"),
            hostname: id.chars().take(12).collect(),
            ..ContainerSpec::default()
        }
    }

    /// Read `<container_dir>/spec.json`.
    pub fn load(container_dir: &Path) -> Result<Self, RuntimeError> {
        let path = container_dir.join(SPEC_FILE);
        let bytes = std::fs::read(&path).map_err(|e| RuntimeError::io("read", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| RuntimeError::Json { path, source: e })
    }

    /// Write `<container_dir>/spec.json` atomically (temp + fsync + rename).
    pub fn save(&self, container_dir: &Path) -> Result<(), RuntimeError> {
        let path = container_dir.join(SPEC_FILE);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| RuntimeError::Json {
            path: path.clone(),
            source: e,
        })?;
        crate::atomic::write_atomic(&path, &bytes)
    }
}
