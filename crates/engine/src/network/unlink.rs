//! `DELETE /containers/{linker}/{alias}?link=true`: remove a legacy link from the container
//! that holds it (dockerd's `rmLink`); no container is removed.

use std::sync::Arc;

use super::links;
use crate::error::{EngineError, Result};
use crate::Engine;

impl Engine {
    /// Remove the link `linker/alias` (the name dockerd gives a link) from container `linker`.
    /// A plain container name is dockerd's "default link name", which cannot be removed.
    pub async fn remove_link(self: &Arc<Self>, name: &str) -> Result<()> {
        let no_such = || EngineError::not_found(format!("No such container: {name}"));
        let trimmed = name.trim_start_matches('/');
        let Some((linker, alias)) = trimmed.rsplit_once('/') else {
            self.lookup(trimmed)?;
            return Err(EngineError::system(
                "Conflict, cannot remove the default link name of the container",
            ));
        };
        let c = self.lookup(linker).map_err(|_| no_such())?;
        let removed = c.update(|r| {
            let Some(list) = r.host_config.links.as_mut() else {
                return false;
            };
            let before = list.len();
            list.retain(|l| links::parse(l).map(|l| l.alias != alias).unwrap_or(true));
            before != list.len()
        })?;
        if removed {
            Ok(())
        } else {
            Err(no_such())
        }
    }
}
