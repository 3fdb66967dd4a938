//! Errors of the loader. Every error about the content of a file names the
//! file, the line and the key path, as `compose.yaml:7: services.web.ports[0]:
//! invalid port "80:80:80"`.

use std::path::PathBuf;

use crate::node::Pos;

/// The message when no Compose file is found.
pub const NO_FILE: &str = "no configuration file provided: not found";

/// A failure to load a Compose project.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Something wrong in a file, at a place.
    #[error("{}", located(pos, path, message))]
    At {
        /// Where.
        pos: Pos,
        /// The key path (`services.web.ports[0]`), empty for the document.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A problem not tied to a place in a file.
    #[error("{0}")]
    Project(String),
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn located(pos: &Pos, path: &str, message: &str) -> String {
    let mut out = String::new();
    if !pos.file.as_os_str().is_empty() {
        out.push_str(&format!("{}:", pos.file.display()));
        if pos.line > 0 {
            out.push_str(&format!("{}:", pos.line));
        }
        out.push(' ');
    }
    if !path.is_empty() {
        out.push_str(path);
        out.push_str(": ");
    }
    out.push_str(message);
    out
}

impl LoadError {
    /// An error at `pos`, about the key `path`.
    pub fn at(pos: Pos, path: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError::At {
            pos,
            path: path.into(),
            message: message.into(),
        }
    }

    /// A project-level error.
    pub fn project(message: impl Into<String>) -> LoadError {
        LoadError::Project(message.into())
    }

    /// Whether this is "no Compose file was found".
    pub fn is_no_file(&self) -> bool {
        matches!(self, LoadError::Project(m) if m == NO_FILE)
    }

    /// A read failure.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> LoadError {
        LoadError::Io {
            path: path.into(),
            source,
        }
    }
}
