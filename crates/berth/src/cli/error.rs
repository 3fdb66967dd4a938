//! The CLI's error type: what to print and which exit status to use, with
//! the docker CLI's conventions (125 for CLI and daemon errors in `run`,
//! 1 for other failed commands).

use berth_client::ClientError;

use super::template::TemplateError;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An API call failed; printed as is (`Error response from daemon: ...`).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Exit with `code`, printing `message` on stderr unless empty.
    #[error("{message}")]
    Status {
        /// Exit status.
        code: i32,
        /// What to print.
        message: String,
    },
    /// A local I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A bad `--format` template.
    #[error("Template parsing error: {0}")]
    Template(#[from] TemplateError),
}

impl CliError {
    /// An error printed as `message` with exit status `code`.
    pub fn status(code: i32, message: impl Into<String>) -> Self {
        CliError::Status {
            code,
            message: message.into(),
        }
    }

    /// An error with exit status 1.
    pub fn msg(message: impl Into<String>) -> Self {
        Self::status(1, message)
    }

    /// A local I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CliError::Io {
            context: context.into(),
            source,
        }
    }

    /// The exit status for this error.
    pub fn code(&self) -> i32 {
        match self {
            CliError::Status { code, .. } => *code,
            _ => 1,
        }
    }
}

/// Docker 20.10's `wrapResponseError`: a 404 from some endpoints is
/// reported as `Error: No such <object>: <id>`.
pub fn not_found_as(e: ClientError, object: &str, id: &str) -> CliError {
    if e.is_not_found() {
        CliError::msg(format!("Error: No such {object}: {id}"))
    } else {
        e.into()
    }
}

/// Result alias of the CLI.
pub type CliResult<T = ()> = Result<T, CliError>;
