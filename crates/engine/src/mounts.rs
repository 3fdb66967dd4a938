//! A container's mounts: resolved at create (volumes created then, as
//! dockerd), turned into runtime mounts at start (with copy-up of the
//! image's content into empty volumes), shown by inspect and list, and
//! their anonymous volumes removed with the container (`rm -v`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_runtime::{MountKind, MountSpec};
use berth_spec::api::{ContainerConfig, HostConfig, MountPoint};
use berth_spec::mounts::{self as parse, MountType, ParsedMount};
use serde::{Deserialize, Serialize};

use crate::container::Container;
use crate::error::{EngineError, Result};
use crate::record::ContainerRecord;
use crate::{blocking, Engine};

/// One mount of a container, as recorded at create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountRecord {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// Volume name (volumes only).
    pub name: String,
    /// Host path: the bind source or the volume's mountpoint.
    pub source: String,
    /// Path inside the container.
    pub destination: String,
    /// Volume driver (volumes only).
    pub driver: String,
    /// Mode as inspect shows it (`z`, `ro`, ...).
    pub mode: String,
    /// Writable.
    pub rw: bool,
    /// Propagation as inspect shows it (`rprivate` for binds).
    pub propagation: String,
    /// Copy the image's content into the volume at start when it is empty.
    pub copy_data: bool,
    /// The volume was anonymous for this container (removed by `rm -v`).
    pub anonymous: bool,
    /// A `-v` bind source that is created again when missing.
    pub create_source: bool,
    /// tmpfs mount data.
    pub tmpfs_options: String,
    /// Not listed in `Mounts` (`HostConfig.Tmpfs` entries, as dockerd).
    pub hidden: bool,
}

impl MountRecord {
    /// The `Mounts` entry of inspect and list.
    pub fn to_api(&self) -> MountPoint {
        MountPoint {
            kind: self.kind.clone(),
            name: self.name.clone(),
            source: self.source.clone(),
            destination: self.destination.clone(),
            driver: self.driver.clone(),
            mode: self.mode.clone(),
            rw: self.rw,
            propagation: self.propagation.clone(),
        }
    }
}

/// The `Mounts` of a container record.
pub(crate) fn api_mounts(rec: &ContainerRecord) -> Vec<MountPoint> {
    rec.mounts
        .iter()
        .filter(|m| !m.hidden)
        .map(MountRecord::to_api)
        .collect()
}

/// One mount of a container being created: complete, or a volume still
/// to create (with the mode inspect shows: `Some("")` means `z` for local
/// volumes, `None` an image volume's empty mode).
enum Planned {
    Ready(MountRecord),
    Volume(ParsedMount, Option<String>),
}

impl Planned {
    fn destination(&self) -> &str {
        match self {
            Planned::Ready(m) => &m.destination,
            Planned::Volume(p, _) => &p.destination,
        }
    }
}

/// `ps --filter volume=X`: whether a listed mount of `rec` has `X` as its
/// volume name, bind source or destination (dockerd's rule).
pub(crate) fn mounts_any(rec: &ContainerRecord, values: &[String]) -> bool {
    rec.mounts.iter().filter(|m| !m.hidden).any(|m| {
        let key = if m.name.is_empty() {
            &m.source
        } else {
            &m.name
        };
        values.iter().any(|v| *v == m.destination || v == key)
    })
}

/// Put `m` in `list`, replacing a mount of the same destination.
fn put(list: &mut Vec<MountRecord>, m: MountRecord) {
    match list.iter_mut().find(|o| o.destination == m.destination) {
        Some(o) => *o = m,
        None => list.push(m),
    }
}

fn dup_error(dest: &str) -> EngineError {
    EngineError::invalid(format!("Duplicate mount point: {dest}"))
}

impl Engine {
    /// Create (or find) a volume for a mount; returns its record fields.
    async fn volume_for(&self, p: &ParsedMount) -> Result<berth_volume::Volume> {
        let opts = berth_volume::CreateOptions {
            name: (!p.source.is_empty()).then(|| p.source.clone()),
            driver: p.driver.clone(),
            labels: (!p.volume_labels.is_empty()).then(|| p.volume_labels.clone()),
            options: (!p.driver_opts.is_empty()).then(|| p.driver_opts.clone()),
            anonymous: p.source.is_empty(),
        };
        self.volume_create_internal(opts).await
    }

