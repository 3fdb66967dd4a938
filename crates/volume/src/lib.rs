//! berth-volume: the local volume store of one data root.
//!
//! Layout (as dockerd's local driver): `<data_root>/volumes/<name>/_data`
//! is the volume's content (its `Mountpoint`), `<name>/volume.json` its
//! metadata (driver, labels, options, creation time, whether anonymous).
//! A volume is created complete in a temporary directory and renamed into
//! place, and removed by renaming it away first, so a crash at any instant
//! leaves either no volume or a whole one.
//!
//! The store knows nothing of containers: whether a volume is in use is the
//! engine's question.

#![warn(missing_docs)]

pub mod copy;
mod error;
pub mod mount;
mod store;

pub use error::{Result, VolumeError};
pub use store::{CreateOptions, Volume, VolumeMeta, VolumeStore, DATA_DIR, META_FILE};
