//! What every reader shares: the root, the size caps and the warnings.

use crate::model::Warning;
use crate::rootfs::{Issue, RootFs};

/// Cap for package databases (dpkg status, apk installed).
pub const MAX_DATABASE: u64 = 64 << 20;
/// Cap for one package's metadata file.
pub const MAX_METADATA: u64 = 4 << 20;
/// Cap for one conda-meta record (they list every file of the package).
pub const MAX_CONDA_RECORD: u64 = 32 << 20;
/// Cap for small configuration files (os-release, pyvenv.cfg).
pub const MAX_SMALL: u64 = 64 << 10;

/// A capture in progress.
pub struct Ctx<'a> {
    /// The root filesystem.
    pub root: &'a RootFs,
    /// What was skipped so far.
    pub warnings: Vec<Warning>,
}

impl<'a> Ctx<'a> {
    /// Start a capture of `root`.
    pub fn new(root: &'a RootFs) -> Self {
        Ctx {
            root,
            warnings: Vec::new(),
        }
    }

    /// Record a warning about `path`.
    pub fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// Read a text file; a missing file is `None` silently, any other
    /// problem is `None` with a warning.
    pub fn text(&mut self, path: &str, max: u64) -> Option<String> {
        match self.root.read_text(path, max) {
            Ok(t) => Some(t),
            Err(Issue::Missing) => None,
            Err(e) => {
                self.warn(path, e.to_string());
                None
            }
        }
    }

    /// List a directory; missing is empty silently, other problems warn.
    pub fn list(&mut self, path: &str) -> Vec<(String, crate::rootfs::Kind)> {
        match self.root.list(path) {
            Ok(m) => m.into_iter().collect(),
            Err(Issue::Missing) => Vec::new(),
            Err(e) => {
                self.warn(path, e.to_string());
                Vec::new()
            }
        }
    }

    /// Whether `path` is a directory (symlinks followed inside the root).
    pub fn is_dir(&self, path: &str) -> bool {
        self.root.kind(path) == Some(crate::rootfs::Kind::Dir)
    }
}

/// Join a directory and a name into a root path.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}