    fn volume_record(v: &berth_volume::Volume, p: &ParsedMount, mode: String) -> MountRecord {
        MountRecord {
            kind: "volume".into(),
            name: v.meta.name.clone(),
            source: v.mountpoint.to_string_lossy().into_owned(),
            destination: p.destination.clone(),
            driver: v.meta.driver.clone(),
            mode,
            rw: !p.read_only,
            propagation: String::new(),
            copy_data: !p.nocopy,
            anonymous: p.source.is_empty(),
            ..Default::default()
        }
    }

    /// Resolve every mount request of a new container (dockerd's order:
    /// `VolumesFrom`, `Binds`, `Mounts`, `Tmpfs`, then the image's and
    /// `Config.Volumes` as anonymous volumes where nothing else is mounted).
    /// Everything is validated before any volume is created; if creating
    /// one fails, the anonymous volumes created so far are removed again.
    pub(crate) async fn resolve_mounts(
        &self,
        config: &ContainerConfig,
        hc: &HostConfig,
    ) -> Result<Vec<MountRecord>> {
        let plan = self.plan_mounts(config, hc).await?;
        let mut out: Vec<MountRecord> = Vec::new();
        for step in plan {
            let rec = match step {
                Planned::Ready(m) => m,
                Planned::Volume(p, mode) => match self.volume_for(&p).await {
                    Ok(v) => {
                        let mode = match mode {
                            Some(m) if m.is_empty() && v.meta.driver == "local" => "z".into(),
                            Some(m) => m,
                            None => String::new(),
                        };
                        Self::volume_record(&v, &p, mode)
                    }
                    Err(e) => {
                        self.discard_anonymous(&out).await;
                        return Err(e);
                    }
                },
            };
            put(&mut out, rec);
        }
        Ok(out)
    }

    /// Remove the anonymous volumes among `mounts` that no container
    /// uses (a container create that failed after creating them). The
    /// caller holds [`Engine::volume_use_lock`].
    pub(crate) async fn discard_anonymous(&self, mounts: &[MountRecord]) {
        for m in mounts.iter().filter(|m| m.kind == "volume" && m.anonymous) {
            if !self.volume_users(&m.name).is_empty() {
                continue;
            }
            if let Err(e) = self.volume_remove_internal(&m.name).await {
                tracing::warn!(volume = %m.name, "removing an anonymous volume: {e}");
            }
        }
    }

