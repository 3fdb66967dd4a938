//! The one error type of the client.

use std::path::PathBuf;

/// Everything that can go wrong talking to the Engine API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket file is absent or nobody accepts connections on it: the
    /// daemon is not running (the CLI may start it).
    #[error("Cannot connect to the berth daemon at unix://{}. Is the berth daemon running?", path.display())]
    DaemonUnavailable {
        /// The socket path that was tried.
        path: PathBuf,
        /// Why the connection failed.
        #[source]
        source: std::io::Error,
    },
    /// The daemon answered with an error status; `message` is its
    /// `{"message": ...}` body.
    #[error("Error response from daemon: {message}")]
    Daemon {
        /// HTTP status code.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// An error carried inside a JSON-message stream (`errorDetail`).
    #[error("{0}")]
    Stream(String),
    /// The `-H` value is not a supported address.
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost {
        /// The address given.
        host: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Local I/O (socket, file, stdin/stdout) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// HTTP-level failure on an established connection.
    #[error("error during connect: {0}")]
    Http(#[from] hyper::Error),
    /// Building a request failed (bad header or URI).
    #[error("invalid request: {0}")]
    Request(#[from] hyper::http::Error),
    /// The daemon sent JSON that does not decode into the expected model.
    #[error("cannot decode daemon response: {0}")]
    Json(#[from] serde_json::Error),
    /// The daemon broke the protocol (bad frame, missing upgrade, ...).
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The HTTP status when the daemon answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Daemon { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True when the daemon could not be reached at all.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ClientError::DaemonUnavailable { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ClientError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
