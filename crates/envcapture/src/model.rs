//! The captured environment: serialisable, stable field names.

use serde::{Deserialize, Serialize};

/// A package manager or language ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Debian/Ubuntu packages (`/var/lib/dpkg/status`).
    Dpkg,
    /// Alpine packages (`/lib/apk/db/installed`).
    Apk,
    /// Python distributions (`*.dist-info`, `*.egg-info`).
    Pip,
    /// Conda packages (`conda-meta/*.json`).
    Conda,
    /// Global npm packages.
    Npm,
    /// R packages (`DESCRIPTION` files).
    R,
}

impl Ecosystem {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Ecosystem::Dpkg => "dpkg",
            Ecosystem::Apk => "apk",
            Ecosystem::Pip => "pip",
            Ecosystem::Conda => "conda",
            Ecosystem::Npm => "npm",
            Ecosystem::R => "r",
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Its name as the package manager spells it.
    pub name: String,
    /// Its exact version.
    pub version: String,
    /// Architecture (dpkg, apk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Build string (conda).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// Channel (conda) or repository (R).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Who installed it (Python's `INSTALLER`: pip, conda, debian...; for
    /// Debian's `/usr/lib/python3/dist-packages`, which only apt writes,
    /// `debian` when the file is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installer: Option<String>,
    /// Where it came from when not an index (Python's `direct_url.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Shipped with the interpreter (R's base and recommended packages).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub builtin: bool,
}

impl Package {
    /// A package with only a name and a version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Package {
            name: name.into(),
            version: version.into(),
            arch: None,
            build: None,
            channel: None,
            installer: None,
            url: None,
            builtin: false,
        }
    }
}

/// What kind of place a collection of packages lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    /// The system (package database, system interpreter, global modules).
    System,
    /// A Python virtual environment (`pyvenv.cfg`).
    Venv,
    /// A conda environment (`conda-meta`).
    Conda,
}

/// The packages of one ecosystem at one location (the system, a venv, a
/// conda env, an R library...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// The ecosystem.
    pub ecosystem: Ecosystem,
    /// Where: `/` for a system package database, else the environment's
    /// prefix (`/usr`, `/usr/local`, `/opt/venv`, `/opt/conda`) or the
    /// library directory.
    pub location: String,
    /// The kind of place.
    pub place: Place,
    /// The interpreter, when known (`python3.11`, `3.11.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    /// Python: the interpreter is marked EXTERNALLY-MANAGED (PEP 668), so
    /// pip needs `--break-system-packages` there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub externally_managed: bool,
    /// The packages, sorted by name.
    pub packages: Vec<Package>,
}

/// A file that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The path inside the root.
    pub path: String,
    /// What was wrong.
    pub message: String,
}

/// The operating system (`/etc/os-release`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// `ID` (debian, ubuntu, alpine).
    #[serde(default)]
    pub id: String,
    /// `VERSION_ID`.
    #[serde(default)]
    pub version_id: String,
    /// `PRETTY_NAME`.
    #[serde(default)]
    pub pretty_name: String,
}

/// Everything captured from one root filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// The operating system, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    /// The package collections found, in a stable order.
    pub collections: Vec<Collection>,
    /// Metadata that was skipped, and why.
    pub warnings: Vec<Warning>,
}

impl Environment {
    /// Whether any package manager or ecosystem was found at all.
    pub fn has_package_manager(&self) -> bool {
        !self.collections.is_empty()
    }

    /// The collection of `ecosystem` at `location`.
    pub fn collection(&self, ecosystem: Ecosystem, location: &str) -> Option<&Collection> {
        self.collections
            .iter()
            .find(|c| c.ecosystem == ecosystem && c.location == location)
    }

    /// The number of packages in all collections.
    pub fn package_count(&self) -> usize {
        self.collections.iter().map(|c| c.packages.len()).sum()
    }
}