    /// Validate every mount request and decide what each becomes, creating nothing.
    async fn plan_mounts(&self, config: &ContainerConfig, hc: &HostConfig) -> Result<Vec<Planned>> {
        let mut plan: Vec<Planned> = Vec::new();
        for spec in hc.volumes_from.iter().flatten() {
            let (name, rw) = parse::parse_volumes_from(spec).map_err(EngineError::invalid)?;
            let other = self.lookup(&name)?.snapshot();
            // Only volumes and binds are shared, as dockerd: `--tmpfs`
            // entries are the other container's own, and a `--mount
            // type=tmpfs` fails the create with dockerd's error (it looks
            // its empty source up as a volume).
            for m in &other.mounts {
                match m.kind.as_str() {
                    "volume" | "bind" => {}
                    "tmpfs" if m.hidden => continue,
                    _ => return Err(EngineError::not_found("get: no such volume")),
                }
                let mut cp = m.clone();
                cp.rw = m.rw && rw;
                cp.copy_data = false;
                plan.push(Planned::Ready(cp));
            }
        }
        let mut explicit: Vec<String> = Vec::new();
        for raw in hc.binds.iter().flatten() {
            let p = parse::parse_bind(raw).map_err(EngineError::invalid)?;
            if explicit.contains(&p.destination) {
                return Err(dup_error(&p.destination));
            }
            explicit.push(p.destination.clone());
            plan.push(match p.kind {
                MountType::Volume => {
                    Self::check_volume_name(&p)?;
                    let mode = p.mode.clone();
                    Planned::Volume(p, Some(mode))
                }
                _ => Planned::Ready(MountRecord {
                    kind: "bind".into(),
                    source: p.source.clone(),
                    destination: p.destination.clone(),
                    mode: p.mode.clone(),
                    rw: !p.read_only,
                    propagation: p.propagation.clone(),
                    create_source: true,
                    ..Default::default()
                }),
            });
        }
        for spec in hc.mounts.iter().flatten() {
            let p = parse::parse_mount(spec).map_err(EngineError::invalid)?;
            if explicit.contains(&p.destination) {
                return Err(dup_error(&spec.target));
            }
            explicit.push(p.destination.clone());
            plan.push(match p.kind {
                MountType::Bind => {
                    let src = PathBuf::from(&p.source);
                    let exists = blocking(move || Ok(src.exists())).await?;
                    if !exists {
                        return Err(EngineError::invalid(format!(
                            "invalid mount config for type \"bind\": bind source path does not exist: {}",
                            p.source
                        )));
                    }
                    Planned::Ready(MountRecord {
                        kind: "bind".into(),
                        source: p.source.clone(),
                        destination: p.destination.clone(),
                        rw: !p.read_only,
                        propagation: p.propagation.clone(),
                        ..Default::default()
                    })
                }
                MountType::Volume => {
                    Self::check_volume_name(&p)?;
                    Planned::Volume(p, Some(String::new()))
                }
                MountType::Tmpfs => Planned::Ready(MountRecord {
                    kind: "tmpfs".into(),
                    destination: p.destination.clone(),
                    rw: !p.read_only,
                    tmpfs_options: p.tmpfs_options.clone(),
                    ..Default::default()
                }),
            });
        }
        for (dest, opts) in hc.tmpfs.iter().flatten() {
            let p = parse::parse_tmpfs(dest, opts).map_err(EngineError::invalid)?;
            plan.push(Planned::Ready(MountRecord {
                kind: "tmpfs".into(),
                destination: p.destination.clone(),
                rw: !p.read_only,
                tmpfs_options: p.tmpfs_options.clone(),
                hidden: true,
                ..Default::default()
            }));
        }
        for dest in config.volumes.iter().flat_map(|v| v.keys()) {
            let clean = parse::clean_path(dest);
            if !clean.starts_with('/') || clean == "/" {
                return Err(EngineError::invalid(format!(
                    "invalid mount path: '{dest}' mount path must be absolute"
                )));
            }
            if plan.iter().any(|s| s.destination() == clean) {
                continue;
            }
            let p = parse::parse_bind(&clean).map_err(EngineError::invalid)?;
            plan.push(Planned::Volume(p, None));
        }
        Ok(plan)
    }

    /// The create-time check of a named volume's name and options (the
    /// store checks again when it creates it).
    fn check_volume_name(p: &ParsedMount) -> Result<()> {
        if p.source.is_empty() {
            return Ok(());
        }
        let invalid = |m: String| EngineError::invalid(format!("create {}: {m}", p.source));
        parse::validate_volume_name(&p.source).map_err(invalid)?;
        parse::validate_local_options(&p.driver_opts).map_err(invalid)
    }

