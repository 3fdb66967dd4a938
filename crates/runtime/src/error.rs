//! The one error type of berth-runtime.

use std::path::PathBuf;

/// Errors of the container runtime (daemon-side helpers and the shim).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// An I/O operation on a path failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", "mount", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file could not be parsed or written.
    #[error("json {path}: {source}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done.
        op: String,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// The `-u` user could not be resolved in the container's rootfs.
    #[error("{0}")]
    User(String),
    /// The OCI runtime spec could not be built.
    #[error("generating OCI spec: {0}")]
    Spec(String),
    /// The shim could not start the container; the message is the cause
    /// as the user should see it (e.g. `exec: "nosuch": executable file not found in $PATH`).
    #[error("{0}")]
    Start(String),
    /// The shim process failed in some other way (died before reporting, bad protocol).
    #[error("shim: {0}")]
    Shim(String),
    /// The attach protocol failed (bad frame, broken connection).
    #[error("attach: {0}")]
    Attach(String),
    /// A resource setting is invalid or could not be applied.
    #[error("{0}")]
    Resources(String),
    /// A log timestamp or line could not be parsed.
    #[error("log: {0}")]
    Log(String),
}

impl RuntimeError {
    /// Wrap an `std::io::Error` with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Wrap a `nix` errno with a description of the operation.
    pub fn sys(op: impl Into<String>, source: nix::Error) -> Self {
        RuntimeError::Sys {
            op: op.into(),
            source,
        }
    }
}
