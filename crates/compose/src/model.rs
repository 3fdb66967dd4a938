//! The loaded project in canonical form: what `config` prints and what the
//! planner consumes. Every path is absolute, every short syntax is in its
//! long form, durations are Go-style strings (`1m30s`), sizes are bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::units::Duration;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A loaded Compose project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    /// The project name (normalised).
    pub name: String,
    /// The project directory (absolute).
    #[serde(skip)]
    pub working_dir: PathBuf,
    /// The files it was loaded from, in order (absolute; empty for stdin).
    #[serde(skip)]
    pub config_files: Vec<PathBuf>,
    /// Active services by name.
    pub services: BTreeMap<String, Service>,
    /// Networks by key (with the implicit `default` when used).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
    /// Volumes by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Volume>,
    /// Secrets by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileObject>,
    /// Configs by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileObject>,
    /// Top-level `x-` extensions, as written.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, serde_json::Value>,
    /// Profiles named by any service (active or not), sorted.
    #[serde(skip)]
    pub all_profiles: Vec<String>,
    /// Warnings met while loading (unset variables, obsolete `version`).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Project {
    /// A project known only by its name (`-p NAME` without a Compose file:
    /// enough for `ps`, `logs` and `down`, which find containers by label).
    pub fn named(name: &str, working_dir: PathBuf) -> Project {
        Project {
            name: name.to_string(),
            working_dir,
            config_files: Vec::new(),
            services: BTreeMap::new(),
            networks: BTreeMap::new(),
            volumes: BTreeMap::new(),
            secrets: BTreeMap::new(),
            configs: BTreeMap::new(),
            extensions: BTreeMap::new(),
            all_profiles: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// A service.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Service {
    /// Profiles that enable it (none: always enabled).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// How to build its image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// Capabilities added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// The command (argv).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Configs mounted into the container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    /// Fixed container name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// CPU limit (`cpus:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Services this one depends on.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Dependency>,
    /// `deploy:` (resources, replicas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// Devices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    /// DNS servers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// The entrypoint (argv).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Environment (`None`: declared without a value).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, Option<String>>,
    /// Exposed ports (`80`, `8000-8010/udp`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    /// Extra `/etc/hosts` entries (`host=ip`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    /// GPU requests.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<DeviceRequest>,
    /// Health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Hostname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Image reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Run an init as PID 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Links (`service` or `service:alias`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Memory limit in bytes (`mem_limit:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<u64>,
    /// `network_mode:` (`host`, `none`, `service:x`, `container:x`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// Networks the service joins (`None`: no per-network settings).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Option<ServiceNetwork>>,
    /// Published ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// `pull_policy:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<String>,
    /// Read-only root filesystem.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Restart policy (`no`, `always`, `on-failure[:N]`, `unless-stopped`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// `scale:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<u64>,
    /// Secrets mounted into the container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    /// `/dev/shm` size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// Keep stdin open.
    #[serde(skip_serializing_if = "is_false")]
    pub stdin_open: bool,
    /// Time to wait before SIGKILL on stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    /// Signal to stop the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// tmpfs mounts (`/path[:options]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Allocate a TTY.
    #[serde(skip_serializing_if = "is_false")]
    pub tty: bool,
    /// Resource limits by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// User (`uid[:gid]` or name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolume>,
    /// `volumes_from:` (`service[:ro]`, `container:name[:ro]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    /// Working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Compose-spec keys berth accepts but does not interpret yet, and
    /// `x-` extensions, as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `build:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Build {
    /// Build context (absolute path, or a URL).
    pub context: String,
    /// Dockerfile, relative to the context.
    pub dockerfile: String,
    /// Build arguments (`None`: taken from the environment at build time).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Option<String>>,
    /// Target stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Image labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Cache sources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dependency {
    /// `service_started`, `service_healthy` or `service_completed_successfully`.
    pub condition: String,
    /// Restart this service when the dependency is updated.
    #[serde(skip_serializing_if = "is_false")]
    pub restart: bool,
    /// Fail if the dependency is missing (otherwise only warn).
    pub required: bool,
}

/// `deploy:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Deploy {
    /// Number of containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// Resource limits and reservations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// `deploy.resources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Resources {
    /// Limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceSet>,
    /// Reservations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<ResourceSet>,
}

/// Limits or reservations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceSet {
    /// CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Maximum number of processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
    /// Device requests (GPUs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceRequest>,
}

/// A device request (`gpus:`, `deploy.resources.reservations.devices`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceRequest {
    /// Capabilities (`gpu`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Driver (`nvidia`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// How many (-1: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Device IDs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
}

/// A device mapping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Host path.
    pub source: String,
    /// Container path.
    pub target: String,
    /// `rwm` subset.
    pub permissions: String,
}

/// `healthcheck:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Healthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// Time between checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time one check may take.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Failures before unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    /// Grace period after start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    /// Time between checks during the start period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    /// Disable the image's health check.
    #[serde(skip_serializing_if = "is_false")]
    pub disable: bool,
}

/// Per-network settings of a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceNetwork {
    /// DNS aliases on that network.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Fixed IPv4 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    /// Fixed IPv6 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
}

/// A published port, long syntax.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Port {
    /// Always `ingress` for a single engine.
    pub mode: String,
    /// Host address to bind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// Container port.
    pub target: u16,
    /// Host port or range (`8080`, `8000-8010`); none: any free port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// A mount, long syntax.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceVolume {
    /// `volume`, `bind` or `tmpfs`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Volume key or absolute host path (none: anonymous volume, tmpfs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Container path.
    pub target: String,
    /// Mounted read-only.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Bind options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    /// Volume options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    /// tmpfs options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
}

/// Options of a bind mount.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BindOptions {
    /// Create the host path when missing (short syntax does).
    #[serde(skip_serializing_if = "is_false")]
    pub create_host_path: bool,
    /// SELinux relabelling (`z` or `Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
    /// Propagation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
}

/// Options of a volume mount.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VolumeOptions {
    /// Do not copy the image's content into a new volume.
    #[serde(skip_serializing_if = "is_false")]
    pub nocopy: bool,
    /// Subpath of the volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
}

/// Options of a tmpfs mount.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TmpfsOptions {
    /// Size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// File mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// A secret or config reference of a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRef {
    /// The top-level key.
    pub source: String,
    /// Path in the container (default: `/run/secrets/<source>` or `/<source>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Owner uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Owner gid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// File mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// A ulimit: one value, or soft and hard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Ulimit {
    /// Soft = hard.
    Single(i64),
    /// Separate soft and hard values.
    Pair {
        /// Soft limit.
        soft: i64,
        /// Hard limit.
        hard: i64,
    },
}

/// A top-level network.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Network {
    /// The engine-side name (`proj_key` unless given or external).
    pub name: String,
    /// Driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Driver options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    /// Created outside Compose.
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    /// No outside connectivity.
    #[serde(skip_serializing_if = "is_false")]
    pub internal: bool,
    /// IPv6.
    #[serde(skip_serializing_if = "is_false")]
    pub enable_ipv6: bool,
    /// Containers outside the project may attach.
    #[serde(skip_serializing_if = "is_false")]
    pub attachable: bool,
    /// IPAM configuration, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipam: Option<serde_json::Value>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Volume {
    /// The engine-side name (`proj_key` unless given or external).
    pub name: String,
    /// Driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Driver options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    /// Created outside Compose.
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A top-level secret or config.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileObject {
    /// The engine-side name.
    pub name: String,
    /// Source file (absolute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source environment variable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Inline content (configs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Created outside Compose.
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}
