//! Volume operations of the API (`/volumes`): create, list with filters,
//! inspect, remove (refused while in use) and prune, with `volume` events.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use berth_spec::volume_api::{
    Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
};

use crate::error::{EngineError, Result};
use crate::list::{label_matches, labels_match};
use crate::mounts::volume_error;
use crate::{blocking, Engine};

/// Filters `GET /volumes` accepts.
const LIST_FILTERS: &[&str] = &["dangling", "name", "label", "driver"];
/// Filters `POST /volumes/prune` accepts.
const PRUNE_FILTERS: &[&str] = &["label", "label!"];

fn check_filters(filters: &BTreeMap<String, Vec<String>>, allowed: &[&str]) -> Result<()> {
    for k in filters.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(EngineError::invalid(format!("Invalid filter '{k}'")));
        }
    }
    Ok(())
}

fn parse_bool_filter(v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(EngineError::invalid(format!(
            "Invalid filter 'dangling={v}'"
        ))),
    }
}

/// The volume store of `data_root`, with what a crash left half done removed.
pub(crate) fn open_store(data_root: &std::path::Path) -> Arc<berth_volume::VolumeStore> {
    let store = berth_volume::VolumeStore::new(data_root.join("volumes"));
    store.clean_leftovers();
    Arc::new(store)
}

impl Engine {
    /// Create a volume through the store, publishing `create` when new.
    pub(crate) async fn volume_create_internal(
        &self,
        opts: berth_volume::CreateOptions,
    ) -> Result<berth_volume::Volume> {
        let store = Arc::clone(&self.volumes);
        let (v, created) = blocking(move || store.create(opts).map_err(volume_error)).await?;
        if created {
            self.volume_event(&v, "create");
        }
        Ok(v)
    }

    /// Remove a volume through the store, publishing `destroy`.
    pub(crate) async fn volume_remove_internal(&self, name: &str) -> Result<()> {
        let store = Arc::clone(&self.volumes);
        let n = name.to_string();
        let v = blocking(move || {
            let v = store.get(&n).map_err(volume_error)?;
            store.remove(&n).map_err(volume_error)?;
            Ok(v)
        })
        .await?;
        self.volume_event(&v, "destroy");
        Ok(())
    }

