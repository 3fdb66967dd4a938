//! Typed helpers for the `/images` endpoints.

use berth_spec::api::{HistoryItem, ImageDeleteItem, ImageSummary, PruneResponse};
use hyper::Method;

use crate::client::{Client, JsonStream};
use crate::error::Result;
use crate::query::{encode, Filters, Query};
use crate::transport::{RawStream, ReqBody};

/// Options of `POST /images/create?fromSrc=-` (import).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Repository to tag the result with (may be empty).
    pub repo: String,
    /// Tag (may be empty).
    pub tag: String,
    /// Commit message.
    pub message: String,
    /// Dockerfile instructions (`--change`).
    pub changes: Vec<String>,
}

fn ipath(name: &str, rest: &str) -> String {
    format!("/images/{}{}", encode(name), rest)
}

impl Client {
    /// `GET /images/json`.
    pub async fn images_list(
        &self,
        all: bool,
        digests: bool,
        filters: &Filters,
    ) -> Result<Vec<ImageSummary>> {
        let mut q = Query::new();
        q.flag("all", all).flag("digests", digests).filters(filters);
        let list: Option<Vec<ImageSummary>> = self.get_json(&q.apply("/images/json")).await?;
        Ok(list.unwrap_or_default())
    }

    /// `GET /images/{name}/history`.
    pub async fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        self.get_json(&ipath(name, "/history")).await
    }

    /// `POST /images/{name}/tag?repo=&tag=`.
    pub async fn image_tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        let mut q = Query::new();
        q.push("repo", repo);
        if !tag.is_empty() {
            q.push("tag", tag);
        }
        self.call(Method::POST, &q.apply(&ipath(name, "/tag")))
            .await?;
        Ok(())
    }

    /// `DELETE /images/{name}?force&noprune`.
    pub async fn image_remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<ImageDeleteItem>> {
        let mut q = Query::new();
        q.flag("force", force).flag("noprune", noprune);
        let (_, body) = self
            .call(Method::DELETE, &q.apply(&ipath(name, "")))
            .await?;
        let items: Option<Vec<ImageDeleteItem>> = serde_json::from_slice(&body)?;
        Ok(items.unwrap_or_default())
    }

    /// `POST /images/create?fromSrc=-` with the tarball as body.
    pub async fn image_import(&self, body: ReqBody, opts: &ImportOptions) -> Result<JsonStream> {
        let mut q = Query::new();
        q.push("fromSrc", "-");
        if !opts.repo.is_empty() {
            q.push("repo", &opts.repo);
        }
        if !opts.tag.is_empty() {
            q.push("tag", &opts.tag);
        }
        if !opts.message.is_empty() {
            q.push("message", &opts.message);
        }
        for c in &opts.changes {
            q.push("changes", c);
        }
        self.json_stream(
            Method::POST,
            &q.apply("/images/create"),
            body,
            "application/x-tar",
        )
        .await
    }

    /// `POST /images/load?quiet=`.
    pub async fn image_load(&self, body: ReqBody, quiet: bool) -> Result<JsonStream> {
        let mut q = Query::new();
        q.push("quiet", if quiet { "1" } else { "0" });
        self.json_stream(
            Method::POST,
            &q.apply("/images/load"),
            body,
            "application/x-tar",
        )
        .await
    }

    /// `GET /images/get?names=...` as a tar stream.
    pub async fn image_save(&self, names: &[String]) -> Result<RawStream> {
        let mut q = Query::new();
        for n in names {
            q.push("names", n);
        }
        self.stream(Method::GET, &q.apply("/images/get")).await
    }

    /// `POST /images/prune`.
    pub async fn images_prune(&self, filters: &Filters) -> Result<PruneResponse> {
        let mut q = Query::new();
        q.filters(filters);
        let (_, body) = self.call(Method::POST, &q.apply("/images/prune")).await?;
        Ok(serde_json::from_slice(&body)?)
    }
}
