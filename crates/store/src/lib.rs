//! berth-store: the content-addressed image store.
//!
//! Layout of the store's directory (normally `<data-root>/image`):
//!
//! ```text
//! blobs/sha256/<hex>          image config blobs
//! layers/<diff-id-hex>/diff/  the unpacked layer (an overlay lower dir)
//! layers/<diff-id-hex>/size   its size in bytes (Docker's definition)
//! layers/<diff-id-hex>/tar-*  what it takes to give back the exact layer
//!                             tar without storing it twice (see split.rs)
//! images/<id-hex>.json        image record: parent, tag time (written last)
//! repositories.json           tags: full reference -> image ID
//! tmp/                        work area; emptied on open
//! ```
//!
//! Every write is atomic (temp file in the same directory, fsync, rename,
//! fsync of the directory), and the order is layers, config blob, image
//! record, tags: a crash at any point leaves no half-visible image. A layer
//! is unpacked in a temporary directory that is renamed into place when
//! complete. Its file contents are left to the kernel's writeback (as
//! Docker does; an fsync of every file would double the load time); their
//! integrity is checked against the diff ID whenever the layer is saved.
//!
//! [`Store`] is `Send + Sync`; share it with an `Arc`.

mod atomic;
mod blobs;
mod commit;
pub mod decompress;
mod error;
pub mod fs;
mod import;
mod layers;
mod load;
mod meta;
mod oci_out;
mod pull;
mod query;
mod remove;
mod save;
mod split;
mod store;

pub use error::{ErrorKind, StoreError};
pub use pull::{DistributionSource, LayerIntake, Registered};
pub use store::{CommitOptions, ImportOptions, Store};
