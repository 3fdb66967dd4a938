//! berth-store: the content-addressed image store.
//!
//! Layout of the store's directory (normally `<data-root>/image`):
//!
//! ```text
//! blobs/sha256/<hex>          config blobs and uncompressed layer tars (by diff ID)
//! layers/<diff-id-hex>/diff/  the unpacked layer (an overlay lower dir)
//! layers/<diff-id-hex>/size   its size in bytes (Docker's definition)
//! images/<id-hex>.json        image record: parent, tag time (written last)
//! repositories.json           tags: full reference -> image ID
//! tmp/                        work area; emptied on open
//! ```
//!
//! Every write is atomic (temp file in the same directory, fsync, rename,
//! fsync of the directory), and the order is blobs, layers, image record,
//! tags: a crash at any point leaves no half-visible image.
//!
//! [`Store`] is `Send + Sync`; share it with an `Arc`.

mod atomic;
mod blobs;
mod commit;
mod error;
pub mod fs;
mod import;
mod layers;
mod load;
mod meta;
mod query;
mod remove;
mod save;
mod store;

pub use error::{ErrorKind, StoreError};
pub use store::{CommitOptions, ImportOptions, Store};
