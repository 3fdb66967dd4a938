//! `docker save`: a docker-archive (manifest.json, the legacy per-layer
//! directories docker 20.10 also reads, `repositories`), streamed.

use crate::blobs::read_blob;
use crate::error::StoreError;
use crate::layers::layer_path;
use crate::meta::{unix_secs, State};
use crate::query::resolve_digest;
use crate::remove::chain_ids;
use crate::split::LayerReader;
use crate::Store;
use berth_spec::api::ContainerConfig;
use berth_spec::digest::Digest;
use berth_spec::image::{ArchiveManifestEntry, ArchiveRepositories, ImageConfig, V1LayerJson};
use berth_spec::reference::Reference;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

/// One image to save and the references to record for it.
struct Item {
    id: Digest,
    config: ImageConfig,
    raw: Vec<u8>,
    refs: Vec<Reference>,
}

/// Docker's `parseNames` for save: a name without tag means every tag of
/// that repository; IDs carry no tags.
fn select(st: &State, names: &[String]) -> Result<Vec<(Digest, Option<Reference>)>, StoreError> {
    let mut out = Vec::new();
    for name in names {
        let bare = name.strip_prefix("sha256:").unwrap_or(name);
        if berth_spec::digest::is_hex64(bare) || name.starts_with("sha256:") {
            out.push((resolve_digest(st, name, false)?, None));
            continue;
        }
        let r = Reference::parse_normalized(name)?;
        if r.tag().is_none() && r.digest().is_none() {
            let repo = r.name();
            let mut found = false;
            for (full, id) in &st.tags {
                if let Ok(t) = Reference::parse_normalized(full) {
                    if t.name() == repo {
                        out.push((id.clone(), Some(t)));
                        found = true;
                    }
                }
            }
            if !found {
                out.push((resolve_digest(st, name, false)?, None));
            }
            continue;
        }
        match st.tags.get(&r.to_string()) {
            Some(id) => out.push((id.clone(), Some(r))),
            None => {
                // Maybe an ID prefix that looks like repo:tag? No: Docker
                // says the reference does not exist.
                return Err(StoreError::NoSuchImage(r.familiar_string()));
            }
        }
    }
    Ok(out)
}

/// The v1 ID Docker puts on a layer directory: a digest of the v1 JSON
/// with the chain ID and parent. Only needs to be unique and stable.
fn v1_id(v1: &V1LayerJson, chain: &Digest, parent: &str) -> Result<Digest, StoreError> {
    let mut v = serde_json::to_value(v1).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
        o.insert("layer_id".into(), chain.to_string().into());
        if !parent.is_empty() {
            o.insert("parent".into(), format!("sha256:{parent}").into());
        }
    }
    let bytes = serde_json::to_vec(&v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Digest::of_bytes(&bytes))
}

fn header(path: &str, size: u64, mtime: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    let _ = path;
    h
}

