//! The store: create, get, list, remove volumes under `<data_root>/volumes`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{Result, VolumeError};

/// Name of a volume's content directory.
pub const DATA_DIR: &str = "_data";
/// Name of a volume's metadata file.
pub const META_FILE: &str = "volume.json";
/// Prefix of volumes being created.
const TMP_PREFIX: &str = ".creating-";
/// Prefix of volumes being removed.
const TRASH_PREFIX: &str = ".removing-";

/// What is persisted about a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeMeta {
    /// Name (64 hex for generated names).
    pub name: String,
    /// Driver (`local`).
    pub driver: String,
    /// User labels; `None` when the request had none (shown as `null`,
    /// while an empty map, which the docker CLI sends, shows as `{}`).
    pub labels: Option<BTreeMap<String, String>>,
    /// Driver options (`None`/empty as for `labels`).
    pub options: Option<BTreeMap<String, String>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Created for a container without a name given (`-v /path`, `VOLUME`).
    pub anonymous: bool,
}

impl Default for VolumeMeta {
    fn default() -> Self {
        VolumeMeta {
            name: String::new(),
            driver: "local".into(),
            labels: None,
            options: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            anonymous: false,
        }
    }
}

/// A volume: its metadata and where its content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Persisted metadata.
    pub meta: VolumeMeta,
    /// `<data_root>/volumes/<name>/_data`.
    pub mountpoint: PathBuf,
}

impl Volume {
    /// The volume's name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// The API model (`GET /volumes/{name}`).
    pub fn to_api(&self) -> berth_spec::volume_api::Volume {
        berth_spec::volume_api::Volume {
            created_at: self
                .meta
                .created_at
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            driver: self.meta.driver.clone(),
            labels: self.meta.labels.clone(),
            mountpoint: self.mountpoint.to_string_lossy().into_owned(),
            name: self.meta.name.clone(),
            options: self.meta.options.clone(),
            scope: "local".into(),
            usage_data: None,
        }
    }
}

/// A create request.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Name; `None` or empty: a generated 64-hex name.
    pub name: Option<String>,
    /// Driver; empty means `local` (the only one).
    pub driver: String,
    /// Labels (`None`: not given).
    pub labels: Option<BTreeMap<String, String>>,
    /// Driver options (`type`, `device`, `o`; `None`: not given).
    pub options: Option<BTreeMap<String, String>>,
    /// Mark the volume anonymous.
    pub anonymous: bool,
}

/// The volumes of one data root.
#[derive(Debug)]
pub struct VolumeStore {
    root: PathBuf,
    /// Serializes create and remove.
    lock: Mutex<()>,
    /// Serializes copy-ups and mounts (two containers starting at once
    /// with the same empty volume must not both fill it).
    content: Mutex<()>,
}

fn random_name() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn mkdir(path: &Path, mode: u32) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| VolumeError::io(format!("mkdir {}", path.display()), e))
}

fn sync_dir(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| VolumeError::io(format!("fsync {}", path.display()), e))
}

