//! Read-only queries: name resolution, config, inspect, list, history,
//! layer directories.

use crate::error::StoreError;
use crate::layers::{diff_dir, layer_path, layer_size};
use crate::meta::{unix_secs, ImageEntry, State};
use crate::Store;
use berth_spec::api::{
    GraphDriver, HistoryItem, ImageInspect, ImageMetadata, ImageSummary, RootFs,
};
use berth_spec::digest::{is_hex64, Digest};
use berth_spec::image::ImageConfig;
use berth_spec::reference::Reference;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Docker's zero time, shown for images never tagged.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Resolve a user-typed name to an image ID (deleted images excluded).
pub(crate) fn resolve(st: &State, name: &str) -> Result<String, StoreError> {
    resolve_digest(st, name, false).map(|d| d.to_string())
}

/// Resolve to a digest. `include_deleted` lets exact IDs find images
/// removed with `rmi -f` that containers still use.
pub(crate) fn resolve_digest(
    st: &State,
    name: &str,
    include_deleted: bool,
) -> Result<Digest, StoreError> {
    let visible = |e: &ImageEntry| include_deleted || !e.record.deleted;
    // A full ID, with or without "sha256:".
    let full = name.strip_prefix("sha256:").unwrap_or(name);
    if is_hex64(full) {
        if let Ok(d) = Digest::from_hex(full) {
            if st.get(&d).is_some_and(visible) {
                return Ok(d);
            }
            return Err(StoreError::NoSuchImage(d.to_string()));
        }
    }
    // A reference.
    let tagged = Reference::parse_normalized_tagged(name)?;
    if let Some(id) = st.tags.get(&tagged.to_string()) {
        if st.get(id).is_some_and(visible) {
            return Ok(id.clone());
        }
    }
    // A unique ID prefix.
    if !full.is_empty() && full.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        let mut hits = st
            .images
            .range(full.to_string()..)
            .take_while(|(k, _)| k.starts_with(full))
            .filter(|(_, e)| visible(e));
        if let (Some((_, e)), None) = (hits.next(), hits.next()) {
            return Ok(e.id.clone());
        }
    }
    Err(StoreError::NoSuchImage(tagged.familiar_string()))
}

/// Resolve for internal use: exact IDs of deleted images are accepted.
pub(crate) fn entry<'a>(st: &'a State, name: &str) -> Result<&'a ImageEntry, StoreError> {
    let d = resolve_digest(st, name, true)?;
    st.get(&d)
        .ok_or_else(|| StoreError::NoSuchImage(name.to_string()))
}

pub(crate) fn config(store: &Store, id: &str) -> Result<ImageConfig, StoreError> {
    let st = store.lock();
    Ok(entry(&st, id)?.config.clone())
}

pub(crate) fn children(
    store: &Store,
    parent: &str,
) -> Result<Vec<(String, ImageConfig)>, StoreError> {
    let st = store.lock();
    let parent = if parent.is_empty() {
        String::new()
    } else {
        entry(&st, parent)?.id.to_string()
    };
    Ok(st
        .images
        .values()
        .filter(|e| !e.record.deleted && e.record.parent == parent)
        .map(|e| (e.id.to_string(), e.config.clone()))
        .collect())
}

pub(crate) fn repo_tags(store: &Store, id: &str) -> Result<Vec<String>, StoreError> {
    let st = store.lock();
    let e = entry(&st, id)?;
    Ok(st.tags_of(&e.id))
}

pub(crate) fn layer_dirs(store: &Store, id: &str) -> Result<Vec<PathBuf>, StoreError> {
    let st = store.lock();
    let e = entry(&st, id)?;
    // The same layer may occur twice in one image (every RUN that changes
    // nothing adds the same empty layer), but overlayfs refuses a lowerdir
    // listed twice (ELOOP). Keeping only the uppermost occurrence is exact:
    // that copy already shadows everything the lower copy could provide.
    let mut seen = std::collections::HashSet::new();
    let mut top_first: Vec<PathBuf> = Vec::new();
    for d in e.config.rootfs.diff_ids.iter().rev() {
        if seen.insert(d.clone()) {
            top_first.push(diff_dir(store.root(), d));
        }
    }
    top_first.reverse();
    Ok(top_first)
}

