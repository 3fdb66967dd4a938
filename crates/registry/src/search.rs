//! `GET /v1/search` of a registry's index, as dockerd searches one (Docker Hub's search API;
//! private registries that do not serve it answer 404).

use std::io::Read;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::auth::AuthConfig;
use crate::error::{RegistryError, Result};
use crate::session::{query_escape, Access, Registry, SendBody, Session};

/// One result of a v1 search.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct V1SearchResult {
    /// `namespace/repository`.
    pub name: String,
    /// The repository's description.
    #[serde(default)]
    pub description: String,
    /// Stars.
    #[serde(default)]
    pub star_count: i64,
    /// Official image.
    #[serde(default)]
    pub is_official: bool,
    /// Automated build.
    #[serde(default)]
    pub is_automated: bool,
}

/// Most bytes of a search answer read.
const MAX_SEARCH: u64 = 8 << 20;

impl Registry {
    /// Searches the index of the registry of `domain` for `term` (at most `limit` results);
    /// `None` when the registry has no v1 search (404).
    pub fn search_v1(
        self: &Arc<Self>,
        domain: &str,
        term: &str,
        limit: usize,
        auth: &AuthConfig,
        cancel: Arc<AtomicBool>,
    ) -> Result<Option<Vec<V1SearchResult>>> {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            results: Vec<V1SearchResult>,
        }
        let s = self.session(domain, "", auth, Access::Pull, cancel)?;
        let url = format!(
            "{}/v1/search?q={}&n={limit}",
            s.endpoint().base,
            query_escape(term)
        );
        let resp = s.send("GET", &url, &[], SendBody::Empty)?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Session::status_error(resp));
        }
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_SEARCH + 1)
            .read_to_end(&mut body)
            .map_err(|e| RegistryError::Connect(format!("reading the search results: {e}")))?;
        if body.len() as u64 > MAX_SEARCH {
            return Err(RegistryError::Protocol("search results too large".into()));
        }
        let a: Answer = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Protocol(format!("invalid search results: {e}")))?;
        Ok(Some(a.results))
    }
}
