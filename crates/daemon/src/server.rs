//! The unix-socket listener and the daemon's main loop.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;

use berth_engine::{Engine, EngineConfig};

use crate::error::DaemonError;
use crate::{Ctx, DaemonConfig};

/// The exec root of a daemon started without `--exec-root`.
const DEFAULT_EXEC_ROOT: &str = "/run/berth";

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let context = context.into();
    move |source| DaemonError::Io { context, source }
}

/// Bind the socket, removing a stale socket file nobody answers on.
fn bind(socket: &Path) -> Result<UnixListener, DaemonError> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    }
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(DaemonError::AlreadyRunning(format!(
                "a daemon is already listening on {}",
                socket.display()
            )));
        }
        std::fs::remove_file(socket).map_err(io_err(format!(
            "removing stale socket {}",
            socket.display()
        )))?;
    }
    let listener =
        UnixListener::bind(socket).map_err(io_err(format!("binding {}", socket.display())))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))
        .map_err(io_err(format!("chmod {}", socket.display())))?;
    give_to_group(socket);
    Ok(listener)
}

/// As dockerd: the socket belongs to the `docker` group when it exists (its members may use the
/// engine without sudo), else to root's group; a failure is logged, not fatal.
fn give_to_group(socket: &Path) {
    match nix::unistd::Group::from_name(SOCKET_GROUP) {
        Ok(Some(group)) => {
            if let Err(e) = nix::unistd::chown(socket, None, Some(group.gid)) {
                tracing::warn!(
                    "could not change group {} to {SOCKET_GROUP}: {e}",
                    socket.display()
                );
            }
        }
        Ok(None) => tracing::debug!(
            "group {SOCKET_GROUP} not found: {} stays root's",
            socket.display()
        ),
        Err(e) => tracing::warn!("looking up group {SOCKET_GROUP}: {e}"),
    }
}

/// The group that may use the API socket.
const SOCKET_GROUP: &str = "docker";

/// Serve the API on `listener` until SIGINT or SIGTERM.
pub async fn serve(listener: UnixListener, engine: Arc<Engine>) -> Result<(), DaemonError> {
    let ctx = Arc::new(Ctx { engine });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(io_err("installing SIGTERM handler"))?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let ctx = Arc::clone(&ctx);
                tokio::spawn(async move {
                    let svc = service_fn(move |req| crate::router::handle(Arc::clone(&ctx), req));
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(60))
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades();
                    if let Err(e) = conn.await {
                        tracing::debug!("connection: {e}");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    tracing::info!("shutting down (containers keep running)");
    Ok(())
}

/// Run the daemon in the foreground until SIGINT/SIGTERM.
pub fn run(cfg: DaemonConfig) -> Result<(), DaemonError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .thread_keep_alive(Duration::from_secs(10))
        .enable_all()
        .build()
        .map_err(io_err("starting the tokio runtime"))?;
    rt.block_on(async move {
        std::fs::create_dir_all(&cfg.exec_root)
            .map_err(io_err(format!("creating {}", cfg.exec_root.display())))?;
        std::fs::create_dir_all(&cfg.data_root)
            .map_err(io_err(format!("creating {}", cfg.data_root.display())))?;
        // libcontainer's state on a tmpfs: its per-container files are
        // created and deleted on every `run`. Only for the default exec root
        // (normally on /run, a tmpfs already): a tmpfs mounted under a custom
        // exec root would outlive a killed daemon and pin its directory.
        let mounted_runtime_tmpfs = if cfg.exec_root == Path::new(DEFAULT_EXEC_ROOT) {
            match berth_engine::prepare_runtime_state(&cfg.exec_root) {
                Ok(mounted) => mounted,
                Err(e) => {
                    tracing::warn!("runtime state stays on disk: {e}");
                    false
                }
            }
        } else {
            false
        };
        let listener = bind(&cfg.socket)?;
        let engine = Engine::open(EngineConfig {
            data_root: cfg.data_root.clone(),
            exec_root: cfg.exec_root.clone(),
            shim_exe: cfg.shim_exe.clone(),
            daemon_log: cfg.daemon_log.clone(),
        })
        .await;
        let engine = match engine {
            Ok(e) => e,
            Err(e) => {
                let _ = std::fs::remove_file(&cfg.socket);
                return Err(e.into());
            }
        };
        engine.configure_registry(cfg.registry.clone());
        let pid_file = cfg.exec_root.join("berth.pid");
        berth_runtime_pid(&pid_file)?;
        tracing::info!(
            "berth daemon {} listening on {} (data root {}, exec root {})",
            env!("CARGO_PKG_VERSION"),
            cfg.socket.display(),
            cfg.data_root.display(),
            cfg.exec_root.display()
        );
        let res = serve(listener, Arc::clone(&engine)).await;
        engine.shutdown_network().await;
        if mounted_runtime_tmpfs && engine.container_counts().1 == 0 {
            berth_engine::release_runtime_state(&cfg.exec_root);
        }
        let _ = std::fs::remove_file(&cfg.socket);
        let _ = std::fs::remove_file(&pid_file);
        res
    })
}

fn berth_runtime_pid(path: &Path) -> Result<(), DaemonError> {
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(io_err(format!("writing {}", path.display())))
}
