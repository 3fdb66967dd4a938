//! In-memory index of images and tags, persisted as image records
//! (`images/<hex>.json`) and `repositories.json`, plus the pins that keep
//! freshly ingested layers from being garbage-collected.

use crate::atomic;
use crate::blobs::read_blob;
use crate::error::{IoContext, StoreError};
use crate::layers;
use berth_spec::digest::{is_hex64, Digest};
use berth_spec::image::ImageConfig;
use berth_spec::reference::Reference;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What the store records about an image besides its config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    /// Parent image ID (`sha256:...`) of committed images.
    #[serde(default)]
    pub parent: String,
    /// When the image was last tagged (RFC 3339), empty if never.
    #[serde(default)]
    pub last_tag_time: String,
    /// Removed with `rmi -f` while a container still used it: hidden from
    /// names and listings, kept for the container's layers.
    #[serde(default)]
    pub deleted: bool,
}

/// One image in memory.
#[derive(Debug, Clone)]
pub(crate) struct ImageEntry {
    pub id: Digest,
    pub record: ImageRecord,
    pub config: ImageConfig,
    /// Sum of the layer sizes.
    pub size: i64,
}

/// The persisted tag file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct TagFile {
    /// Full reference (`docker.io/library/busybox:latest`) -> image ID.
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Everything the store keeps in memory, behind the store's lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    root: PathBuf,
    /// Images by ID hex.
    pub images: BTreeMap<String, ImageEntry>,
    /// Full reference string -> image ID.
    pub tags: BTreeMap<String, Digest>,
    /// Layers (diff ID hex) in use by operations in progress.
    pub pins: HashMap<String, usize>,
}

impl State {
    pub(crate) fn load(root: &Path) -> Result<State, StoreError> {
        let mut st = State {
            root: root.to_path_buf(),
            ..State::default()
        };
        let dir = root.join("images");
        for e in std::fs::read_dir(&dir).ctx("reading image records", &dir)? {
            let e = e.ctx("reading image records", &dir)?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(hex) = name.strip_suffix(".json") else {
                continue;
            };
            if !is_hex64(hex) {
                continue;
            }
            // An unreadable record or config means a damaged image: leave it
            // out rather than refuse to start.
            let Ok(bytes) = std::fs::read(e.path()) else {
                continue;
            };
            let Ok(record) = serde_json::from_slice::<ImageRecord>(&bytes) else {
                continue;
            };
            let Ok(id) = Digest::from_hex(hex) else {
                continue;
            };
            let Ok(cfg_bytes) = read_blob(root, &id) else {
                continue;
            };
            let Ok(config) = ImageConfig::from_bytes(&cfg_bytes) else {
                continue;
            };
            let size = layers::image_size(root, &config);
            st.images.insert(
                hex.to_string(),
                ImageEntry {
                    id,
                    record,
                    config,
                    size,
                },
            );
        }
        let tags_path = root.join("repositories.json");
        if let Ok(bytes) = std::fs::read(&tags_path) {
            let tf: TagFile = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", tags_path.display())))?;
            for (r, id) in tf.tags {
                if let Ok(d) = Digest::parse(&id) {
                    if st.images.contains_key(d.hex()) {
                        st.tags.insert(r, d);
                    }
                }
            }
        }
        Ok(st)
    }

    /// The store's directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Persist the tag map atomically.
    pub(crate) fn save_tags(&self) -> Result<(), StoreError> {
        let tf = TagFile {
            tags: self
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        };
        let bytes =
            serde_json::to_vec_pretty(&tf).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        atomic::write_file(&self.root.join("repositories.json"), &bytes)
    }

    /// Persist an image record atomically.
    pub(crate) fn save_record(&self, id: &Digest, record: &ImageRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        atomic::write_file(&record_path(&self.root, id), &bytes)
    }

    /// Add (or replace) an image whose blobs and layers are on disk:
    /// writes its record, then indexes it.
    pub(crate) fn add_image(
        &mut self,
        id: &Digest,
        config: ImageConfig,
        record: ImageRecord,
    ) -> Result<(), StoreError> {
        self.save_record(id, &record)?;
        let size = layers::image_size(&self.root, &config);
        self.images.insert(
            id.hex().to_string(),
            ImageEntry {
                id: id.clone(),
                record,
                config,
                size,
            },
        );
        Ok(())
    }

