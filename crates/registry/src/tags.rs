//! `GET /v2/<name>/tags/list`: the tags of a repository (`pull --all-tags`, private search).

use std::io::Read;

use crate::error::{RegistryError, Result};
use crate::session::{SendBody, Session};

/// Most bytes of a tag list read (a repository with tens of thousands of tags fits).
const MAX_TAG_LIST: u64 = 4 << 20;

impl Session {
    /// The repository's tags, in the registry's order.
    pub fn list_tags(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let url = self.url("tags/list");
        let resp = self.send("GET", &url, &[], SendBody::Empty)?;
        if !resp.status().is_success() {
            return Err(Session::status_error(resp));
        }
        let mut bytes = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_TAG_LIST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Connect(format!("reading the tag list: {e}")))?;
        if bytes.len() as u64 > MAX_TAG_LIST {
            return Err(RegistryError::Protocol(format!(
                "tag list too large: more than {MAX_TAG_LIST} bytes"
            )));
        }
        let list: TagList = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Protocol(format!("invalid tag list: {e}")))?;
        Ok(list.tags.unwrap_or_default())
    }
}
