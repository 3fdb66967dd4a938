//! The store's one error type. Display strings are Docker's where Docker
//! has one, so the daemon can pass them to clients unchanged.

use berth_spec::image::ImageSpecError;
use std::path::PathBuf;

/// Broad classes of [`StoreError`], for mapping to API status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The image (or path) does not exist: HTTP 404.
    NotFound,
    /// The operation conflicts with current state: HTTP 409.
    Conflict,
    /// The caller's input is invalid (bad reference, bad tarball): HTTP 400.
    InvalidInput,
    /// Anything else (I/O, corruption): HTTP 500.
    Internal,
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No image has this name, ID or ID prefix.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// A bad reference, digest or `--change` line.
    #[error(transparent)]
    Spec(#[from] ImageSpecError),
    /// Docker's conflict messages (`conflict: unable to delete ...`).
    #[error("{0}")]
    Conflict(String),
    /// Invalid input other than references (e.g. tagging with a digest).
    #[error("{0}")]
    InvalidArgument(String),
    /// A tarball or archive that cannot be read or is unsafe.
    #[error("{0}")]
    BadArchive(String),
    /// A path (for cp) that does not exist inside a container root.
    #[error("Could not find the file {0} in container")]
    PathNotFound(String),
    /// Stored data failed verification.
    #[error("corrupt image store: {0}")]
    Corrupt(String),
    /// An I/O error, with what was being done and on which path.
    #[error("{context} {path:?}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NoSuchImage(_) | StoreError::PathNotFound(_) => ErrorKind::NotFound,
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::Spec(_) | StoreError::InvalidArgument(_) | StoreError::BadArchive(_) => {
                ErrorKind::InvalidInput
            }
            StoreError::Corrupt(_) | StoreError::Io { .. } => ErrorKind::Internal,
        }
    }

    /// Whether this is a "not found" error.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// Whether this is a conflict.
    pub fn is_conflict(&self) -> bool {
        self.kind() == ErrorKind::Conflict
    }

    /// Whether the caller's input was at fault.
    pub fn is_invalid_input(&self) -> bool {
        self.kind() == ErrorKind::InvalidInput
    }
}

/// Attach context and a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: &'static str, path: impl Into<PathBuf>) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: &'static str, path: impl Into<PathBuf>) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Io {
            context,
            path: path.into(),
            source,
        })
    }
}
