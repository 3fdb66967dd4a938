//! The crate's single error type.

/// A Dockerfile error. `Display` is Docker's message; callers such as the
/// builder prefix it with `Dockerfile parse error line N: ` when `line` is set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// 1-based line of the Dockerfile the error refers to, when known.
    pub line: Option<usize>,
    /// Docker's error message.
    pub message: String,
}

impl Error {
    /// An error without a line number.
    pub fn msg(message: impl Into<String>) -> Self {
        Error {
            line: None,
            message: message.into(),
        }
    }

    /// An error attached to a 1-based line.
    pub fn at(line: usize, message: impl Into<String>) -> Self {
        Error {
            line: Some(line),
            message: message.into(),
        }
    }

    /// Attach a line number if the error has none yet.
    pub fn with_line(mut self, line: usize) -> Self {
        if self.line.is_none() {
            self.line = Some(line);
        }
        self
    }
}
