//! Image operations that need container knowledge (in-use checks, commit),
//! and image listing filters.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_spec::api::{ImageDeleteItem, ImageSummary, PruneResponse};
use berth_store::CommitOptions;

use crate::error::{EngineError, Result};
use crate::record::Status;
use crate::{blocking, Engine};

/// Go's `path.Match` subset: `*` (not across `/`), `?`, literal characters.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    fn rec(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != b'/')
                .any(|i| rec(&p[1..], &t[i..])),
            Some(b'?') => !t.is_empty() && t[0] != b'/' && rec(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && rec(&p[1..], &t[1..]),
        }
    }
    rec(pattern.as_bytes(), text.as_bytes())
}

/// Whether an image with `tags` matches a `reference=` filter pattern.
/// Whether a `repo:tag` matches a `reference=` filter pattern, on the whole
/// reference or on the repository name alone.
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let name = tag.rsplit_once(':').map(|(n, _)| n).unwrap_or(tag);
    glob_match(pattern, tag) || glob_match(pattern, name)
}

const IMAGE_FILTERS: &[&str] = &["dangling", "label", "before", "since", "reference"];

/// The filters `container prune` accepts.
struct PruneFilter {
    labels: Vec<String>,
    not_labels: Vec<String>,
    until: Option<chrono::DateTime<chrono::Utc>>,
}

impl PruneFilter {
    fn parse(filters: &BTreeMap<String, Vec<String>>) -> Result<Self> {
        let mut until = None;
        for (k, values) in filters {
            match k.as_str() {
                "label" | "label!" => {}
                "until" => {
                    for v in values {
                        let t = parse_until(v).ok_or_else(|| {
                            EngineError::invalid(format!("Invalid filter 'until={v}'"))
                        })?;
                        until = Some(t);
                    }
                }
                _ => return Err(EngineError::invalid(format!("Invalid filter '{k}'"))),
            }
        }
        Ok(PruneFilter {
            labels: filters.get("label").cloned().unwrap_or_default(),
            not_labels: filters.get("label!").cloned().unwrap_or_default(),
            until,
        })
    }

    fn matches(
        &self,
        labels: &BTreeMap<String, String>,
        created: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        crate::list::labels_match(&self.labels, Some(labels))
            && !self
                .not_labels
                .iter()
                .any(|f| crate::list::label_matches(f, labels))
            && self.until.is_none_or(|u| created < u)
    }
}

/// `until=`: a timestamp, or a duration (`10m`, `24h`, `30s`) before now.
fn parse_until(v: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Some(t) = crate::parse_api_time(v) {
        return Some(t);
    }
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(chrono::Utc::now() - chrono::Duration::seconds(secs))
}

impl Engine {
    /// Image IDs used by containers: id -> (short container id, running?).
    fn image_users(&self) -> BTreeMap<String, (String, bool)> {
        let mut out: BTreeMap<String, (String, bool)> = BTreeMap::new();
        for c in self.map().values() {
            let r = c.rec();
            let running = matches!(r.state.status, Status::Running | Status::Restarting);
            let e = out
                .entry(r.image_id.clone())
                .or_insert_with(|| (r.short_id().to_string(), running));
            if running && !e.1 {
                *e = (r.short_id().to_string(), true);
            }
        }
        out
    }

