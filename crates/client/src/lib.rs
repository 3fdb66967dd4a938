//! berth-client: a typed client of the Docker Engine API (v1.41) over a
//! unix socket, used by the `berth` CLI and usable against any dockerd.
//!
//! - [`Client`] negotiates the API version (`/_ping`), sends requests on a
//!   fresh connection each (cheap on a local socket) and turns error
//!   statuses into [`ClientError::Daemon`].
//! - Bodies stream both ways: [`reader_body`] uploads from any reader,
//!   [`RawStream`] downloads chunk by chunk.
//! - [`MuxDecoder`] splits Docker's multiplexed stdout/stderr frames;
//!   [`JsonStream`] reads import/load progress messages.
//! - [`JsonMessage`]/[`MessageStream`]: pull and push progress; [`AuthConfig`]
//!   and [`credentials`]: the docker CLI's `config.json` and credential helpers.
//! - [`Client::container_attach`] hijacks the connection (`Upgrade: tcp`).

mod auth;
mod build;
mod client;
mod containers;
pub mod credentials;
mod envcap;
mod error;
mod events;
mod exec;
mod images;
mod jsonstream;
mod message;
mod mux;
mod networks;
mod query;
mod registry;
mod stats;
mod system;
mod transport;
mod volumes;

pub use auth::{convert_to_hostname, AuthConfig, AuthenticateOk, INDEX_SERVER};
pub use build::{BuildDecoder, BuildFailure, BuildMessage, BuildOptions, BuildStream};
pub use client::{version_less, Client, JsonStream, Ping};
pub use containers::{CommitOptions, ListOptions, LogsOptions, PathStat, WaitHandle};
pub use error::{ClientError, Result};
pub use events::{EventStream, EventsOptions};
pub use exec::{
    split_upgraded, AttachOptions, ExecConfig, ExecInspect, ExecStartConfig, UpgradedRead,
    UpgradedWrite,
};
pub use hyper::Method;
pub use images::ImportOptions;
pub use jsonstream::{message_error, JsonStreamDecoder};
pub use message::{JsonError, JsonMessage, JsonProgress, MessageStream};
pub use mux::{encode_frame, BadFrame, Frame, MuxDecoder, StreamKind};
pub use query::{encode, Filters, Query};
pub use registry::{
    Descriptor, DistributionInspect, PullOptions, SearchOptions, SearchResult, REGISTRY_AUTH_HEADER,
};
pub use stats::{
    parse_stats, BlkioEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats,
    Stats, StatsStream, UpdateConfig,
};
pub use transport::{
    channel_body, empty_body, file_body, full_body, parse_host, read_body, reader_body, RawStream,
    ReqBody,
};
