//! The tags of a repository on its registry (`pull --all-tags`).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use berth_registry::{Access, AuthConfig};
use berth_spec::reference::Reference;

use super::errors::pull_error;
use crate::error::Result;
use crate::Engine;

impl Engine {
    /// The tags of `repo` (a reference without tag or digest), in the registry's order.
    /// Blocking.
    pub fn list_tags(
        &self,
        repo: &Reference,
        auth: &AuthConfig,
        cancel: Arc<AtomicBool>,
    ) -> Result<Vec<String>> {
        let (registry, _) = self.registry.get();
        let session = registry
            .session(repo.domain(), repo.path(), auth, Access::Pull, cancel)
            .map_err(|e| pull_error(repo, e))?;
        session.list_tags().map_err(|e| pull_error(repo, e))
    }
}