    /// `GET /images/json` with filters.
    pub async fn images(
        self: &Arc<Self>,
        all: bool,
        filters: BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<ImageSummary>> {
        for k in filters.keys() {
            if !IMAGE_FILTERS.contains(&k.as_str()) {
                return Err(EngineError::invalid(format!("Invalid filter '{k}'")));
            }
        }
        let store = self.store();
        blocking(move || {
            let list = store.list(all)?;
            let anchor = |key: &str| -> Result<Option<i64>> {
                match filters.get(key).and_then(|v| v.first()) {
                    Some(n) => {
                        let id = store.resolve(n)?;
                        Ok(list.iter().find(|i| i.id == id).map(|i| i.created))
                    }
                    None => Ok(None),
                }
            };
            let before = anchor("before")?;
            let since = anchor("since")?;
            let mut out = Vec::new();
            for img in list {
                let tags = img.repo_tags.clone().unwrap_or_default();
                let tags: Vec<String> = tags.into_iter().filter(|t| t != "<none>:<none>").collect();
                if let Some(d) = filters.get("dangling") {
                    let want = d.iter().any(|v| v == "true" || v == "1");
                    if want != tags.is_empty() {
                        continue;
                    }
                }
                let mut img = img;
                if let Some(refs) = filters.get("reference") {
                    // As dockerd: only the matching tags are listed.
                    let matching: Vec<String> = tags
                        .iter()
                        .filter(|t| refs.iter().any(|r| reference_matches(r, t)))
                        .cloned()
                        .collect();
                    if matching.is_empty() {
                        continue;
                    }
                    img.repo_tags = Some(matching);
                }
                if let Some(labels) = filters.get("label") {
                    if !crate::list::labels_match(labels, img.labels.as_ref()) {
                        continue;
                    }
                }
                if before.is_some_and(|b| img.created >= b)
                    || since.is_some_and(|s| img.created <= s)
                {
                    continue;
                }
                out.push(img);
            }
            Ok(out)
        })
        .await
    }

    /// `DELETE /images/{name}`.
    pub async fn image_remove(
        self: &Arc<Self>,
        name: &str,
        force: bool,
    ) -> Result<Vec<ImageDeleteItem>> {
        let users = self.image_users();
        let store = self.store();
        let name = name.to_string();
        let (id, items) = blocking(move || {
            let in_use = |id: &str| users.get(id).map(|u| u.0.clone());
            let running = |id: &str| users.get(id).filter(|u| u.1).map(|u| u.0.clone());
            let id = store.resolve(&name).ok();
            Ok((id, store.remove_with(&name, force, &in_use, &running)?))
        })
        .await?;
        self.log_image_removal(id.as_deref(), &items);
        Ok(items)
    }

    /// `POST /images/prune`.
    pub async fn image_prune(self: &Arc<Self>, all: bool) -> Result<PruneResponse> {
        let users = self.image_users();
        let store = self.store();
        let report =
            blocking(move || Ok(store.prune(all, &|id: &str| users.contains_key(id))?)).await?;
        self.log_prune(crate::events::kind::IMAGE, report.space_reclaimed);
        Ok(report)
    }

    /// `POST /containers/prune`: remove every stopped container that
    /// matches the filters (`label`, `label!`, `until`, as dockerd).
    pub async fn container_prune(
        self: &Arc<Self>,
        filters: BTreeMap<String, Vec<String>>,
    ) -> Result<PruneResponse> {
        let prune = PruneFilter::parse(&filters)?;
        let ids: Vec<String> = self
            .map()
            .values()
            .filter(|c| {
                let r = c.rec();
                matches!(
                    r.state.status,
                    Status::Exited | Status::Created | Status::Dead
                ) && prune.matches(&r.config.labels.clone().unwrap_or_default(), r.created)
            })
            .map(|c| c.id.clone())
            .collect();
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for id in ids {
            let upper = self.containers_dir().join(&id).join("upper");
            let size = blocking(move || Ok(crate::list::dir_size(&upper)))
                .await
                .unwrap_or(0);
            if self.remove(&id, false, false).await.is_ok() {
                reclaimed += size.max(0) as u64;
                deleted.push(id);
            }
        }
        self.log_prune(crate::events::kind::CONTAINER, reclaimed);
        Ok(PruneResponse {
            containers_deleted: Some(deleted),
            images_deleted: None,
            space_reclaimed: reclaimed,
        })
    }

    /// `POST /commit`: a new image from the container's upper dir.
    pub async fn commit(
        self: &Arc<Self>,
        name: &str,
        reference: Option<String>,
        comment: String,
        author: String,
        changes: Vec<String>,
        config: Option<berth_spec::api::ContainerConfig>,
    ) -> Result<String> {
        let c = self.lookup(name)?;
        let rec = c.snapshot();
        let mut base = rec.config.clone();
        if let Some(mut merged) = config {
            // Docker merges the given config over the container's.
            crate::merge::merge_config(&mut merged, &base);
            // The image the container was created from stays recorded (dockerd keeps the
            // container's own config as the image's `ContainerConfig`).
            if merged.image.is_empty() {
                merged.image = base.image.clone();
            }
            base = merged;
        }
        crate::envcap::record_in(self, name, &rec.image_id, &mut base).await;
        let event_ref = reference.clone();
        let event_comment = comment.clone();
        let opts = CommitOptions {
            container_id: rec.id.clone(),
            config: base,
            changes,
            author,
            comment,
            tag: reference,
            created: None,
            exclude: crate::files::MOUNT_PLACEHOLDERS
                .iter()
                .map(std::path::PathBuf::from)
                .collect(),
            ..CommitOptions::default()
        };
        let store = self.store();
        let upper = c.dir.join("upper");
        let parent = rec.image_id.clone();
        let id = blocking(move || Ok(store.commit(&parent, &upper, &opts)?)).await?;
        self.log_commit(&c, &id, event_ref.as_deref(), &event_comment);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_filters_select_by_label_and_age() {
        let mut f = BTreeMap::new();
        f.insert("label".to_string(), vec!["team=a".to_string()]);
        f.insert("label!".to_string(), vec!["keep".to_string()]);
        let p = PruneFilter::parse(&f).unwrap();
        let now = chrono::Utc::now();
        let mut labels = BTreeMap::new();
        labels.insert("team".to_string(), "a".to_string());
        assert!(p.matches(&labels, now));
        labels.insert("keep".to_string(), String::new());
        assert!(!p.matches(&labels, now));
        assert!(!p.matches(&BTreeMap::new(), now));
        f.clear();
        f.insert("until".to_string(), vec!["1h".to_string()]);
        let p = PruneFilter::parse(&f).unwrap();
        assert!(!p.matches(&BTreeMap::new(), now));
        assert!(p.matches(&BTreeMap::new(), now - chrono::Duration::hours(2)));
        f.insert("bogus".to_string(), vec![]);
        assert!(PruneFilter::parse(&f).is_err());
    }

    #[test]
    fn globbing_like_go_path_match() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("busybox:*", "busybox:latest"));
        assert!(!glob_match("busy*", "x/busybox"));
        assert!(glob_match("b?sybox", "busybox"));
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busybox:lat*", "busybox:latest"));
        assert!(!reference_matches("alpine", "busybox:latest"));
    }
}
