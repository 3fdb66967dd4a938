//! The registry endpoints of the Engine API: pull (`POST /images/create?fromImage=`),
//! push (`POST /images/{name}/push`), login (`POST /auth`), search
//! (`GET /images/search`) and `GET /distribution/{name}/json`. Pull and
//! push answer with a JSON progress stream ([`MessageStream`]).

use hyper::Method;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthConfig, AuthenticateOk};
use crate::client::Client;
use crate::error::Result;
use crate::message::MessageStream;
use crate::query::{encode, Filters, Query};
use crate::transport::{empty_body, read_body};

/// The header carrying registry credentials.
pub const REGISTRY_AUTH_HEADER: &str = "X-Registry-Auth";

/// Options of a pull, sent as the docker CLI 20.10 sends them.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The repository in its familiar form (`busybox`, `127.0.0.1:5000/x`): `fromImage`.
    pub image: String,
    /// A tag or a digest (`tag`); empty with `all_tags`.
    pub tag: String,
    /// Pull every tag of the repository (no `tag` parameter is sent).
    pub all_tags: bool,
    /// `os[/arch[/variant]]` (`platform`), lower-cased.
    pub platform: Option<String>,
    /// The `X-Registry-Auth` value.
    pub registry_auth: Option<String>,
}

impl PullOptions {
    /// The request path with its query.
    pub fn path(&self) -> String {
        let mut q = Query::new();
        q.push("fromImage", &self.image);
        if !self.all_tags {
            q.push("tag", &self.tag);
        }
        if let Some(p) = self.platform.as_deref().filter(|p| !p.is_empty()) {
            q.push("platform", p.to_lowercase());
        }
        q.apply("/images/create")
    }
}

/// One result of `GET /images/search`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchResult {
    /// Stars on the registry.
    pub star_count: i64,
    /// An official image.
    pub is_official: bool,
    /// The repository name.
    pub name: String,
    /// Built automatically (legacy).
    pub is_automated: bool,
    /// The repository's description.
    pub description: String,
}

/// Options of `GET /images/search`.
#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    /// The search term (`term`).
    pub term: String,
    /// Maximum number of results (`limit`); `None` leaves the daemon's default.
    pub limit: Option<i64>,
    /// `is-official`, `is-automated`, `stars` filters.
    pub filters: Filters,
    /// The `X-Registry-Auth` value.
    pub registry_auth: Option<String>,
}

/// The manifest descriptor of `GET /distribution/{name}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Descriptor {
    /// The manifest's media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: i64,
}

/// The answer of `GET /distribution/{name}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributionInspect {
    /// The manifest (or index) the name resolves to.
    #[serde(rename = "Descriptor")]
    pub descriptor: Descriptor,
    /// The platforms it is available for.
    #[serde(rename = "Platforms")]
    pub platforms: Vec<serde_json::Value>,
}

fn auth_headers(auth: &Option<String>) -> Vec<(&str, &str)> {
    auth.as_deref()
        .map(|a| vec![(REGISTRY_AUTH_HEADER, a)])
        .unwrap_or_default()
}

impl Client {
    /// Pull: `POST /images/create?fromImage=&tag=&platform=`.
    pub async fn image_pull(&self, opts: &PullOptions) -> Result<MessageStream> {
        self.message_stream(&opts.path(), &auth_headers(&opts.registry_auth))
            .await
    }

    /// Push: `POST /images/{name}/push?tag=` (no tag: every tag of `name`).
    pub async fn image_push(
        &self,
        name: &str,
        tag: Option<&str>,
        registry_auth: &str,
    ) -> Result<MessageStream> {
        let mut q = Query::new();
        q.opt("tag", tag);
        let path = q.apply(&format!("/images/{}/push", encode(name)));
        self.message_stream(&path, &[(REGISTRY_AUTH_HEADER, registry_auth)])
            .await
    }

    /// Check credentials against a registry: `POST /auth`.
    pub async fn registry_login(&self, auth: &AuthConfig) -> Result<AuthenticateOk> {
        self.post_json("/auth", auth).await
    }

    /// `GET /images/search?term=&limit=&filters=`.
    pub async fn image_search(&self, opts: &SearchOptions) -> Result<Vec<SearchResult>> {
        let mut q = Query::new();
        q.push("term", &opts.term);
        if let Some(l) = opts.limit {
            q.push("limit", l.to_string());
        }
        q.filters(&opts.filters);
        let resp = self
            .request(
                Method::GET,
                &q.apply("/images/search"),
                empty_body(),
                &auth_headers(&opts.registry_auth),
            )
            .await?;
        let body = read_body(resp).await?;
        let list: Option<Vec<SearchResult>> = serde_json::from_slice(&body)?;
        Ok(list.unwrap_or_default())
    }

    /// `GET /distribution/{name}/json`: the manifest a name resolves to on its registry.
    pub async fn distribution_inspect(
        &self,
        name: &str,
        registry_auth: Option<&str>,
    ) -> Result<DistributionInspect> {
        let path = format!("/distribution/{}/json", encode(name));
        let headers: Vec<(&str, &str)> = registry_auth
            .map(|a| vec![(REGISTRY_AUTH_HEADER, a)])
            .unwrap_or_default();
        let resp = self
            .request(Method::GET, &path, empty_body(), &headers)
            .await?;
        let body = read_body(resp).await?;
        Ok(serde_json::from_slice(&body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_query_as_docker_sends_it() {
        let o = PullOptions {
            image: "127.0.0.1:5000/x".into(),
            tag: "1".into(),
            platform: Some("Linux/AMD64".into()),
            ..Default::default()
        };
        assert_eq!(
            o.path(),
            "/images/create?fromImage=127.0.0.1%3A5000%2Fx&tag=1&platform=linux%2Famd64"
        );
        let all = PullOptions {
            image: "busybox".into(),
            all_tags: true,
            ..Default::default()
        };
        assert_eq!(all.path(), "/images/create?fromImage=busybox");
    }

    #[test]
    fn search_results_decode() {
        let r: Vec<SearchResult> = serde_json::from_str(
            r#"[{"star_count":3,"is_official":true,"name":"busybox","is_automated":false,"description":"d"}]"#,
        )
        .unwrap();
        assert_eq!(r[0].name, "busybox");
        assert!(r[0].is_official);
    }
}
