//! `GET /containers/json`: filters, limits and the summary rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_spec::api::{
    ContainerSummary, EndpointSettings, Port, SummaryHostConfig, SummaryNetworkSettings,
};
use chrono::Utc;

use crate::error::{EngineError, Result};
use crate::record::{ContainerRecord, Status};
use crate::status::status_string;
use crate::{blocking, Engine};

/// Options of a container listing.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Return at most this many (the newest); <= 0 means no limit.
    pub limit: i64,
    /// Compute SizeRw / SizeRootFs.
    pub size: bool,
    /// Filters: key -> accepted values.
    pub filters: BTreeMap<String, Vec<String>>,
}

const FILTER_KEYS: &[&str] = &[
    "id",
    "name",
    "label",
    "status",
    "exited",
    "ancestor",
    "before",
    "since",
    "health",
    "network",
    "volume",
    "publish",
    "expose",
    "is-task",
    "isolation",
];
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Values of the `health` filter (`none`: no healthcheck).
const HEALTH_VALUES: &[&str] = &["starting", "healthy", "unhealthy", "none"];

/// A container's value for the `health` filter.
fn health_value(rec: &ContainerRecord) -> &'static str {
    rec.state
        .health
        .as_ref()
        .map_or("none", |h| h.status.as_str())
}

/// Whether a Docker label filter (`key` or `key=value`) matches `labels`.
pub(crate) fn label_matches(filter: &str, labels: &BTreeMap<String, String>) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|lv| lv == v),
        None => labels.contains_key(filter),
    }
}

/// Whether every label filter in `filters` matches `labels` (none set: no labels).
pub(crate) fn labels_match(filters: &[String], labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    filters.iter().all(|f| label_matches(f, labels))
}

/// A tiny subset of Go regexp used by `name` filters: `^` and `$` anchors, else substring.
fn name_matches(pattern: &str, name: &str) -> bool {
    let (anchored_start, p) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (anchored_end, p) = match p.strip_suffix('$') {
        Some(rest) => (true, rest),
        None => (false, p),
    };
    let p = p.trim_start_matches('/');
    let name = name.trim_start_matches('/');
    match (anchored_start, anchored_end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

/// Check filter keys and values as dockerd does.
pub(crate) fn validate_filters(filters: &BTreeMap<String, Vec<String>>) -> Result<()> {
    for (k, vals) in filters {
        if !FILTER_KEYS.contains(&k.as_str()) {
            return Err(EngineError::invalid(format!("Invalid filter '{k}'")));
        }
        if k == "status" {
            for v in vals {
                if !STATUSES.contains(&v.as_str()) {
                    return Err(EngineError::invalid(format!("Invalid filter 'status={v}'")));
                }
            }
        }
        if k == "health" {
            for v in vals {
                if !HEALTH_VALUES.contains(&v.as_str()) {
                    return Err(EngineError::invalid(format!(
                        "Unrecognised filter value for health: {v}"
                    )));
                }
            }
        }
        if k == "exited" {
            for v in vals {
                if v.parse::<i64>().is_err() {
                    return Err(EngineError::invalid(format!("Invalid filter 'exited={v}'")));
                }
            }
        }
    }
    Ok(())
}

impl Engine {
    /// List containers, newest first.
    pub async fn list(self: &Arc<Self>, opts: ListOptions) -> Result<Vec<ContainerSummary>> {
        validate_filters(&opts.filters)?;
        let mut recs: Vec<ContainerRecord> = self.map().values().map(|c| c.snapshot()).collect();
        recs.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        let f = &opts.filters;
        let all =
            opts.all || opts.limit > 0 || f.contains_key("status") || f.contains_key("exited");
        // before/since: containers created before/after the named one.
        let anchor = |key: &str| -> Result<Option<chrono::DateTime<Utc>>> {
            match f.get(key).and_then(|v| v.first()) {
                Some(name) => Ok(Some(self.lookup(name)?.rec().created)),
                None => Ok(None),
            }
        };
        let before = anchor("before")?;
        let since = anchor("since")?;
        let store = self.store();
        // Resolve each `ancestor` value once, not once per container.
        let ancestors: Option<Vec<(&String, Option<String>)>> = f
            .get("ancestor")
            .map(|images| images.iter().map(|i| (i, store.resolve(i).ok())).collect());
        let mut out = Vec::new();
        for rec in recs {
            let st = rec.state.status;
            let running = matches!(st, Status::Running | Status::Restarting);
            if !all && !running {
                continue;
            }
            if let Some(ids) = f.get("id") {
                if !ids.iter().any(|i| rec.id.starts_with(i.as_str())) {
                    continue;
                }
            }
            if let Some(names) = f.get("name") {
                if !names.iter().any(|n| name_matches(n, &rec.name)) {
                    continue;
                }
            }
            if let Some(labels) = f.get("label") {
                if !labels_match(labels, rec.config.labels.as_ref()) {
                    continue;
                }
            }
            if let Some(vols) = f.get("volume") {
                if !crate::mounts::mounts_any(&rec, vols) {
                    continue;
                }
            }
            if let Some(nets) = f.get("network") {
                if !self.on_networks(&rec, nets) {
                    continue;
                }
            }
            if let Some(statuses) = f.get("status") {
                if !statuses.iter().any(|s| s == rec.state.status_str()) {
                    continue;
                }
            }
            if let Some(values) = f.get("health") {
                if !values.iter().any(|v| v == health_value(&rec)) {
                    continue;
                }
            }
            if let Some(codes) = f.get("exited") {
                if st != Status::Exited
                    || !codes
                        .iter()
                        .any(|c| c.parse::<i64>().ok() == Some(rec.state.exit_code))
                {
                    continue;
                }
            }
            if let Some(images) = &ancestors {
                let matched = images.iter().any(|(img, resolved)| {
                    rec.image_name == **img
                        || rec.image_id == **img
                        || rec
                            .image_id
                            .trim_start_matches("sha256:")
                            .starts_with(img.trim_start_matches("sha256:"))
                        || resolved.as_deref() == Some(rec.image_id.as_str())
                });
                if !matched {
                    continue;
                }
            }
            if let Some(b) = before {
                if rec.created >= b {
                    continue;
                }
            }
            if let Some(s) = since {
                if rec.created <= s {
                    continue;
                }
            }
            out.push(rec);
            if opts.limit > 0 && out.len() as i64 >= opts.limit {
                break;
            }
        }
        let size = opts.size;
        let root = self.containers_dir();
        let nets: Vec<_> = out
            .iter()
            .map(|r| (self.summary_ports(r), self.networks_view(r)))
            .collect();
        blocking(move || {
            let now = Utc::now();
            let mut images = ImageCache::default();
            Ok(out
                .into_iter()
                .zip(nets)
                .map(|(rec, net)| {
                    summary(
                        &rec,
                        net,
                        now,
                        &store,
                        &mut images,
                        size.then(|| root.join(&rec.id).join("upper")).as_deref(),
                    )
                })
                .collect())
        })
        .await
    }
}

/// Bytes used by the files under `dir` (not following symlinks).
pub(crate) fn dir_size(dir: &std::path::Path) -> i64 {
    let mut total = 0i64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else {
                total += md.len() as i64;
            }
        }
    }
    total
}