    /// The runtime mounts of `c` at start: copy-up into empty volumes that
    /// ask for it (from the image layers plus the container's upper dir),
    /// then one bind or tmpfs mount per record. Clears `copy_data` once
    /// done, as dockerd copies only once.
    pub(crate) async fn prepare_mounts(
        self: &Arc<Self>,
        c: &Arc<Container>,
        layers: &[PathBuf],
    ) -> Result<Vec<MountSpec>> {
        let rec = c.snapshot();
        if rec.mounts.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = rec
            .mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| m.name.clone())
            .collect();
        let store = Arc::clone(&self.volumes);
        blocking(move || {
            let _content = store.content_guard();
            for n in &names {
                store.mount(n).map_err(volume_error)?;
            }
            Ok(())
        })
        .await?;
        let copies: Vec<MountRecord> = rec
            .mounts
            .iter()
            .filter(|m| m.kind == "volume" && m.copy_data)
            .cloned()
            .collect();
        if !copies.is_empty() {
            let mut lowers = layers.to_vec();
            lowers.push(c.dir.join("upper"));
            let scratch = self.cfg.exec_root.join("copyup").join(format!(
                "{}-{}",
                c.id,
                crate::create::new_id()
            ));
            let store = Arc::clone(&self.volumes);
            blocking(move || copy_up_all(&store, &lowers, &scratch, &copies)).await?;
            c.update(|r| {
                for m in r.mounts.iter_mut() {
                    m.copy_data = false;
                }
            })?;
        }
        let mut specs = Vec::new();
        for m in &rec.mounts {
            if m.kind == "bind" && m.create_source {
                let src = PathBuf::from(&m.source);
                blocking(move || {
                    // A missing source becomes a directory (as dockerd); an
                    // existing file or socket is bound as it is.
                    if std::fs::metadata(&src).is_ok() {
                        return Ok(());
                    }
                    std::fs::create_dir_all(&src)
                        .map_err(|e| EngineError::io(format!("mkdir {}", src.display()), e))
                })
                .await?;
            }
            specs.push(runtime_mount(m));
            if m.kind == "volume" {
                let mut attrs = BTreeMap::new();
                attrs.insert("container".to_string(), c.id.clone());
                attrs.insert("destination".to_string(), m.destination.clone());
                attrs.insert("driver".to_string(), m.driver.clone());
                attrs.insert("propagation".to_string(), m.propagation.clone());
                attrs.insert("read/write".to_string(), m.rw.to_string());
                self.bus.log("volume", "mount", &m.name, attrs);
            }
        }
        Ok(specs)
    }

    /// Remove the anonymous volumes of a removed container that no other
    /// container uses (`rm -v`, `--rm`); failures are logged.
    pub(crate) async fn remove_anonymous_volumes(&self, rec: &ContainerRecord) {
        let _use = self.volume_use_lock().await;
        self.discard_anonymous(&rec.mounts).await;
    }

    /// After `c` exited: unmount the file systems of its volumes with
    /// driver options that no running container uses any more (failures
    /// are logged). Awaited before the exit is reported, so that a
    /// container started next mounts a fresh file system; the stats and
    /// umounts run on the blocking pool.
    pub(crate) async fn release_volumes(self: &Arc<Self>, c: &Container) {
        let names: Vec<String> = c
            .rec()
            .mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| m.name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let busy: Vec<String> = self
            .map()
            .values()
            .filter(|o| o.id != c.id)
            .filter(|o| o.rec().state.status == crate::record::Status::Running)
            .flat_map(|o| {
                o.rec()
                    .mounts
                    .iter()
                    .map(|m| m.name.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        let idle: Vec<String> = names.into_iter().filter(|n| !busy.contains(n)).collect();
        if idle.is_empty() {
            return;
        }
        let store = Arc::clone(&self.volumes);
        let res = blocking(move || {
            let with_fs: Vec<&String> = idle
                .iter()
                .filter(|n| {
                    store
                        .get(n)
                        .is_ok_and(|v| berth_volume::mount::needs_mount(v.meta.options.as_ref()))
                })
                .collect();
            if with_fs.is_empty() {
                return Ok(());
            }
            let _content = store.content_guard();
            for n in with_fs {
                if let Err(e) = store.unmount(n) {
                    tracing::warn!(volume = %n, "unmounting: {e}");
                }
            }
            Ok(())
        })
        .await;
        if let Err(e) = res {
            tracing::warn!(id = %c.id, "releasing volumes: {e}");
        }
    }

    /// IDs of the containers whose mounts use the volume `name`.
    pub(crate) fn volume_users(&self, name: &str) -> Vec<String> {
        self.map()
            .values()
            .filter(|c| {
                c.rec()
                    .mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.name == name)
            })
            .map(|c| c.id.clone())
            .collect()
    }
}

/// Removes the anonymous volumes a container create made when the create
/// fails after all (dropped without [`NewVolumes::keep`]).
pub(crate) struct NewVolumes {
    engine: Arc<Engine>,
    mounts: Vec<MountRecord>,
}

impl NewVolumes {
    /// The create succeeded: keep the volumes.
    pub(crate) fn keep(mut self) {
        self.mounts.clear();
    }
}

impl Drop for NewVolumes {
    fn drop(&mut self) {
        if self.mounts.iter().any(|m| m.anonymous) {
            let engine = Arc::clone(&self.engine);
            let mounts = std::mem::take(&mut self.mounts);
            tokio::spawn(async move {
                let _use = engine.volume_use_lock().await;
                engine.discard_anonymous(&mounts).await
            });
        }
    }
}

impl Engine {
    /// A guard over the volumes of a container being created (see [`NewVolumes`]).
    pub(crate) fn new_volumes(self: &Arc<Self>, mounts: &[MountRecord]) -> NewVolumes {
        NewVolumes {
            engine: Arc::clone(self),
            mounts: mounts.to_vec(),
        }
    }
}

/// The runtime mount of one record.
fn runtime_mount(m: &MountRecord) -> MountSpec {
    let rw = if m.rw { "rw" } else { "ro" }.to_string();
    if m.kind == "tmpfs" {
        let mut options: Vec<String> = m
            .tmpfs_options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        if !m.rw && !options.iter().any(|o| o == "ro") {
            options.push(rw);
        }
        return MountSpec {
            source: PathBuf::from("tmpfs"),
            destination: m.destination.clone(),
            kind: MountKind::Tmpfs,
            options,
        };
    }
    let mut options = vec![rw];
    if !m.propagation.is_empty() {
        options.push(m.propagation.clone());
    }
    MountSpec {
        source: PathBuf::from(&m.source),
        destination: m.destination.clone(),
        kind: MountKind::Bind,
        options,
    }
}

/// Mount a read-only view of `lowers` at `scratch` and copy each volume's
/// path from it into the volume when the volume is empty.
fn copy_up_all(
    store: &berth_volume::VolumeStore,
    lowers: &[PathBuf],
    scratch: &Path,
    copies: &[MountRecord],
) -> Result<()> {
    let _content = store.content_guard();
    let mut todo = Vec::new();
    for m in copies {
        match store.is_empty(&m.name) {
            Ok(true) => todo.push(m),
            Ok(false) => {}
            Err(e) => return Err(volume_error(e)),
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(scratch)
        .map_err(|e| EngineError::io(format!("mkdir {}", scratch.display()), e))?;
    if let Err(e) = berth_runtime::mount::mount_overlay(lowers, None, scratch, true, &[]) {
        let _ = std::fs::remove_dir(scratch);
        return Err(EngineError::system(format!(
            "copying image data into volumes: {e}"
        )));
    }
    let mut res = Ok(());
    for m in todo {
        let src = match berth_runtime::rootpath::resolve_in_root(scratch, Path::new(&m.destination))
        {
            Ok(p) => p,
            Err(e) => {
                res = Err(EngineError::io(format!("resolving {}", m.destination), e));
                break;
            }
        };
        if let Err(e) = berth_volume::copy::copy_up(&src, Path::new(&m.source)) {
            res = Err(EngineError::system(format!(
                "copying image data from {} to volume {}: {e}",
                m.destination, m.name
            )));
            break;
        }
    }
    if let Err(e) = berth_runtime::mount::unmount(scratch) {
        tracing::warn!("unmounting {}: {e}", scratch.display());
    }
    let _ = std::fs::remove_dir(scratch);
    res
}

/// An engine error of a volume store error (dockerd's statuses).
pub(crate) fn volume_error(e: berth_volume::VolumeError) -> EngineError {
    match e {
        berth_volume::VolumeError::Invalid { .. } => EngineError::invalid(e.to_string()),
        berth_volume::VolumeError::NotFound(_)
        | berth_volume::VolumeError::PluginNotFound { .. } => EngineError::not_found(e.to_string()),
        other => EngineError::system(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_mounts() {
        let b = MountRecord {
            kind: "bind".into(),
            source: "/h".into(),
            destination: "/c".into(),
            rw: false,
            propagation: "rprivate".into(),
            ..Default::default()
        };
        let s = runtime_mount(&b);
        assert_eq!(s.kind, MountKind::Bind);
        assert_eq!(s.options, vec!["ro".to_string(), "rprivate".to_string()]);
        let t = MountRecord {
            kind: "tmpfs".into(),
            destination: "/t".into(),
            rw: true,
            tmpfs_options: "size=1m,mode=1777".into(),
            ..Default::default()
        };
        let s = runtime_mount(&t);
        assert_eq!(s.kind, MountKind::Tmpfs);
        assert_eq!(
            s.options,
            vec!["size=1m".to_string(), "mode=1777".to_string()]
        );
    }

    #[test]
    fn later_mounts_replace_same_destination() {
        let mut l = Vec::new();
        put(
            &mut l,
            MountRecord {
                destination: "/a".into(),
                name: "x".into(),
                ..Default::default()
            },
        );
        put(
            &mut l,
            MountRecord {
                destination: "/a".into(),
                name: "y".into(),
                ..Default::default()
            },
        );
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].name, "y");
    }
}