    /// The image with this exact ID.
    pub(crate) fn get(&self, id: &Digest) -> Option<&ImageEntry> {
        self.images.get(id.hex())
    }

    /// The references pointing at `id`, sorted by their full string (as
    /// Docker sorts them).
    pub(crate) fn refs_of(&self, id: &Digest) -> Vec<Reference> {
        self.tags
            .iter()
            .filter(|(_, d)| *d == id)
            .filter_map(|(r, _)| Reference::parse_normalized(r).ok())
            .collect()
    }

    /// Familiar strings of the tags (not digest references) pointing at
    /// `id`.
    pub(crate) fn tags_of(&self, id: &Digest) -> Vec<String> {
        self.refs_of(id)
            .iter()
            .filter(|r| r.digest().is_none())
            .map(|r| r.familiar_string())
            .collect()
    }

    /// Familiar strings of the digest references (`RepoDigests`) pointing
    /// at `id`.
    pub(crate) fn digests_of(&self, id: &Digest) -> Vec<String> {
        self.refs_of(id)
            .iter()
            .filter(|r| r.digest().is_some())
            .map(|r| r.familiar_string())
            .collect()
    }

    /// Images (not deleted) whose parent is `id`.
    pub(crate) fn children_of(&self, id: &Digest) -> Vec<Digest> {
        let s = id.to_string();
        self.images
            .values()
            .filter(|e| !e.record.deleted && e.record.parent == s)
            .map(|e| e.id.clone())
            .collect()
    }

    /// Pin layers so that no garbage collection removes them.
    pub(crate) fn pin(&mut self, diffs: &[Digest]) {
        for d in diffs {
            *self.pins.entry(d.hex().to_string()).or_default() += 1;
        }
    }

    /// Undo [`State::pin`].
    pub(crate) fn unpin(&mut self, diffs: &[Digest]) {
        for d in diffs {
            if let Some(n) = self.pins.get_mut(d.hex()) {
                *n -= 1;
                if *n == 0 {
                    self.pins.remove(d.hex());
                }
            }
        }
    }

    /// Whether any image (deleted ones included) or pin uses a layer.
    pub(crate) fn layer_in_use(&self, diff: &Digest) -> bool {
        self.pins.contains_key(diff.hex())
            || self
                .images
                .values()
                .any(|e| e.config.rootfs.diff_ids.iter().any(|d| d == diff))
    }

    /// Remove the layers among `candidates` that nothing uses any more.
    /// The directories are moved aside under the lock and deleted by the
    /// caller with [`purge`]. Returns (removed diff IDs, moved paths).
    pub(crate) fn collect_layers(&self, candidates: &[Digest]) -> (Vec<Digest>, Vec<PathBuf>) {
        let mut removed = Vec::new();
        let mut trash = Vec::new();
        for d in candidates {
            if removed.contains(d) || self.layer_in_use(d) {
                continue;
            }
            let mut any = false;
            let dir = layers::layer_path(&self.root, d);
            if dir.exists() {
                let aside = atomic::temp_name(&self.root.join("tmp"), "gc");
                if std::fs::rename(&dir, &aside).is_ok() {
                    trash.push(aside);
                    any = true;
                }
            }
            if any {
                removed.push(d.clone());
            }
        }
        (removed, trash)
    }
}

/// Delete directories moved aside by [`State::collect_layers`].
pub(crate) fn purge(trash: Vec<PathBuf>) {
    for t in trash {
        let _ = std::fs::remove_dir_all(&t);
    }
}

/// Path of an image record.
pub(crate) fn record_path(root: &Path, id: &Digest) -> PathBuf {
    root.join("images").join(format!("{}.json", id.hex()))
}

/// Docker's time format (RFC 3339, nanoseconds without trailing zeros, UTC).
pub(crate) fn go_time(t: chrono::DateTime<chrono::Utc>) -> String {
    let s = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}Z")
}

/// Now, in Docker's time format.
pub(crate) fn now() -> String {
    go_time(chrono::Utc::now())
}

/// Unix seconds of an RFC 3339 time (0 if unparsable).
pub(crate) fn unix_secs(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_trims_zeros() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 120_000_000).unwrap();
        assert_eq!(go_time(t), "2023-11-14T22:13:20.12Z");
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(go_time(t), "2023-11-14T22:13:20Z");
        assert_eq!(unix_secs("2023-11-14T22:13:20.12Z"), 1_700_000_000);
    }
}