/// `Command` of a summary: path and args, args with spaces in single quotes (as dockerd).
pub(crate) fn command_string(path: &str, args: &[String]) -> String {
    if args.is_empty() {
        return path.to_string();
    }
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{path} {}", args.join(" "))
}

/// Store lookups memoised over one listing (many containers share an image).
#[derive(Default)]
struct ImageCache {
    /// Image reference -> the ID it resolves to now.
    resolved: HashMap<String, Option<String>>,
    /// Image ID -> its size.
    sizes: HashMap<String, i64>,
}

fn summary(
    rec: &ContainerRecord,
    (ports, networks): (Vec<Port>, BTreeMap<String, EndpointSettings>),
    now: chrono::DateTime<Utc>,
    store: &berth_store::Store,
    cache: &mut ImageCache,
    upper: Option<&std::path::Path>,
) -> ContainerSummary {
    let mut image = rec.config.image.clone();
    let resolved = cache
        .resolved
        .entry(image.clone())
        .or_insert_with(|| store.resolve(&image).ok());
    if resolved.as_deref() != Some(rec.image_id.as_str()) {
        image = rec.image_id.clone();
    }
    let command = command_string(&rec.path, &rec.args);
    let net = rec.host_config.network_mode.clone();
    let (size_rw, size_root_fs) = match upper {
        Some(u) => {
            let rw = dir_size(u);
            let img = *cache
                .sizes
                .entry(rec.image_id.clone())
                .or_insert_with(|| store.inspect(&rec.image_id).map(|i| i.size).unwrap_or(0));
            (Some(rw), Some(rw + img))
        }
        None => (None, None),
    };
    ContainerSummary {
        id: rec.id.clone(),
        names: vec![format!("/{}", rec.name)],
        image,
        image_id: rec.image_id.clone(),
        command,
        created: rec.created.timestamp(),
        ports,
        size_rw,
        size_root_fs,
        labels: rec.config.labels.clone().unwrap_or_default(),
        state: rec.state.status_str().to_string(),
        status: status_string(&rec.state, now),
        host_config: SummaryHostConfig { network_mode: net },
        network_settings: SummaryNetworkSettings { networks },
        mounts: crate::mounts::api_mounts(rec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_and_name_filters() {
        let mut l = BTreeMap::new();
        l.insert("a".to_string(), "1".to_string());
        assert!(label_matches("a", &l));
        assert!(label_matches("a=1", &l));
        assert!(!label_matches("a=2", &l));
        assert!(!label_matches("b", &l));
        assert!(name_matches("web", "my-web-1"));
        assert!(name_matches("^my", "my-web-1"));
        assert!(!name_matches("^web", "my-web-1"));
        assert!(name_matches("^/my-web-1$", "my-web-1"));
    }

    #[test]
    fn commands_are_quoted_like_dockerd() {
        let args = vec!["-c".to_string(), "echo hi; sleep 1".to_string()];
        assert_eq!(command_string("sh", &args), "sh -c 'echo hi; sleep 1'");
        assert_eq!(command_string("true", &[]), "true");
    }

    #[test]
    fn filter_validation() {
        let mut f = BTreeMap::new();
        f.insert("bogus".to_string(), vec!["x".to_string()]);
        assert_eq!(
            validate_filters(&f).unwrap_err().message,
            "Invalid filter 'bogus'"
        );
        let mut f = BTreeMap::new();
        f.insert("status".to_string(), vec!["sleeping".to_string()]);
        assert!(validate_filters(&f).is_err());
        let mut f = BTreeMap::new();
        f.insert("status".to_string(), vec!["exited".to_string()]);
        assert!(validate_filters(&f).is_ok());
    }
}