    /// The lock that keeps a volume in use from being removed between the
    /// in-use check and the removal: container create holds it from mount
    /// resolution (where its volumes are created or found) until the
    /// container is registered, `volume rm`, `volume prune` and `rm -v`
    /// from their in-use check until the removal.
    pub(crate) async fn volume_use_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.volume_use.lock().await
    }

    fn volume_event(&self, v: &berth_volume::Volume, action: &str) {
        let mut attrs = BTreeMap::new();
        attrs.insert("driver".to_string(), v.meta.driver.clone());
        self.bus.log("volume", action, &v.meta.name, attrs);
    }

    /// `POST /volumes/create`.
    pub async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume> {
        let opts = berth_volume::CreateOptions {
            name: Some(req.name),
            driver: req.driver,
            labels: req.labels,
            options: req.driver_opts,
            anonymous: false,
        };
        Ok(self.volume_create_internal(opts).await?.to_api())
    }

    /// `GET /volumes/{name}`.
    pub async fn volume_inspect(&self, name: &str) -> Result<Volume> {
        let store = Arc::clone(&self.volumes);
        let n = name.to_string();
        let v = blocking(move || store.get(&n).map_err(volume_error)).await?;
        Ok(v.to_api())
    }

    /// `GET /volumes` with `dangling`, `name`, `label`, `driver` filters.
    pub async fn volume_list(
        &self,
        filters: BTreeMap<String, Vec<String>>,
    ) -> Result<VolumeListResponse> {
        check_filters(&filters, LIST_FILTERS)?;
        let dangling = match filters.get("dangling").and_then(|v| v.first()) {
            Some(v) => Some(parse_bool_filter(v)?),
            None => None,
        };
        let store = Arc::clone(&self.volumes);
        let all = blocking(move || store.list().map_err(volume_error)).await?;
        // Names of the volumes some container's mounts use, scanned once.
        let in_use: HashSet<String> = if dangling.is_some() {
            self.map()
                .values()
                .flat_map(|c| {
                    c.rec()
                        .mounts
                        .iter()
                        .filter(|m| m.kind == "volume")
                        .map(|m| m.name.clone())
                        .collect::<Vec<_>>()
                })
                .collect()
        } else {
            HashSet::new()
        };
        let mut volumes = Vec::new();
        for v in all {
            let name = v.meta.name.as_str();
            if let Some(d) = dangling {
                if in_use.contains(name) == d {
                    continue;
                }
            }
            if let Some(names) = filters.get("name") {
                if !names.iter().any(|n| name.contains(n.as_str())) {
                    continue;
                }
            }
            if let Some(drivers) = filters.get("driver") {
                if !drivers.contains(&v.meta.driver) {
                    continue;
                }
            }
            if let Some(labels) = filters.get("label") {
                if !labels_match(labels, v.meta.labels.as_ref()) {
                    continue;
                }
            }
            volumes.push(v.to_api());
        }
        Ok(VolumeListResponse {
            volumes,
            warnings: None,
        })
    }

    /// `DELETE /volumes/{name}`: 409 while a container uses it; with
    /// `force`, a missing volume is no error.
    pub async fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let _use = self.volume_use_lock().await;
        let store = Arc::clone(&self.volumes);
        let n = name.to_string();
        let found = blocking(move || match store.get(&n) {
            Ok(v) => Ok(Some(v)),
            Err(berth_volume::VolumeError::NotFound(_)) if force => Ok(None),
            Err(e) => Err(volume_error(e)),
        })
        .await?;
        let Some(v) = found else { return Ok(()) };
        let users = self.volume_users(v.name());
        if !users.is_empty() {
            return Err(EngineError::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(" ")
            )));
        }
        self.volume_remove_internal(v.name()).await
    }

    /// `POST /volumes/prune`: every local volume no container uses.
    pub async fn volume_prune(
        &self,
        filters: BTreeMap<String, Vec<String>>,
    ) -> Result<VolumePruneResponse> {
        check_filters(&filters, PRUNE_FILTERS)?;
        let store = Arc::clone(&self.volumes);
        let all = blocking(move || store.list().map_err(volume_error)).await?;
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for v in all {
            let _use = self.volume_use_lock().await;
            if !self.volume_users(v.name()).is_empty() {
                continue;
            }
            if let Some(want) = filters.get("label") {
                if !labels_match(want, v.meta.labels.as_ref()) {
                    continue;
                }
            }
            if let Some(not) = filters.get("label!") {
                if not
                    .iter()
                    .any(|l| label_matches(l, v.meta.labels.as_ref().unwrap_or(&BTreeMap::new())))
                {
                    continue;
                }
            }
            let store = Arc::clone(&self.volumes);
            let n = v.meta.name.clone();
            let size = blocking(move || Ok(store.size(&n))).await?;
            match self.volume_remove_internal(v.name()).await {
                Ok(()) => {
                    reclaimed += size;
                    deleted.push(v.meta.name.clone());
                }
                Err(e) => tracing::warn!(volume = %v.name(), "prune: {e}"),
            }
        }
        self.log_prune("volume", reclaimed);
        Ok(VolumePruneResponse {
            volumes_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: reclaimed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let mut f = BTreeMap::new();
        f.insert("bogus".to_string(), vec![]);
        assert_eq!(
            check_filters(&f, LIST_FILTERS).unwrap_err().message,
            "Invalid filter 'bogus'"
        );
        let mut l = BTreeMap::new();
        l.insert("a".to_string(), "b".to_string());
        assert!(label_matches("a", &l));
        assert!(label_matches("a=b", &l));
        assert!(!label_matches("a=c", &l));
        assert!(parse_bool_filter("1").unwrap());
        assert!(!parse_bool_filter("false").unwrap());
        assert!(parse_bool_filter("x").is_err());
    }

    fn named(n: &str) -> berth_volume::CreateOptions {
        berth_volume::CreateOptions {
            name: Some(n.into()),
            ..Default::default()
        }
    }

    /// A container create holds the volume-use lock from resolving its
    /// mounts until it is registered: a `volume rm` or `prune` issued in
    /// that window waits and then sees the new user, instead of removing
    /// the volume the container is about to use.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rm_and_prune_wait_for_a_create_in_progress() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = Engine::open(crate::EngineConfig {
            data_root: tmp.path().join("data"),
            exec_root: tmp.path().join("exec"),
            shim_exe: std::path::PathBuf::from("/nonexistent/berth"),
            daemon_log: None,
        })
        .await
        .unwrap();
        // The create: takes the lock, then finds (or makes) its volume.
        let create = engine.volume_use_lock().await;
        let v = engine
            .volume_create_internal(named("shared"))
            .await
            .unwrap();
        let (e1, e2) = (Arc::clone(&engine), Arc::clone(&engine));
        let prune = tokio::spawn(async move { e1.volume_prune(BTreeMap::new()).await });
        let rm = tokio::spawn(async move { e2.volume_remove("shared", false).await });
        // What else create does before registering: blocking round trips
        // during which an unserialized rm/prune would remove the volume.
        for _ in 0..20 {
            let store = Arc::clone(&engine.volumes);
            blocking(move || Ok(store.list().map(|l| l.len()).unwrap_or(0)))
                .await
                .unwrap();
        }
        let id = "e".repeat(64);
        let rec = crate::ContainerRecord {
            id: id.clone(),
            mounts: vec![crate::MountRecord {
                kind: "volume".into(),
                name: v.meta.name.clone(),
                source: v.mountpoint.to_string_lossy().into_owned(),
                destination: "/data".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let dir = tmp.path().join("data/containers").join(&id);
        engine.map().insert(
            id.clone(),
            Arc::new(crate::container::Container::new(rec, dir)),
        );
        drop(create);
        let pruned = prune.await.unwrap().unwrap();
        assert_eq!(pruned.volumes_deleted, None);
        let err = rm.await.unwrap().unwrap_err();
        assert!(err.message.contains("volume is in use"), "{}", err.message);
        assert!(engine.volumes.get("shared").is_ok());
        assert!(v.mountpoint.is_dir());
    }
}
