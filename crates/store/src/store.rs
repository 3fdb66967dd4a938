//! The [`Store`] handle and its public API. The work is done in the
//! sibling modules (import, load, save, commit, remove, query).

use crate::error::{IoContext, StoreError};
use crate::meta::State;
use berth_spec::api::{
    ContainerConfig, HistoryItem, ImageDeleteItem, ImageInspect, ImageSummary, PruneResponse,
};
use berth_spec::image::ImageConfig;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Options of `docker import`.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `--change` lines (`CMD ...`, `ENV ...`, ...).
    pub changes: Vec<String>,
    /// `--message`: the commit message (image comment and history comment).
    pub message: String,
    /// Optional reference to tag the image with (`repo[:tag]`).
    pub tag: Option<String>,
    /// Creation time, RFC 3339 with nanoseconds; `None` means now. Same
    /// bytes + same options + same `created` give the same image ID.
    pub created: Option<String>,
    /// `--platform` OS; empty means `linux`.
    pub os: String,
    /// `--platform` architecture; empty means this machine's.
    pub architecture: String,
}

/// Options of `docker commit`.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The full ID of the container being committed (`container` field).
    pub container_id: String,
    /// The container's config: the base of the new image's config (the
    /// `changes` are applied on top) and stored as `container_config`.
    pub config: ContainerConfig,
    /// `--change` lines.
    pub changes: Vec<String>,
    /// `--author`.
    pub author: String,
    /// `--message`.
    pub comment: String,
    /// Optional reference to tag the new image with.
    pub tag: Option<String>,
    /// Creation time, RFC 3339 with nanoseconds; `None` means now.
    pub created: Option<String>,
    /// Paths relative to the upper dir to leave out of the layer (with
    /// their subtrees), e.g. the mount points the runtime created:
    /// `etc/hostname`, `etc/hosts`, `etc/resolv.conf`, `dev`, ...
    pub exclude: Vec<PathBuf>,
    /// The new image's `config` when it differs from `config` (which is
    /// then only stored as `container_config`), as the builder commits:
    /// `None` means `config` with `changes` applied (`docker commit`).
    pub image_config: Option<ContainerConfig>,
    /// Clamp the modification times of the layer's entries to at most
    /// these Unix seconds (`SOURCE_DATE_EPOCH`, for reproducible layers).
    pub clamp_mtime: Option<i64>,
}

/// The image store. `Send + Sync`; internally locked.
#[derive(Debug)]
pub struct Store {
    pub(crate) root: PathBuf,
    pub(crate) state: Mutex<State>,
}

