//! Compose's names and labels: `proj-svc-N` containers, the
//! `com.docker.compose.*` labels, and the config hash that tells whether a
//! container still matches its service.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::model::{Project, Service};

/// Label: the project name.
pub const PROJECT: &str = "com.docker.compose.project";
/// Label: the service name.
pub const SERVICE: &str = "com.docker.compose.service";
/// Label: the replica number.
pub const NUMBER: &str = "com.docker.compose.container-number";
/// Label: the hash of the service's configuration.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// Label: the network key.
pub const NETWORK: &str = "com.docker.compose.network";
/// Label: the volume key.
pub const VOLUME: &str = "com.docker.compose.volume";
/// Label: the Compose implementation's version.
pub const VERSION: &str = "com.docker.compose.version";
/// The version written in [`VERSION`] labels.
pub const COMPOSE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The name of replica `number` of a service.
pub fn container_name(project: &Project, service: &str, svc: &Service, number: u64) -> String {
    match &svc.container_name {
        Some(n) => n.clone(),
        None => format!("{}-{service}-{number}", project.name),
    }
}

/// How many containers a service runs.
pub fn replicas(svc: &Service) -> u64 {
    svc.scale
        .or_else(|| svc.deploy.as_ref().and_then(|d| d.replicas))
        .unwrap_or(1)
}

/// The image a service runs (`proj-svc` for a service built from source).
pub fn image_of(project: &Project, service: &str, svc: &Service) -> String {
    match &svc.image {
        Some(i) => i.clone(),
        None => format!("{}-{service}", project.name),
    }
}

/// The hash of what makes a container: the service without the keys that
/// do not change a container (build, pull policy, scale, dependencies,
/// profiles).
pub fn config_hash(svc: &Service) -> String {
    let mut s = svc.clone();
    s.build = None;
    s.pull_policy = None;
    s.scale = None;
    s.depends_on.clear();
    s.profiles.clear();
    if let Some(d) = s.deploy.as_mut() {
        d.replicas = None;
    }
    let json = serde_json::to_string(&s).unwrap_or_default();
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// The labels of replica `number` of a service.
pub fn container_labels(
    project: &Project,
    service: &str,
    svc: &Service,
    number: u64,
) -> BTreeMap<String, String> {
    let mut l = svc.labels.clone();
    let files: Vec<String> = project
        .config_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let deps: Vec<String> = svc
        .depends_on
        .iter()
        .map(|(n, d)| format!("{n}:{}:{}", d.condition, d.restart))
        .collect();
    for (k, v) in [
        (PROJECT, project.name.clone()),
        (SERVICE, service.to_string()),
        (VERSION, COMPOSE_VERSION.to_string()),
        (
            "com.docker.compose.project.working_dir",
            project.working_dir.display().to_string(),
        ),
        ("com.docker.compose.project.config_files", files.join(",")),
        ("com.docker.compose.oneoff", "False".to_string()),
        (CONFIG_HASH, config_hash(svc)),
        (NUMBER, number.to_string()),
        ("com.docker.compose.depends_on", deps.join(",")),
        ("com.docker.compose.image", image_of(project, service, svc)),
    ] {
        l.insert(k.to_string(), v);
    }
    l
}

/// Labels of a project's network or volume (`kind` is [`NETWORK`] or
/// [`VOLUME`]).
pub fn resource_labels(
    project: &Project,
    kind: &str,
    key: &str,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut l = own.clone();
    l.insert(PROJECT.into(), project.name.clone());
    l.insert(kind.into(), key.into());
    l.insert(VERSION.into(), COMPOSE_VERSION.into());
    l
}
