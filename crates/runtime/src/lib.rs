//! berth-runtime: the container runtime of berth.
//!
//! Each container runs under its own monitor process, the *shim*: the `berth`
//! binary re-executed as `berth shim <container-dir> <exec-root>`. The shim mounts
//! the overlay rootfs, generates the OCI runtime spec with Docker's sandbox
//! defaults, creates and starts the container with youki's `libcontainer`, holds
//! its stdio (writing Docker's json-file log), reaps it and records its exit.
//!
//! Files in the container directory: the engine writes `spec.json`
//! ([`ContainerSpec`]) and calls [`spawn_shim`], which returns once the
//! container's process runs (or with the reason it could not start). The shim
//! writes `state.json` ([`ShimState`]) before reporting, the json-file log
//! while the container runs, and on exit cleans up (libcontainer state,
//! cgroup, rootfs mount) and only then writes `exit.json` ([`ExitInfo`]) and
//! exits. So: shim process gone + `exit.json` present = cleanly exited; shim
//! gone without `exit.json` = the shim died (call [`cleanup`]). Watch the shim's
//! exit with a pidfd ([`shim_pidfd`]).
//!
//! More files in the container directory: `attach.sock` while the shim runs
//! (stdio of the container for any number of clients, see [`attach`]; the
//! engine connects with [`attach::connect`], or gets a connection made before
//! the process starts from [`spawn_shim_attached`]), `console.sock` for a
//! moment while a TTY container starts, `oom.jsonl` (one line per OOM kill in
//! the container's cgroup, see [`oom`]), and `exec/<exec id>/` for each exec
//! ([`exec`], [`spawn_exec_shim`]).
//!
//! Also for the daemon: [`update_resources`] (`docker update`), [`stats()`]
//! (cgroup counters for `docker stats`), [`pause()`] / [`unpause`] (freezer).
//!
//! The daemon side of this crate ([`spawn_shim`], [`read_state`], [`read_exit`],
//! [`shim_alive`], [`signal`], [`cleanup`], [`logs`]) never calls libcontainer and
//! is safe to use from a multi-threaded process.

mod atomic;
pub mod attach;
pub mod caps;
pub mod cgroup;
pub mod cgroupfs;
mod control;
mod error;
pub mod exec;
pub mod logs;
pub mod mount;
pub mod oci;
pub mod oom;
pub mod pause;
pub mod resources;
pub mod rootpath;
pub mod seccomp;
pub mod seccomp_bpf;
pub mod shim;
mod spec;
mod state;
pub mod stats;
pub mod sysctl;
pub mod user;

pub use atomic::{write_atomic, write_file, Durability};
pub use control::{
    cleanup, prepare_exec_root, release_exec_root, shim_alive, shim_pidfd, signal, spawn_shim,
    spawn_shim_attached, sweep_exec_root, RUNTIME_STATE_DIR, SHIM_LOG_FILE,
};
pub use error::RuntimeError;
pub use exec::{
    exec_dir, kill_exec_group, read_exec_exit, read_exec_state, spawn_exec_shim, ExecSpec, EXEC_DIR,
};
pub use pause::{is_paused, pause, unpause};
pub use resources::{update_resources, Resources};
pub use spec::{
    ContainerSpec, MountKind, MountSpec, NetworkMode, RootfsSpec, Ulimit, DEFAULT_SHM_SIZE,
    SPEC_FILE,
};
pub use state::{
    clear_records, exit_code_of, read_exit, read_state, write_exit, write_state, ExitInfo,
    ShimStarted, ShimState, EXIT_FILE, STATE_FILE,
};
pub use stats::{stats, ContainerStats};
