//! `pause` / `unpause`: freeze and thaw every process of a container through
//! the freezer (v1 `freezer.state`, v2 `cgroup.freeze`), via libcgroups.
//! Safe to call from a multi-threaded process (file writes only).

use std::path::Path;

use libcgroups::common::{CgroupManager, FreezerState};

use crate::error::RuntimeError;
use crate::spec::ContainerSpec;

fn freeze(container_dir: &Path, state: FreezerState) -> Result<(), RuntimeError> {
    let (manager, _, path) = crate::cgroup::manager_for(container_dir)?;
    manager
        .freeze(state)
        .map_err(|e| RuntimeError::Resources(format!("freezer of {path}: {e}")))
}

/// Freeze all processes of the running container in `container_dir`.
pub fn pause(container_dir: &Path) -> Result<(), RuntimeError> {
    freeze(container_dir, FreezerState::Frozen)
}

/// Thaw the container in `container_dir`.
pub fn unpause(container_dir: &Path) -> Result<(), RuntimeError> {
    freeze(container_dir, FreezerState::Thawed)
}

/// Whether the container's cgroup is frozen (false when it has no freezer cgroup).
pub fn is_paused(container_dir: &Path) -> Result<bool, RuntimeError> {
    let spec = ContainerSpec::load(container_dir)?;
    let path = crate::cgroup::cgroup_path(&spec.cgroup_parent, &spec.id);
    let Some(dir) = crate::cgroup::controller_dir("freezer", &path) else {
        return Ok(false);
    };
    if crate::cgroup::is_unified() {
        let text = std::fs::read_to_string(dir.join("cgroup.freeze")).unwrap_or_default();
        Ok(text.trim() == "1")
    } else {
        let text = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
        Ok(text.trim() == "FROZEN")
    }
}
