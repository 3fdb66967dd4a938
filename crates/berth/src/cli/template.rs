//! The `--format` template engine lives in the `berth-template` crate (so
//! the fuzz targets can reach it); the CLI uses it through this module.

pub use berth_template::*;