pub(crate) fn save(store: &Store, names: &[String], out: impl Write) -> Result<(), StoreError> {
    let items: Vec<Item> = {
        let st = store.lock();
        let mut items: Vec<Item> = Vec::new();
        for (id, r) in select(&st, names)? {
            let pos = match items.iter().position(|i| i.id == id) {
                Some(p) => p,
                None => {
                    let e = st
                        .get(&id)
                        .ok_or_else(|| StoreError::NoSuchImage(id.to_string()))?;
                    items.push(Item {
                        id: id.clone(),
                        config: e.config.clone(),
                        raw: Vec::new(),
                        refs: Vec::new(),
                    });
                    items.len() - 1
                }
            };
            if let Some(r) = r {
                if !items[pos].refs.contains(&r) {
                    items[pos].refs.push(r);
                }
            }
        }
        items
    };
    let mut items = items;
    for it in &mut items {
        it.raw = read_blob(store.root(), &it.id)?;
    }

    let w = |e: io::Error| StoreError::Io {
        context: "writing archive",
        path: "save".into(),
        source: e,
    };
    let mut tar = tar::Builder::new(out);
    let mut manifest: Vec<ArchiveManifestEntry> = Vec::new();
    let mut repos: ArchiveRepositories = BTreeMap::new();
    // Layer directories already written, by chain ID -> v1 ID.
    let mut saved: HashMap<Digest, String> = HashMap::new();
    let mut written_dirs: HashMap<String, ()> = HashMap::new();

    for it in &items {
        let c = &it.config;
        let mtime = unix_secs(&c.created).max(0) as u64;
        let chain = chain_ids(&c.rootfs.diff_ids);
        let mut parent = String::new();
        let mut layer_names = Vec::new();
        let n = c.rootfs.diff_ids.len();
        for (i, diff) in c.rootfs.diff_ids.iter().enumerate() {
            let mut v1 = if i + 1 == n {
                V1LayerJson {
                    id: String::new(),
                    parent: String::new(),
                    comment: c.comment.clone(),
                    created: c.created.clone(),
                    container: c.container.clone(),
                    container_config: c.container_config.clone().unwrap_or_default(),
                    docker_version: c.docker_version.clone(),
                    author: c.author.clone(),
                    config: c.config.clone(),
                    architecture: c.architecture.clone(),
                    variant: c.variant.clone(),
                    os: c.os.clone(),
                }
            } else {
                V1LayerJson {
                    created: "1970-01-01T00:00:00Z".into(),
                    container_config: ContainerConfig::default(),
                    os: c.os.clone(),
                    ..V1LayerJson::default()
                }
            };
            let id = v1_id(&v1, &chain[i], &parent)?.hex().to_string();
            v1.id = id.clone();
            v1.parent = parent.clone();
            if !written_dirs.contains_key(&id) {
                written_dirs.insert(id.clone(), ());
                let mt = if i + 1 == n { mtime } else { 0 };
                let mut h = header(&id, 0, mt, true);
                tar.append_data(&mut h, format!("{id}/"), io::empty())
                    .map_err(w)?;
                let mut h = header("", 3, mt, false);
                tar.append_data(&mut h, format!("{id}/VERSION"), &b"1.0"[..])
                    .map_err(w)?;
                let json =
                    serde_json::to_vec(&v1).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut h = header("", json.len() as u64, mt, false);
                tar.append_data(&mut h, format!("{id}/json"), &json[..])
                    .map_err(w)?;
                match saved.get(&chain[i]) {
                    Some(prev) => {
                        let mut h = header("", 0, mt, false);
                        h.set_entry_type(tar::EntryType::Symlink);
                        tar.append_link(
                            &mut h,
                            format!("{id}/layer.tar"),
                            format!("../{prev}/layer.tar"),
                        )
                        .map_err(w)?;
                    }
                    None => {
                        let (reader, len) =
                            LayerReader::open(&layer_path(store.root(), diff), diff)?;
                        let mut h = header("", len, mt, false);
                        tar.append_data(&mut h, format!("{id}/layer.tar"), reader)
                            .map_err(w)?;
                        saved.insert(chain[i].clone(), id.clone());
                    }
                }
            }
            layer_names.push(format!("{id}/layer.tar"));
            parent = id;
        }
        let cfg_name = format!("{}.json", it.id.hex());
        let mut h = header("", it.raw.len() as u64, mtime, false);
        tar.append_data(&mut h, &cfg_name, &it.raw[..]).map_err(w)?;
        for r in &it.refs {
            if let Some(t) = r.tag() {
                repos
                    .entry(r.familiar_name())
                    .or_default()
                    .insert(t.to_string(), parent.clone());
            }
        }
        manifest.push(ArchiveManifestEntry {
            config: cfg_name,
            repo_tags: if it.refs.is_empty() {
                None
            } else {
                Some(it.refs.iter().map(|r| r.familiar_string()).collect())
            },
            layers: layer_names,
            layer_sources: None,
        });
    }
    let m = serde_json::to_vec(&manifest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut h = header("", m.len() as u64, 0, false);
    tar.append_data(&mut h, "manifest.json", &m[..])
        .map_err(w)?;
    if !repos.is_empty() {
        let r = serde_json::to_vec(&repos).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut h = header("", r.len() as u64, 0, false);
        tar.append_data(&mut h, "repositories", &r[..]).map_err(w)?;
    }
    let mut out = tar.into_inner().map_err(w)?;
    out.flush().map_err(w)?;
    Ok(())
}
