//! berth-registry: the client side of the OCI distribution protocol, as
//! Docker speaks it. No HTTP server and no CLI here: the engine drives it.
//!
//! - [`Registry`]: the daemon's settings (`--insecure-registry`,
//!   `--registry-mirror`, `certs.d` directories) and a cache of bearer
//!   tokens per scope until they expire.
//! - [`Session`]: one repository on one registry. Opening one pings
//!   `/v2/` on each endpoint in Docker's order (mirrors for Docker Hub;
//!   for 127.0.0.0/8, `localhost` and `--insecure-registry` hosts HTTPS
//!   without verification, then plain HTTP) and keeps the challenge the
//!   registry answered with (`Bearer` token server or `Basic` realm).
//! - Manifests ([`manifest`]): Docker schema 2 and manifest lists, OCI
//!   manifests and indexes, platform choice, digest pinning, a 4 MiB limit.
//! - Blobs ([`blob`]): streamed, verified, resumed with `Range`; HEAD,
//!   cross-repository mounts, chunked and monolithic uploads.
//!
//! HTTP stack: `ureq` (rustls). It was chosen over reqwest because pulls
//! feed the store's extractor, which is synchronous `Read` code running on
//! its own threads: a blocking client streams a layer straight from the
//! socket through sha256 and the decompressor into the extractor with no
//! async/sync bridge, and it is already in the workspace (no second TLS and
//! HTTP stack in the binary). It gives what registries need: custom roots
//! and client certificates per host, disabled verification for insecure
//! registries, proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`,
//! streaming request and response bodies, per-read timeouts. `oci-client`
//! does not fit (whole layers in memory, no progress hooks, no identity
//! tokens, no mount scopes).

pub mod auth;
pub mod blob;
pub mod challenge;
pub mod endpoint;
pub mod error;
pub mod manifest;
mod search;
mod session;
mod tags;

pub use auth::AuthConfig;
pub use blob::{BlobReader, Mount};
pub use endpoint::{Endpoint, RegistryOptions, HUB_AUTH_KEY, HUB_HOST};
pub use error::{RegistryError, RegistryErrorEntry, RegistryErrors, Result};
pub use manifest::{FetchedManifest, Parsed, PlatformSpec};
pub use search::V1SearchResult;
pub use session::{query_escape, Access, Registry, Session};
