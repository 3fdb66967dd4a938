//! Opening the engine: loading container records and live restore (adopting
//! shims that outlived the previous daemon, recording exits that happened
//! while it was down, restarting `always` containers).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::container::Container;
use crate::error::{EngineError, Result};
use crate::record::{ContainerRecord, Status};
use crate::{blocking, Engine, EngineConfig, Store};

/// What the disk says about one container at startup.
struct Found {
    rec: ContainerRecord,
    dir: std::path::PathBuf,
    shim: Option<berth_runtime::ShimState>,
    exit: Option<berth_runtime::ExitInfo>,
}

fn engine_id(data_root: &Path) -> Result<String> {
    let path = data_root.join("engine-id");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    let id = crate::create::new_id()[..32].to_uppercase();
    berth_runtime::write_atomic(&path, id.as_bytes())?;
    Ok(id)
}

fn scan(containers_dir: &Path, exec_root: &Path) -> Result<Vec<Found>> {
    berth_runtime::sweep_exec_root(exec_root);
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(containers_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(EngineError::io(
                format!("read {}", containers_dir.display()),
                e,
            ))
        }
    };
    for entry in rd.flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(crate::lifecycle::TRASH_PREFIX) {
            berth_runtime::cleanup(&dir, exec_root);
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!("removing {}: {e}", dir.display());
            }
            continue;
        }
        if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        if !dir.join(crate::record::RECORD_FILE).exists() {
            // A create or remove that was interrupted: nothing references it.
            tracing::warn!("removing incomplete container directory {}", dir.display());
            berth_runtime::cleanup(&dir, exec_root);
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let rec = match ContainerRecord::load(&dir) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("skipping container {name}: {e}");
                continue;
            }
        };
        let shim = berth_runtime::read_state(&dir)
            .ok()
            .flatten()
            .filter(berth_runtime::shim_alive);
        let exit = berth_runtime::read_exit(&dir).ok().flatten();
        crate::exec::remove_finished_exec_dirs(&dir);
        out.push(Found {
            rec,
            dir,
            shim,
            exit,
        });
    }
    Ok(out)
}

impl Engine {
    /// Open the engine on `cfg.data_root` and restore its containers. Must
    /// run inside a tokio runtime (it spawns exit watchers).
    pub async fn open(cfg: EngineConfig) -> Result<Arc<Engine>> {
        for d in [cfg.data_root.join("containers"), cfg.exec_root.clone()] {
            std::fs::create_dir_all(&d)
                .map_err(|e| EngineError::io(format!("mkdir {}", d.display()), e))?;
        }
        crate::build::clean_tmp(&cfg.data_root);
        let root = cfg.data_root.clone();
        let store = blocking(move || Ok(Store::open(&root.join("image"))?)).await?;
        let engine_id = engine_id(&cfg.data_root)?;
        let containers_dir = cfg.data_root.join("containers");
        let exec_root = cfg.exec_root.clone();
        let found = blocking(move || scan(&containers_dir, &exec_root)).await?;
        let engine = Arc::new(Engine {
            volumes: crate::volumes::open_store(&cfg.data_root),
            volume_use: tokio::sync::Mutex::new(()),
            net: crate::network::NetState::new(&cfg.data_root, &cfg.exec_root),
            registry: crate::registry::RegistryState::default(),
            cfg,
            store: Arc::new(store),
            containers: Mutex::new(BTreeMap::new()),
            engine_id,
            bus: crate::events::EventBus::new(),
        });
        let mut to_exit = Vec::new();
        let mut to_start = Vec::new();
        let mut to_clean = Vec::new();
        for f in found {
            let was_running = matches!(f.rec.state.status, Status::Running | Status::Restarting);
            let c = Arc::new(Container::new(f.rec, f.dir));
            engine.map().insert(c.id.clone(), Arc::clone(&c));
            if let Some(shim) = f.shim.filter(|_| f.exit.is_none()) {
                // The container outlived the previous daemon (or its start was never recorded).
                c.update(|r| {
                    r.state.status = Status::Running;
                    r.state.pid = shim.init_pid;
                    r.state.shim_pid = shim.shim_pid;
                    r.state.started_at = Some(shim.started_at);
                })?;
                crate::freeze::thaw_if_not_paused(&c.dir, c.rec().state.paused);
                tracing::info!(id = %c.id, "re-attached to running container");
                engine.spawn_watcher(Arc::clone(&c), shim.shim_pid, true);
                // Probing goes on where it was; the health state is kept.
                engine.health_open(&c);
            } else if was_running {
                to_exit.push((c, f.exit));
            } else {
                // A shim killed while it started the container (with the daemon dead too)
                // leaves its mounts and cgroups behind: nobody else would release them.
                if rootfs_mounted(&c.dir) {
                    to_clean.push(c.dir.clone());
                }
                let rec = c.snapshot();
                let policy = &rec.host_config.restart_policy;
                let started_before = rec.state.started_at.is_some();
                let manual = rec.state.manually_stopped && policy.name != "always";
                if started_before
                    && rec.state.status == Status::Exited
                    && crate::restart::should_restart(
                        policy,
                        rec.state.exit_code,
                        c.policy_restarts(),
                        manual,
                    )
                {
                    to_start.push(c);
                }
            }
        }
        if let Err(e) = engine.network_open().await {
            tracing::error!("setting up networking: {e}");
        }
        if !to_clean.is_empty() {
            let exec_root = engine.cfg.exec_root.clone();
            blocking(move || {
                for dir in to_clean {
                    tracing::warn!(
                        "releasing what an interrupted start left in {}",
                        dir.display()
                    );
                    berth_runtime::cleanup(&dir, &exec_root);
                }
                Ok(())
            })
            .await?;
        }
        for (c, exit) in to_exit {
            engine.net_teardown(&c).await;
            if exit.is_none() {
                let dir = c.dir.clone();
                let exec_root = engine.cfg.exec_root.clone();
                blocking(move || {
                    berth_runtime::cleanup(&dir, &exec_root);
                    Ok(())
                })
                .await?;
            }
            tracing::info!(id = %c.id, "container exited while the daemon was down");
            engine.release_volumes(&c).await;
            engine.record_exit(&c, exit)?;
        }
        for c in to_start {
            let engine2 = Arc::clone(&engine);
            tokio::spawn(async move {
                let _op = c.op.lock().await;
                if engine2.ensure_registered(&c, &c.id).is_err() {
                    return; // removed meanwhile
                }
                if let Err(e) = engine2.start_locked(&c, false).await {
                    tracing::warn!(id = %c.id, "restart at daemon start failed: {e}");
                }
            });
        }
        Ok(engine)
    }
}

/// Whether the container's root filesystem is still mounted (on another device than its
/// directory).
fn rootfs_mounted(container_dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata(container_dir),
        std::fs::metadata(container_dir.join("rootfs")),
    ) {
        (Ok(dir), Ok(root)) => dir.dev() != root.dev(),
        _ => false,
    }
}