fn graph_driver(store: &Store, config: &ImageConfig) -> GraphDriver {
    let mut data = BTreeMap::new();
    let ids = &config.rootfs.diff_ids;
    if let Some((top, lower)) = ids.split_last() {
        let top_path = layer_path(store.root(), top);
        if !lower.is_empty() {
            let l: Vec<String> = lower
                .iter()
                .rev()
                .map(|d| diff_dir(store.root(), d).to_string_lossy().into_owned())
                .collect();
            data.insert("LowerDir".to_string(), l.join(":"));
        }
        data.insert(
            "MergedDir".into(),
            top_path.join("merged").to_string_lossy().into_owned(),
        );
        data.insert(
            "UpperDir".into(),
            top_path.join("diff").to_string_lossy().into_owned(),
        );
        data.insert(
            "WorkDir".into(),
            top_path.join("work").to_string_lossy().into_owned(),
        );
    }
    GraphDriver {
        data,
        name: "overlay2".into(),
    }
}

pub(crate) fn inspect(store: &Store, id: &str) -> Result<ImageInspect, StoreError> {
    let st = store.lock();
    let e = entry(&st, id)?;
    let c = &e.config;
    Ok(ImageInspect {
        id: e.id.to_string(),
        repo_tags: st.tags_of(&e.id),
        repo_digests: st.digests_of(&e.id),
        parent: e.record.parent.clone(),
        comment: c.comment.clone(),
        created: c.created.clone(),
        container: c.container.clone(),
        container_config: c.container_config.clone().unwrap_or_default(),
        docker_version: c.docker_version.clone(),
        author: c.author.clone(),
        config: c.config.clone().unwrap_or_default(),
        architecture: c.architecture.clone(),
        variant: c.variant.clone(),
        os: c.os.clone(),
        size: e.size,
        virtual_size: e.size,
        graph_driver: graph_driver(store, c),
        root_fs: RootFs {
            kind: c.rootfs.kind.clone(),
            layers: c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
        },
        metadata: ImageMetadata {
            last_tag_time: if e.record.last_tag_time.is_empty() {
                ZERO_TIME.into()
            } else {
                e.record.last_tag_time.clone()
            },
        },
    })
}

pub(crate) fn list(store: &Store, all: bool) -> Result<Vec<ImageSummary>, StoreError> {
    let st = store.lock();
    let mut out: Vec<ImageSummary> = Vec::new();
    for e in st.images.values().filter(|e| !e.record.deleted) {
        let tags = st.tags_of(&e.id);
        let digests = st.digests_of(&e.id);
        if !all && tags.is_empty() && digests.is_empty() && !st.children_of(&e.id).is_empty() {
            continue; // An intermediate image.
        }
        // As dockerd: untagged images show `<none>` placeholders; tagged
        // ones without registry digests a null RepoDigests.
        let repo_digests = if !digests.is_empty() {
            Some(digests)
        } else if tags.is_empty() {
            Some(vec!["<none>@<none>".to_string()])
        } else {
            None
        };
        let repo_tags = if tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            tags
        };
        out.push(ImageSummary {
            containers: -1,
            created: unix_secs(&e.config.created),
            id: e.id.to_string(),
            labels: e.config.config.as_ref().and_then(|c| c.labels.clone()),
            parent_id: e.record.parent.clone(),
            repo_digests,
            repo_tags: Some(repo_tags),
            shared_size: -1,
            size: e.size,
            virtual_size: e.size,
        });
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

pub(crate) fn history(store: &Store, id: &str) -> Result<Vec<HistoryItem>, StoreError> {
    let st = store.lock();
    let e = entry(&st, id)?;
    let c = &e.config;
    let mut items: Vec<HistoryItem> = Vec::new();
    let mut layer = 0usize;
    for h in &c.history {
        let mut size = 0;
        if !h.empty_layer {
            let d = c.rootfs.diff_ids.get(layer).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "image {}: too many non-empty layers in History section",
                    e.id
                ))
            })?;
            size = layer_size(store.root(), d);
            layer += 1;
        }
        items.push(HistoryItem {
            id: "<missing>".into(),
            created: unix_secs(&h.created),
            created_by: h.created_by.clone(),
            tags: None,
            size,
            comment: h.comment.clone(),
        });
    }
    items.reverse();
    // The top entries get the IDs (and tags) of the image and its parents.
    let mut cur = Some(e);
    for item in items.iter_mut() {
        let Some(img) = cur else { break };
        item.id = img.id.to_string();
        let tags = st.tags_of(&img.id);
        item.tags = if tags.is_empty() { None } else { Some(tags) };
        cur = Digest::parse(&img.record.parent)
            .ok()
            .and_then(|p| st.get(&p));
    }
    Ok(items)
}
