//! Environment capture of containers and images (berth's extension):
//! the installed packages read from a container's layers and upper dir, or
//! an image's layers, without mounting anything (a running container's
//! upper dir is read beside its live mount). See `berth_envcapture`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use berth_envcapture::{capture, diff, EnvDiff, Environment, RootFs};
use berth_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::{blocking, Engine};

/// The label `commit` records the environment changes in.
pub const ENV_LABEL: &str = "io.berth.env";

/// Labels larger than this keep only counts, not package lists.
const MAX_LABEL: usize = 256 << 10;

/// What `commit` records in [`ENV_LABEL`]: the image the container ran
/// and the package changes the container made over it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedEnv {
    /// The image the container was created from (ID).
    pub base: String,
    /// The changes (empty lists when `truncated`).
    pub changes: EnvDiff,
    /// The lists were too large for a label: only `counts` is kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Package counts per changed collection (`dpkg /: +3 -0 ^1 v0`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, String>,
}

fn image_root(store: &Store, image_id: &str, upper: Option<PathBuf>) -> Result<RootFs> {
    let mut dirs: Vec<PathBuf> = store.layer_dirs(image_id)?;
    dirs.reverse();
    if let Some(u) = upper {
        dirs.insert(0, u);
    }
    RootFs::layered(&dirs).map_err(|e| EngineError::system(e.to_string()))
}

impl Engine {
    /// `GET /berth/env/{name}`: the environment of a container (its image
    /// layers and upper dir) or, with `image`, of an image.
    pub async fn env_capture(self: &Arc<Self>, name: &str, image: bool) -> Result<Environment> {
        let store = self.store();
        if image {
            let id = store.resolve(name)?;
            return blocking(move || Ok(capture(&image_root(&store, &id, None)?))).await;
        }
        let c = self.lookup(name)?;
        let image_id = c.snapshot().image_id;
        let upper = c.dir.join("upper");
        blocking(move || Ok(capture(&image_root(&store, &image_id, Some(upper))?))).await
    }

    /// The [`ENV_LABEL`] value for a commit of `c`: its package changes
    /// over its image, or `None` when it changed no package.
    pub(crate) async fn env_label(
        self: &Arc<Self>,
        name: &str,
        image_id: &str,
    ) -> Result<Option<String>> {
        let current = self.env_capture(name, false).await?;
        let base = self.env_capture(image_id, true).await?;
        let changes = diff(&base, &current);
        if changes.is_empty() {
            return Ok(None);
        }
        label_json(image_id, changes).map(Some)
    }
}

/// The [`ENV_LABEL`] JSON: the base image and the changes, or only counts
/// per collection when the lists would exceed [`MAX_LABEL`].
fn label_json(base: &str, changes: EnvDiff) -> Result<String> {
    let mut rec = RecordedEnv {
        base: base.to_string(),
        changes,
        truncated: false,
        counts: BTreeMap::new(),
    };
    let json = serde_json::to_string(&rec).map_err(|e| EngineError::system(e.to_string()))?;
    if json.len() <= MAX_LABEL {
        return Ok(json);
    }
    for c in std::mem::take(&mut rec.changes.collections) {
        rec.counts.insert(
            format!("{} {}", c.ecosystem.name(), c.location),
            format!(
                "+{} -{} ^{} v{}",
                c.added.len(),
                c.removed.len(),
                c.upgraded.len(),
                c.downgraded.len()
            ),
        );
    }
    rec.truncated = true;
    serde_json::to_string(&rec).map_err(|e| EngineError::system(e.to_string()))
}

/// Record the container's package changes in `config`'s labels for
/// `commit` (best effort: a capture failure never fails the commit).
pub(crate) async fn record_in(
    engine: &Arc<Engine>,
    name: &str,
    image_id: &str,
    config: &mut berth_spec::api::ContainerConfig,
) {
    match engine.env_label(name, image_id).await {
        Ok(Some(label)) => {
            config
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(ENV_LABEL.to_string(), label);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("commit {name}: environment not recorded: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_envcapture::{CollectionDiff, Ecosystem, Package, Place};

    fn changes(n: usize) -> EnvDiff {
        EnvDiff {
            collections: vec![CollectionDiff {
                ecosystem: Ecosystem::Pip,
                location: "/opt/venv".into(),
                place: Place::Venv,
                interpreter: None,
                added: (0..n)
                    .map(|i| Package::new(format!("package-number-{i}"), "1.0.0"))
                    .collect(),
                removed: vec![],
                upgraded: vec![],
                downgraded: vec![],
            }],
        }
    }

    #[test]
    fn small_labels_keep_the_lists_large_ones_only_counts() {
        let small: RecordedEnv =
            serde_json::from_str(&label_json("sha256:b", changes(2)).unwrap()).unwrap();
        assert_eq!(small.base, "sha256:b");
        assert!(!small.truncated);
        assert_eq!(small.changes.collections[0].added.len(), 2);
        let big_json = label_json("sha256:b", changes(20_000)).unwrap();
        assert!(big_json.len() < 1024, "{}", big_json.len());
        let big: RecordedEnv = serde_json::from_str(&big_json).unwrap();
        assert!(big.truncated);
        assert!(big.changes.collections.is_empty());
        assert_eq!(big.counts["pip /opt/venv"], "+20000 -0 ^0 v0");
    }
}
