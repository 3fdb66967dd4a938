//! Typed helpers for the `/volumes` endpoints.

use berth_spec::volume_api::{
    Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
};
use hyper::Method;

use crate::client::Client;
use crate::error::Result;
use crate::query::{encode, Filters, Query};

fn vpath(name: &str) -> String {
    format!("/volumes/{}", encode(name))
}

impl Client {
    /// `GET /volumes?filters=`.
    pub async fn volumes_list(&self, filters: &Filters) -> Result<VolumeListResponse> {
        let mut q = Query::new();
        q.filters(filters);
        self.get_json(&q.apply("/volumes")).await
    }

    /// `POST /volumes/create`.
    pub async fn volume_create(&self, req: &VolumeCreateRequest) -> Result<Volume> {
        self.post_json("/volumes/create", req).await
    }

    /// `GET /volumes/{name}` decoded.
    pub async fn volume_inspect(&self, name: &str) -> Result<Volume> {
        self.get_json(&vpath(name)).await
    }

    /// `GET /volumes/{name}` as the daemon's raw JSON.
    pub async fn volume_inspect_raw(&self, name: &str) -> Result<serde_json::Value> {
        self.get_json(&vpath(name)).await
    }

    /// `DELETE /volumes/{name}?force=`.
    pub async fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let mut q = Query::new();
        q.flag("force", force);
        self.call(Method::DELETE, &q.apply(&vpath(name))).await?;
        Ok(())
    }

    /// `POST /volumes/prune?filters=`.
    pub async fn volumes_prune(&self, filters: &Filters) -> Result<VolumePruneResponse> {
        let mut q = Query::new();
        q.filters(filters);
        let (_, body) = self.call(Method::POST, &q.apply("/volumes/prune")).await?;
        Ok(serde_json::from_slice(&body)?)
    }
}
