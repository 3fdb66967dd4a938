//! The docker CLI's credentials, shared with it: `~/.docker/config.json`
//! (or `$DOCKER_CONFIG/config.json`) with its `auths` (plain
//! `base64(user:password)` entries and identity tokens), and the native
//! stores (`credsStore`, `credHelpers`) reached through
//! `docker-credential-<name>` helper programs. What `docker login` stores,
//! berth reads, and the reverse.

mod configfile;
mod helper;

pub use configfile::{config_dir, ConfigFile, CONFIG_FILE_NAME};
pub use helper::{HelperCredentials, NativeHelper, TOKEN_USERNAME};

use std::path::PathBuf;

/// What can go wrong reading or writing credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The config file or its directory could not be read or written.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid JSON (or not an object).
    #[error("{}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A credential helper failed (`action` is getting, storing or erasing).
    #[error("error {action} credentials - err: {err}, out: `{out}`")]
    Helper {
        /// `getting`, `storing` or `erasing`.
        action: &'static str,
        /// Why the helper failed (exit status or a failure to run it).
        err: String,
        /// What the helper printed.
        out: String,
    },
}

/// Result alias of the credential functions.
pub type CredResult<T> = Result<T, CredentialsError>;
