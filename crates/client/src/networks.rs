//! Typed helpers for the `/networks` endpoints.

use berth_spec::network_api::{
    Network, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkPruneResponse,
};
use hyper::Method;

use crate::client::Client;
use crate::error::Result;
use crate::query::{encode, Filters, Query};
use crate::transport::{full_body, read_body};

fn npath(name: &str, rest: &str) -> String {
    format!("/networks/{}{}", encode(name), rest)
}

impl Client {
    /// `GET /networks?filters=`.
    pub async fn networks_list(&self, filters: &Filters) -> Result<Vec<Network>> {
        let mut q = Query::new();
        q.filters(filters);
        let list: Option<Vec<Network>> = self.get_json(&q.apply("/networks")).await?;
        Ok(list.unwrap_or_default())
    }

    /// `GET /networks/{id}` decoded.
    pub async fn network_inspect(&self, name: &str) -> Result<Network> {
        self.get_json(&npath(name, "")).await
    }

    /// `GET /networks/{id}` as the daemon's raw JSON text (for `inspect`,
    /// which keeps the daemon's key order).
    pub async fn network_inspect_raw(&self, name: &str) -> Result<String> {
        let (_, body) = self.call(Method::GET, &npath(name, "")).await?;
        Ok(String::from_utf8_lossy(&body).trim().to_string())
    }

    /// `POST /networks/create`.
    pub async fn network_create(
        &self,
        req: &NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse> {
        self.post_json("/networks/create", req).await
    }

    /// `DELETE /networks/{id}`.
    pub async fn network_remove(&self, name: &str) -> Result<()> {
        self.call(Method::DELETE, &npath(name, "")).await?;
        Ok(())
    }

    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(&self, name: &str, req: &NetworkConnectRequest) -> Result<()> {
        self.post_no_answer(&npath(name, "/connect"), req).await
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        &self,
        name: &str,
        req: &NetworkDisconnectRequest,
    ) -> Result<()> {
        self.post_no_answer(&npath(name, "/disconnect"), req).await
    }

    /// `POST /networks/prune?filters=`.
    pub async fn networks_prune(&self, filters: &Filters) -> Result<NetworkPruneResponse> {
        let mut q = Query::new();
        q.filters(filters);
        let (_, body) = self.call(Method::POST, &q.apply("/networks/prune")).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// POST a JSON body to an endpoint whose answer carries nothing useful
    /// (dockerd answers 200 with an empty body or `OK`).
    async fn post_no_answer<B: serde::Serialize>(&self, path: &str, body: &B) -> Result<()> {
        let data = serde_json::to_vec(body)?;
        let resp = self
            .request(
                Method::POST,
                path,
                full_body(data),
                &[("Content-Type", "application/json")],
            )
            .await?;
        drop(read_body(resp).await?);
        Ok(())
    }
}