impl Store {
    /// Open (creating if needed) the store in `root`, the directory the
    /// store owns (normally `<data-root>/image`). Leftover temporary files of
    /// interrupted operations are removed.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        for dir in ["blobs/sha256", "layers", "images", "tmp"] {
            let p = root.join(dir);
            std::fs::create_dir_all(&p).ctx("creating store directory", &p)?;
        }
        let state = State::load(root)?;
        let store = Store {
            root: root.to_path_buf(),
            state: Mutex::new(state),
        };
        store.clean_tmp();
        store.collect_orphans();
        Ok(store)
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the on-disk state
        // inconsistent (it is written atomically), so poison is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn clean_tmp(&self) {
        let tmp = self.tmp_dir();
        if let Ok(rd) = std::fs::read_dir(&tmp) {
            for e in rd.flatten() {
                let p = e.path();
                let _ = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
        // Temporary files of interrupted atomic writes and ingestions.
        for dir in [".", "layers", "images", "blobs/sha256"] {
            if let Ok(rd) = std::fs::read_dir(self.root.join(dir)) {
                for e in rd.flatten() {
                    if e.file_name().to_string_lossy().starts_with(".tmp-") {
                        let p = e.path();
                        let _ = if p.is_dir() {
                            std::fs::remove_dir_all(&p)
                        } else {
                            std::fs::remove_file(&p)
                        };
                    }
                }
            }
        }
    }

    /// Remove layers and config blobs that no image record refers to (left
    /// by a crash between writing them and writing the record).
    fn collect_orphans(&self) {
        let st = self.lock();
        let mut orphans = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.root.join("layers")) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Ok(d) = berth_spec::digest::Digest::from_hex(&name) {
                    if !st.layer_in_use(&d) {
                        orphans.push(d);
                    }
                }
            }
        }
        let (_, trash) = st.collect_layers(&orphans);
        if let Ok(rd) = std::fs::read_dir(self.root.join("blobs/sha256")) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if berth_spec::digest::is_hex64(&name) && !st.images.contains_key(&name) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        drop(st);
        crate::meta::purge(trash);
    }

    /// `docker import`: a rootfs tar (plain, gzip, bzip2, xz or zstd) becomes a
    /// one-layer image. Returns the image ID (`sha256:<hex>`).
    pub fn import_rootfs(
        &self,
        tar: impl Read,
        opts: &ImportOptions,
    ) -> Result<String, StoreError> {
        crate::import::import_rootfs(self, tar, opts)
    }

    /// `docker load`: a docker-archive (what `docker save` writes) or an OCI
    /// image layout, as a tar stream (optionally gzip, bzip2, xz or zstd compressed).
    /// `progress` receives Docker's lines ("Loaded image: busybox:latest",
    /// "Loaded image ID: sha256:..."). Returns the loaded image IDs.
    pub fn load(
        &self,
        archive: impl Read,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, StoreError> {
        crate::load::load(self, archive, progress)
    }

    /// `docker save`: write a docker-archive of the named images (names,
    /// IDs or ID prefixes) to `out`.
    pub fn save(&self, names: &[String], out: impl Write) -> Result<(), StoreError> {
        crate::save::save(self, names, out)
    }

    /// Resolve what a user typed (reference, full ID with or without
    /// `sha256:`, or unique ID prefix) to an image ID (`sha256:<hex>`).
    pub fn resolve(&self, name: &str) -> Result<String, StoreError> {
        crate::query::resolve(&self.lock(), name)
    }

    /// The config of an image (any name [`Store::resolve`] accepts).
    pub fn config(&self, id: &str) -> Result<ImageConfig, StoreError> {
        crate::query::config(self, id)
    }

    /// `docker image inspect`.
    pub fn inspect(&self, id: &str) -> Result<ImageInspect, StoreError> {
        crate::query::inspect(self, id)
    }

    /// `docker images`: one summary per image; without `all`, intermediate
    /// images (untagged parents of other images) are left out. `Containers`
    /// is -1; the engine fills.
    pub fn list(&self, all: bool) -> Result<Vec<ImageSummary>, StoreError> {
        crate::query::list(self, all)
    }

    /// `docker history`, newest first.
    pub fn history(&self, id: &str) -> Result<Vec<HistoryItem>, StoreError> {
        crate::query::history(self, id)
    }

    /// `docker tag`: point `reference` at the image `id` (any name).
    pub fn tag(&self, id: &str, reference: &str) -> Result<(), StoreError> {
        crate::remove::tag(self, id, reference)
    }

    /// The familiar references of an image (`busybox:latest`), sorted.
    pub fn repo_tags(&self, id: &str) -> Result<Vec<String>, StoreError> {
        crate::query::repo_tags(self, id)
    }

    /// `docker rmi`. `in_use(image_id)` returns the short ID of a container
    /// using the image, if any (`running` containers make it a hard
    /// conflict: see [`Store::remove_with`]). Returns Untagged/Deleted items
    /// in Docker's order.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<ImageDeleteItem>, StoreError> {
        crate::remove::remove(self, name, force, in_use, &|_| None)
    }

    /// Like [`Store::remove`], with `running(image_id)` giving the short ID
    /// of a *running* container using the image: Docker refuses to delete
    /// such an image even with `force`.
    pub fn remove_with(
        &self,
        name: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> Option<String>,
        running: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<ImageDeleteItem>, StoreError> {
        crate::remove::remove(self, name, force, in_use, running)
    }

    /// `docker image prune`: dangling (untagged) images, or with `all`
    /// every image not used by a container.
    pub fn prune(
        &self,
        all: bool,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<PruneResponse, StoreError> {
        crate::remove::prune(self, all, in_use)
    }

    /// The unpacked layer directories of an image, LOWEST FIRST (reverse
    /// them for overlay's `lowerdir=`). Works for an image removed with
    /// `rmi -f` while a container still used it.
    pub fn layer_dirs(&self, id: &str) -> Result<Vec<PathBuf>, StoreError> {
        crate::query::layer_dirs(self, id)
    }

    /// `docker commit`: turn an overlay upper dir into a new layer on top of
    /// `parent` (an image ID or name; `""` for none, as after `FROM
    /// scratch`). Returns the new image ID.
    pub fn commit(
        &self,
        parent: &str,
        upper_dir: &Path,
        opts: &CommitOptions,
    ) -> Result<String, StoreError> {
        crate::commit::commit(self, parent, upper_dir, opts)
    }

    /// The images (not deleted) whose parent is `parent` (an image ID, or
    /// `""` for images without a parent), with their configs: the build
    /// cache's candidates.
    pub fn children(&self, parent: &str) -> Result<Vec<(String, ImageConfig)>, StoreError> {
        crate::query::children(self, parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
    }
}
