//! Errors of environment capture (bad metadata is not an error: it becomes
//! a warning in the [`crate::Environment`]).

use std::path::PathBuf;

/// What can stop a capture or a recipe as a whole.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A root (or layer) directory cannot be opened.
    #[error("opening root directory {path}: {source}")]
    Root {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing a recipe file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
