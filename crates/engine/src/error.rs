//! The engine's one error type, carrying the HTTP-like kind the API maps to a status.

/// What kind of failure an [`EngineError`] is; the API layer maps it to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404: no such container, image or network.
    NotFound,
    /// 409: the object is in a state that forbids the operation.
    Conflict,
    /// 403: the operation is not allowed on this object (networks).
    Forbidden,
    /// 400: the request is invalid.
    InvalidParameter,
    /// 304: nothing to do (already started, already stopped).
    NotModified,
    /// 500: anything else.
    System,
}

impl ErrorKind {
    /// The HTTP status code dockerd answers with for this kind.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Forbidden => 403,
            ErrorKind::InvalidParameter => 400,
            ErrorKind::NotModified => 304,
            ErrorKind::System => 500,
        }
    }
}

/// An engine failure: a kind and Docker's message for it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    /// The kind (decides the HTTP status).
    pub kind: ErrorKind,
    /// The message, worded as dockerd words it.
    pub message: String,
    /// An exit code to report with the error (a failed build step's
    /// `errorDetail.code`), when there is one.
    pub code: Option<i64>,
}

impl EngineError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EngineError {
            kind,
            message: message.into(),
            code: None,
        }
    }
    /// The same error carrying an exit code (see [`EngineError::code`]).
    pub fn with_code(mut self, code: i64) -> Self {
        self.code = Some(code);
        self
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    /// 304.
    pub fn not_modified() -> Self {
        Self::new(ErrorKind::NotModified, "")
    }
    /// 500.
    pub fn system(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::System, message)
    }
    /// 500 from an I/O error with context.
    pub fn io(context: impl std::fmt::Display, err: std::io::Error) -> Self {
        Self::system(format!("{context}: {err}"))
    }
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl From<berth_store::StoreError> for EngineError {
    fn from(e: berth_store::StoreError) -> Self {
        let kind = match e.kind() {
            berth_store::ErrorKind::NotFound => ErrorKind::NotFound,
            berth_store::ErrorKind::Conflict => ErrorKind::Conflict,
            berth_store::ErrorKind::InvalidInput => ErrorKind::InvalidParameter,
            berth_store::ErrorKind::Internal => ErrorKind::System,
        };
        EngineError::new(kind, e.to_string())
    }
}

impl From<berth_runtime::RuntimeError> for EngineError {
    fn from(e: berth_runtime::RuntimeError) -> Self {
        EngineError::system(e.to_string())
    }
}

/// Result with [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
