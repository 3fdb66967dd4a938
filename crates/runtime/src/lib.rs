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
//! The daemon side of this crate ([`spawn_shim`], [`read_state`], [`read_exit`],
//! [`shim_alive`], [`signal`], [`cleanup`], [`logs`]) never calls libcontainer and
//! is safe to use from a multi-threaded process.

mod atomic;
pub mod caps;
pub mod cgroup;
mod control;
mod error;
pub mod logs;
pub mod mount;
pub mod oci;
pub mod rootpath;
pub mod seccomp;
pub mod seccomp_bpf;
pub mod shim;
mod spec;
mod state;
pub mod user;

pub use atomic::{write_atomic, write_file, Durability};
pub use control::{
    cleanup, prepare_exec_root, release_exec_root, shim_alive, shim_pidfd, signal, spawn_shim,
    sweep_exec_root, RUNTIME_STATE_DIR, SHIM_LOG_FILE,
};
pub use error::RuntimeError;
pub use spec::{
    ContainerSpec, MountKind, MountSpec, NetworkMode, RootfsSpec, DEFAULT_SHM_SIZE, SPEC_FILE,
};
pub use state::{
    clear_records, exit_code_of, read_exit, read_state, write_exit, write_state, ExitInfo,
    ShimStarted, ShimState, EXIT_FILE, STATE_FILE,
};