impl VolumeStore {
    /// The store at `root` (`<data_root>/volumes`); nothing is read or
    /// created until it is used.
    pub fn new(root: impl Into<PathBuf>) -> VolumeStore {
        VolumeStore {
            root: root.into(),
            lock: Mutex::new(()),
            content: Mutex::new(()),
        }
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        match self.lock.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn dir_of(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Create a volume, or return the existing one of that name (as
    /// dockerd does). The boolean tells whether it was created now.
    pub fn create(&self, opts: CreateOptions) -> Result<(Volume, bool)> {
        let name = match opts.name.filter(|n| !n.is_empty()) {
            Some(n) => n,
            None => random_name(),
        };
        let invalid = |message: String| VolumeError::Invalid {
            name: name.clone(),
            message,
        };
        berth_spec::mounts::validate_volume_name(&name).map_err(invalid)?;
        let driver = if opts.driver.is_empty() {
            "local".to_string()
        } else {
            opts.driver.clone()
        };
        if driver != "local" {
            return Err(VolumeError::PluginNotFound {
                name: name.clone(),
                driver,
            });
        }
        if let Some(o) = &opts.options {
            berth_spec::mounts::validate_local_options(o).map_err(invalid)?;
        }
        let _g = self.guard();
        if let Ok(v) = self.load(&name) {
            return Ok((v, false));
        }
        mkdir(&self.root, 0o701)?;
        let tmp = self.root.join(format!("{TMP_PREFIX}{}", random_name()));
        let meta = VolumeMeta {
            name: name.clone(),
            driver,
            labels: opts.labels,
            options: opts.options,
            created_at: Utc::now(),
            anonymous: opts.anonymous,
        };
        let res = (|| {
            mkdir(&tmp.join(DATA_DIR), 0o755)?;
            write_meta(&tmp.join(META_FILE), &meta)?;
            sync_dir(&tmp)?;
            let dest = self.dir_of(&name);
            std::fs::rename(&tmp, &dest).map_err(|e| {
                VolumeError::io(format!("rename {} to {}", tmp.display(), dest.display()), e)
            })?;
            sync_dir(&self.root)
        })();
        if let Err(e) = res {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let v = Volume {
            mountpoint: self.dir_of(&name).join(DATA_DIR),
            meta,
        };
        Ok((v, true))
    }

    fn load(&self, name: &str) -> Result<Volume> {
        if name.is_empty() || name.starts_with('.') || name.contains('/') {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let dir = self.dir_of(name);
        let data = dir.join(DATA_DIR);
        let md = match std::fs::metadata(&data) {
            Ok(md) if md.is_dir() => md,
            _ => return Err(VolumeError::NotFound(name.to_string())),
        };
        let meta = match std::fs::read(dir.join(META_FILE)) {
            Ok(bytes) => {
                serde_json::from_slice::<VolumeMeta>(&bytes).map_err(|e| VolumeError::Corrupt {
                    name: name.to_string(),
                    message: e.to_string(),
                })?
            }
            // A volume directory made by hand (as dockerd's local driver
            // accepts them): defaults, created when its directory was.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => VolumeMeta {
                name: name.to_string(),
                created_at: DateTime::from_timestamp(md.ctime(), 0).unwrap_or_default(),
                ..Default::default()
            },
            Err(e) => {
                return Err(VolumeError::io(
                    format!("read {}", dir.join(META_FILE).display()),
                    e,
                ))
            }
        };
        Ok(Volume {
            meta: VolumeMeta {
                name: name.to_string(),
                ..meta
            },
            mountpoint: data,
        })
    }

    /// The volume `name`.
    pub fn get(&self, name: &str) -> Result<Volume> {
        self.load(name)
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(VolumeError::io(format!("read {}", self.root.display()), e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match self.load(&name) {
                Ok(v) => out.push(v),
                Err(VolumeError::NotFound(_)) => {}
                Err(e) => tracing::warn!("skipping volume {name}: {e}"),
            }
        }
        out.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        Ok(out)
    }

    /// Remove the volume `name` and its content (the caller checked that
    /// no container uses it).
    pub fn remove(&self, name: &str) -> Result<()> {
        let _g = self.guard();
        let v = self.load(name)?;
        let dir = self.dir_of(name);
        crate::mount::unmount(&v.mountpoint)?;
        refuse_mounted(&dir)?;
        let trash = self
            .root
            .join(format!("{TRASH_PREFIX}{name}-{}", &random_name()[..8]));
        std::fs::rename(&dir, &trash)
            .map_err(|e| VolumeError::io(format!("remove {}", dir.display()), e))?;
        std::fs::remove_dir_all(&trash)
            .map_err(|e| VolumeError::io(format!("remove {}", trash.display()), e))
    }

    /// Delete what a crash left half-created or half-removed.
    pub fn clean_leftovers(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) || name.starts_with(TRASH_PREFIX) {
                if let Err(e) = refuse_mounted(&entry.path()) {
                    tracing::warn!("keeping {}: {e}", entry.path().display());
                    continue;
                }
                if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                    tracing::warn!("removing {}: {e}", entry.path().display());
                }
            }
        }
    }

    /// Hold this while checking a volume's content and filling it, or
    /// mounting and unmounting its file system.
    pub fn content_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        match self.content.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Mount the file system the volume's options describe on its `_data`
    /// (no-op for a plain volume or when already mounted).
    pub fn mount(&self, name: &str) -> Result<()> {
        let v = self.load(name)?;
        match &v.meta.options {
            Some(o) if crate::mount::needs_mount(Some(o)) => {
                crate::mount::mount_options(name, &v.mountpoint, o)
            }
            _ => Ok(()),
        }
    }

    /// Unmount what [`VolumeStore::mount`] mounted (no-op otherwise).
    pub fn unmount(&self, name: &str) -> Result<()> {
        let v = self.load(name)?;
        if crate::mount::needs_mount(v.meta.options.as_ref()) {
            crate::mount::unmount(&v.mountpoint)?;
        }
        Ok(())
    }

    /// Whether the volume's content directory has no entries.
    pub fn is_empty(&self, name: &str) -> Result<bool> {
        let v = self.load(name)?;
        let mut it = std::fs::read_dir(&v.mountpoint)
            .map_err(|e| VolumeError::io(format!("read {}", v.mountpoint.display()), e))?;
        Ok(it.next().is_none())
    }

    /// Bytes used by the volume's files (apparent sizes; 0 when unreadable).
    pub fn size(&self, name: &str) -> u64 {
        match self.load(name) {
            Ok(v) => tree_size(&v.mountpoint),
            Err(_) => 0,
        }
    }
}

/// Fail when a file system is mounted at `dir` or below it: removing the
/// tree would delete the content of what is mounted (a host directory
/// bound into a volume, say) through the mount.
fn refuse_mounted(dir: &Path) -> Result<()> {
    match crate::mount::mounts_under(dir)?.into_iter().next() {
        Some(m) => Err(VolumeError::Mounted(m)),
        None => Ok(()),
    }
}

fn tree_size(p: &Path) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !md.is_dir() {
        return if md.is_file() { md.len() } else { 0 };
    }
    std::fs::read_dir(p)
        .map(|it| it.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Write `meta` to `path` durably (temp file, fsync, rename).
fn write_meta(path: &Path, meta: &VolumeMeta) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(meta).map_err(|e| VolumeError::Corrupt {
        name: meta.name.clone(),
        message: e.to_string(),
    })?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| VolumeError::io(format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> CreateOptions {
        CreateOptions {
            name: Some(n.into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_get_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = VolumeStore::new(dir.path().join("volumes"));
        let mut opts = named("data1");
        opts.labels = Some([("a".to_string(), "b".to_string())].into());
        let (v, created) = store.create(opts).unwrap();
        assert!(created);
        assert!(v.mountpoint.is_dir());
        assert_eq!(v.mountpoint, dir.path().join("volumes/data1/_data"));
        // A second create returns the existing volume, labels untouched.
        let (again, created) = store.create(named("data1")).unwrap();
        assert!(!created);
        assert_eq!(
            again
                .meta
                .labels
                .as_ref()
                .and_then(|l| l.get("a"))
                .map(String::as_str),
            Some("b")
        );
        let (anon, _) = store
            .create(CreateOptions {
                anonymous: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(anon.name().len(), 64);
        assert!(anon.meta.anonymous);
        let names: Vec<String> = store
            .list()
            .unwrap()
            .iter()
            .map(|v| v.name().to_string())
            .collect();
        assert_eq!(names.len(), 2);
        assert!(store.is_empty("data1").unwrap());
        std::fs::write(v.mountpoint.join("f"), b"hello").unwrap();
        assert!(!store.is_empty("data1").unwrap());
        assert_eq!(store.size("data1"), 5);
        // Survives a new store on the same directory (daemon restart).
        let reopened = VolumeStore::new(dir.path().join("volumes"));
        assert_eq!(reopened.get("data1").unwrap().meta, v.meta);
        reopened.remove("data1").unwrap();
        assert!(matches!(
            reopened.get("data1"),
            Err(VolumeError::NotFound(_))
        ));
        assert_eq!(
            reopened.remove("data1").unwrap_err().to_string(),
            "get data1: no such volume"
        );
    }

    #[test]
    fn api_model_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = VolumeStore::new(dir.path());
        let (v, _) = store.create(named("n1")).unwrap();
        let api = v.to_api();
        assert!(api.labels.is_none() && api.options.is_none());
        let mut empty = named("n2");
        empty.labels = Some(BTreeMap::new());
        let (v2, _) = store.create(empty).unwrap();
        assert_eq!(v2.to_api().labels, Some(BTreeMap::new()));
        assert_eq!(api.scope, "local");
        assert!(api.created_at.ends_with('Z') && api.created_at.len() == 20);
        let err = store.create(named("x y")).unwrap_err().to_string();
        assert!(err.starts_with("create x y: \"x y\" includes invalid characters"));
        let mut bad = named("z1");
        bad.options = Some([("foo".to_string(), "bar".to_string())].into());
        assert_eq!(
            store.create(bad).unwrap_err().to_string(),
            "create z1: invalid option: \"foo\""
        );
    }

    /// A volume whose `_data` has a host directory bound on it: remove
    /// takes the bind off and deletes only the volume's own files; with
    /// something mounted it cannot take off, it refuses and keeps all.
    #[test]
    fn remove_never_deletes_through_a_mount() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("precious"), b"p").unwrap();
        let store = VolumeStore::new(dir.path().join("volumes"));
        let mut opts = named("hb");
        opts.options = Some(
            [
                ("type".to_string(), "none".to_string()),
                ("o".to_string(), "bind".to_string()),
                ("device".to_string(), host.to_string_lossy().into_owned()),
            ]
            .into(),
        );
        let (v, _) = store.create(opts).unwrap();
        store.mount("hb").unwrap();
        std::fs::write(v.mountpoint.join("written"), b"w").unwrap();
        store.remove("hb").unwrap();
        assert_eq!(std::fs::read(host.join("precious")).unwrap(), b"p");
        assert_eq!(std::fs::read(host.join("written")).unwrap(), b"w");
        assert!(matches!(store.get("hb"), Err(VolumeError::NotFound(_))));

        // A mount below `_data` is not the volume's to take off.
        let (v, _) = store.create(named("deep")).unwrap();
        let sub = v.mountpoint.join("sub");
        std::fs::create_dir(&sub).unwrap();
        nix::mount::mount(
            Some(&host),
            &sub,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        let err = store.remove("deep").unwrap_err();
        assert!(matches!(err, VolumeError::Mounted(_)), "{err}");
        assert!(store.get("deep").is_ok());
        assert_eq!(std::fs::read(sub.join("precious")).unwrap(), b"p");
        nix::mount::umount2(&sub, nix::mount::MntFlags::MNT_DETACH).unwrap();
        store.remove("deep").unwrap();
        assert_eq!(std::fs::read(host.join("precious")).unwrap(), b"p");
    }

    #[test]
    fn leftovers_are_cleaned_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = VolumeStore::new(dir.path());
        std::fs::create_dir_all(dir.path().join(".creating-x/_data")).unwrap();
        std::fs::create_dir_all(dir.path().join("byhand/_data")).unwrap();
        let names: Vec<String> = store
            .list()
            .unwrap()
            .iter()
            .map(|v| v.name().to_string())
            .collect();
        assert_eq!(names, vec!["byhand".to_string()]);
        store.clean_leftovers();
        assert!(!dir.path().join(".creating-x").exists());
    }
}
