//! Images arriving from a registry: layers are streamed in (several at
//! once, each from its own thread) and pinned, then the image is
//! registered with its tag and its digest reference (`RepoDigests`). Also
//! the distribution metadata that lets a push reuse a layer's compressed
//! blob: which compressed digest a layer had in which repository.

use std::io::{BufReader, Read};
use std::sync::Mutex;

use berth_spec::digest::Digest;
use berth_spec::image::ImageConfig;
use berth_spec::reference::Reference;
use serde::{Deserialize, Serialize};

use crate::blobs::put_blob;
use crate::error::StoreError;
use crate::layers::{decompressed, ingest, layer_path, pin_existing};
use crate::meta::{purge, ImageRecord};
use crate::Store;

/// The file in a layer's directory that lists its compressed forms.
const DIST_FILE: &str = "distribution.json";

/// A compressed blob that holds a layer, and where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionSource {
    /// The compressed blob's digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// The registry domain and repository path
    /// (`127.0.0.1:5000/library/busybox`).
    pub repository: String,
}

/// Layers being brought in for an image. What it reuses or ingests is
/// pinned until it is dropped; then layers it created that no image uses
/// (a failed or cancelled pull) are removed. `Sync`: layers may be
/// ingested from several threads at once.
pub struct LayerIntake<'a> {
    store: &'a Store,
    pinned: Mutex<Vec<Digest>>,
    created: Mutex<Vec<Digest>>,
}

/// What registering a pulled image did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The image ID (`sha256:...`).
    pub id: String,
    /// Whether the reference asked for now names another image than
    /// before (Docker's "Downloaded newer image" vs "Image is up to date").
    pub updated: bool,
}

impl Store {
    /// Start bringing in the layers of an image.
    pub fn layer_intake(&self) -> LayerIntake<'_> {
        LayerIntake {
            store: self,
            pinned: Mutex::new(Vec::new()),
            created: Mutex::new(Vec::new()),
        }
    }

    /// Whether the layer with this diff ID is in the store.
    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        layer_path(self.root(), diff_id).join("size").is_file()
    }

    /// The compressed blobs known to hold a layer.
    pub fn distribution_sources(&self, diff_id: &Digest) -> Vec<DistributionSource> {
        std::fs::read(layer_path(self.root(), diff_id).join(DIST_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Remember that `source` holds layer `diff_id` (newest first; one
    /// entry per repository and digest).
    pub fn add_distribution_source(
        &self,
        diff_id: &Digest,
        source: DistributionSource,
    ) -> Result<(), StoreError> {
        let _st = self.lock();
        let dir = layer_path(self.root(), diff_id);
        if !dir.join("size").is_file() {
            return Ok(());
        }
        let mut list = self.distribution_sources(diff_id);
        list.retain(|s| !(s.digest == source.digest && s.repository == source.repository));
        list.insert(0, source);
        list.truncate(16);
        let bytes = serde_json::to_vec(&list).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        crate::atomic::write_file(&dir.join(DIST_FILE), &bytes)
    }

    /// The layer's exact tar stream (checked against its diff ID at the
    /// end) and its length: what a push compresses.
    pub fn layer_tar(&self, diff_id: &Digest) -> Result<(impl Read + Send, u64), StoreError> {
        crate::split::LayerReader::open(&layer_path(self.root(), diff_id), diff_id)
    }

    /// Point the digest reference `digest_ref` (`name@sha256:...`) at image
    /// `id` (after a push: `RepoDigests`).
    pub fn add_repo_digest(&self, id: &str, digest_ref: &Reference) -> Result<(), StoreError> {
        let mut st = self.lock();
        let d = crate::query::resolve_digest(&st, id, false)?;
        st.tags.insert(digest_ref.to_string(), d);
        st.save_tags()
    }

    /// The raw config of an image (any name [`Store::resolve`] accepts).
    pub fn config_bytes(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let d = {
            let st = self.lock();
            crate::query::resolve_digest(&st, id, true)?
        };
        crate::blobs::read_blob(self.root(), &d)
    }
}

impl LayerIntake<'_> {
    /// Pin a layer that is already in the store. Returns whether it was.
    pub fn reuse(&self, diff_id: &Digest) -> bool {
        if pin_existing(self.store, diff_id) {
            self.pinned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(diff_id.clone());
            true
        } else {
            false
        }
    }

    /// Stream a layer in from `compressed` (gzip, zstd, ... or plain, told
    /// by its first bytes): decompressed, hashed and extracted in one pass
    /// into a staging directory that becomes the layer only if the content
    /// hashes to `diff_id` (and the reader reported no error, e.g. a
    /// digest mismatch of the compressed blob).
    pub fn ingest(&self, compressed: impl Read, diff_id: &Digest) -> Result<(), StoreError> {
        let input = decompressed(BufReader::with_capacity(1 << 20, compressed))?;
        let ing = ingest(self.store, input, Some(diff_id))?;
        self.pinned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ing.diff_id.clone());
        if ing.created {
            self.created
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(ing.diff_id);
        }
        Ok(())
    }

    /// Make the image visible: its config blob, its record, then the
    /// references (`reference`, a tag or digest reference, and
    /// `digest_ref`, the `name@sha256:...` of the manifest). Every layer of
    /// the config must have been reused or ingested.
    pub fn register(
        &self,
        config_bytes: &[u8],
        reference: &Reference,
        digest_ref: Option<&Reference>,
    ) -> Result<Registered, StoreError> {
        let config = ImageConfig::from_bytes(config_bytes)
            .map_err(|e| StoreError::BadArchive(format!("invalid image config: {e}")))?;
        {
            let pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(d) = config.rootfs.diff_ids.iter().find(|d| !pinned.contains(d)) {
                return Err(StoreError::BadArchive(format!(
                    "layer {d} of the image config was not downloaded"
                )));
            }
        }
        let mut st = self.store.lock();
        let id = put_blob(self.store.root(), config_bytes)?;
        let record = match st.get(&id) {
            Some(e) => ImageRecord {
                deleted: false,
                ..e.record.clone()
            },
            None => ImageRecord::default(),
        };
        st.add_image(&id, config, record)?;
        let key = reference.to_string();
        let updated = st.tags.get(&key) != Some(&id);
        st.tags.insert(key, id.clone());
        if let Some(d) = digest_ref {
            st.tags.insert(d.to_string(), id.clone());
        }
        st.save_tags()?;
        Ok(Registered {
            id: id.to_string(),
            updated,
        })
    }
}

impl Drop for LayerIntake<'_> {
    fn drop(&mut self) {
        let pinned = std::mem::take(&mut *self.pinned.lock().unwrap_or_else(|p| p.into_inner()));
        let created = std::mem::take(&mut *self.created.lock().unwrap_or_else(|p| p.into_inner()));
        let trash = {
            let mut st = self.store.lock();
            st.unpin(&pinned);
            st.collect_layers(&created).1
        };
        purge(trash);
    }
}
