//! Errors of registry operations, shaped so that the daemon can print
//! Docker's messages.

use std::fmt;

/// One entry of a registry's `{"errors":[...]}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
pub struct RegistryErrorEntry {
    /// `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `UNAUTHORIZED`, `DENIED`, ...
    #[serde(default)]
    pub code: String,
    /// The registry's message.
    #[serde(default)]
    pub message: String,
}

impl fmt::Display for RegistryErrorEntry {
    /// Docker's form: the code in lower case with spaces, then the message
    /// (`manifest unknown: manifest unknown`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.to_lowercase().replace('_', " ");
        if code.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{code}: {}", self.message)
        }
    }
}

/// The errors a registry answered with (and its HTTP status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryErrors {
    /// The HTTP status of the answer.
    pub status: u16,
    /// The decoded error entries (empty if the body had none).
    pub errors: Vec<RegistryErrorEntry>,
}

impl RegistryErrors {
    /// Decode an error answer's body (`{"errors":[...]}`); a body that is
    /// not one gives an entry made of the status line, as Docker does.
    pub fn from_body(status: u16, body: &[u8]) -> RegistryErrors {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default)]
            errors: Vec<RegistryErrorEntry>,
        }
        let errors = serde_json::from_slice::<Body>(body)
            .map(|b| b.errors)
            .unwrap_or_default();
        RegistryErrors { status, errors }
    }

    /// Whether any entry has this code.
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }
}

impl fmt::Display for RegistryErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [] => write!(f, "{}", status_text(self.status)),
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "errors:")?;
                for e in many {
                    write!(f, "\n{e}")?;
                }
                Ok(())
            }
        }
    }
}

/// Go's text for an unexpected status, as the distribution client prints it.
fn status_text(status: u16) -> String {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Requested Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    };
    format!("unexpected status code {status} {reason}")
        .trim_end()
        .to_string()
}

/// What can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with an error status.
    #[error("{0}")]
    Status(RegistryErrors),
    /// The registry could not be reached (refused, DNS, TLS, timeout).
    #[error("{0}")]
    Connect(String),
    /// Authentication failed (the token server refused the credentials).
    #[error("{0}")]
    Auth(String),
    /// The registry's answer broke the protocol (bad JSON, missing header,
    /// manifest too large, wrong digest).
    #[error("{0}")]
    Protocol(String),
    /// No manifest in a list matched the wanted platform.
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingPlatform(String),
    /// Content did not hash to the digest that named it.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The operation was cancelled (the client went away).
    #[error("operation cancelled")]
    Cancelled,
    /// A local read or write failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl RegistryError {
    /// The registry's error entries, if it answered with some.
    pub fn registry_errors(&self) -> Option<&RegistryErrors> {
        match self {
            RegistryError::Status(e) => Some(e),
            _ => None,
        }
    }
}

/// Result of registry operations.
pub type Result<T> = std::result::Result<T, RegistryError>;
