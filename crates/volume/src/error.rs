//! The volume store's error type; messages are dockerd's.

/// A volume store failure.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A bad name or option in a create request (dockerd's 400).
    #[error("create {name}: {message}")]
    Invalid {
        /// The volume name as requested.
        name: String,
        /// Why it is refused.
        message: String,
    },
    /// A volume driver that is not installed (dockerd's 404).
    #[error(
        "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
    )]
    PluginNotFound {
        /// The volume name as requested.
        name: String,
        /// The driver asked for.
        driver: String,
    },
    /// No such volume (dockerd's 404 `get NAME: no such volume`).
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file system is still mounted in a volume's directory, so its
    /// content cannot be removed without reaching through the mount.
    #[error("{}: a file system is still mounted there", .0.display())]
    Mounted(std::path::PathBuf),
    /// The metadata of a volume is unreadable.
    #[error("volume {name}: bad metadata: {message}")]
    Corrupt {
        /// The volume.
        name: String,
        /// The parse error.
        message: String,
    },
}

impl VolumeError {
    /// An I/O error with context.
    pub fn io(context: impl std::fmt::Display, source: std::io::Error) -> Self {
        VolumeError::Io {
            context: context.to_string(),
            source,
        }
    }
}

/// Result with [`VolumeError`].
pub type Result<T, E = VolumeError> = std::result::Result<T, E>;
