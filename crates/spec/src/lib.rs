//! Pure types and parsers shared by every berth crate: the Docker Engine API
//! JSON models (API v1.41), image configs, image references, digests,
//! container names and the human-readable units Docker prints.
//!
//! Nothing in this crate performs I/O.

pub mod api;
pub mod archive;
pub mod detach;
pub mod digest;
pub mod goduration;
pub mod image;
pub mod mounts;
pub mod names;
pub mod network_api;
pub mod reference;
pub mod units;
pub mod volume_api;

/// The Docker Engine API version berth speaks.
pub const API_VERSION: &str = "1.41";
/// The oldest API version berth accepts from clients.
pub const MIN_API_VERSION: &str = "1.12";
