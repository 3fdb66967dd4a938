//! Typed helpers for `/version` and `/info`.

use berth_spec::api::VersionResponse;
use serde_json::Value;

use crate::client::Client;
use crate::error::Result;

impl Client {
    /// `GET /version`.
    pub async fn version(&self) -> Result<VersionResponse> {
        self.get_json("/version").await
    }

    /// `GET /info` as raw JSON (the model is large and grows with berth's
    /// own fields such as `BerthDaemonLog`).
    pub async fn info(&self) -> Result<Value> {
        self.get_json("/info").await
    }
}
