//! `docker commit`: an overlay upper dir becomes a new layer on top of the
//! container's image.

use crate::error::StoreError;
use crate::import::{finish_image, DOCKER_VERSION};
use crate::layers::{ingest, PinGuard};
use crate::meta::{now, ImageRecord};
use crate::query::entry;
use crate::remove::parse_tag_target;
use crate::{CommitOptions, Store};
use berth_spec::image::{apply_changes, History, ImageConfig, RootFs};
use std::collections::HashSet;
use std::io::BufWriter;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Whether `dir` has anything (outside `exclude`) to put in a layer.
fn has_changes(dir: &Path, exclude: &HashSet<PathBuf>) -> Result<bool, StoreError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(StoreError::Io {
                context: "reading upper dir",
                path: dir.to_path_buf(),
                source: e,
            })
        }
    };
    for e in rd.flatten() {
        if !exclude.contains(Path::new(&e.file_name())) {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn commit(
    store: &Store,
    parent: &str,
    upper: &Path,
    opts: &CommitOptions,
) -> Result<String, StoreError> {
    let tag = match &opts.tag {
        Some(t) if !t.is_empty() => Some(parse_tag_target(t)?),
        _ => None,
    };
    let mut config = opts
        .image_config
        .clone()
        .unwrap_or_else(|| opts.config.clone());
    apply_changes(&mut config, &opts.changes)?;
    let (parent_id, base) = if parent.is_empty() {
        // No parent (`FROM scratch`): an empty base.
        let base = ImageConfig {
            architecture: berth_spec::image::go_arch().to_string(),
            os: "linux".into(),
            ..ImageConfig::default()
        };
        (String::new(), base)
    } else {
        let st = store.lock();
        let e = entry(&st, parent)?;
        (e.id.to_string(), e.config.clone())
    };
    let mut pins = PinGuard::new(store);
    {
        // Keep the parent's layers while we work.
        let mut st = store.lock();
        st.pin(&base.rootfs.diff_ids);
    }
    pins.diffs.extend(base.rootfs.diff_ids.iter().cloned());

    let exclude: HashSet<PathBuf> = opts.exclude.iter().cloned().collect();
    let mut diff_ids = base.rootfs.diff_ids.clone();
    let empty_layer = !has_changes(upper, &exclude)?;
    if !empty_layer {
        // Tar in one thread, ingest (hash + store + extract) in this one.
        let (rx, tx) = UnixStream::pair().map_err(|e| StoreError::Io {
            context: "creating pipe for",
            path: upper.to_path_buf(),
            source: e,
        })?;
        let upper_owned = upper.to_path_buf();
        let excl: Vec<PathBuf> = opts.exclude.clone();
        let clamp = opts.clamp_mtime.map(|t| t.max(0) as u64);
        let writer = std::thread::spawn(move || {
            let out = BufWriter::with_capacity(256 * 1024, tx);
            crate::fs::tar_layer_clamped(&upper_owned, &excl, clamp, out).and_then(|mut w| {
                std::io::Write::flush(&mut w).map_err(|e| StoreError::Io {
                    context: "writing layer tar of",
                    path: upper_owned.clone(),
                    source: e,
                })
            })
        });
        let ingested = ingest(store, rx, None);
        let written = writer
            .join()
            .map_err(|_| StoreError::Corrupt("layer tar writer panicked".into()))?;
        // The reader's error explains a writer's broken pipe: report it first.
        let layer = ingested?;
        written?;
        pins.diffs.push(layer.diff_id.clone());
        diff_ids.push(layer.diff_id);
    }

    let created = opts.created.clone().unwrap_or_else(now);
    let created_by = opts.config.cmd.clone().unwrap_or_default().join(" ");
    let mut history = base.history.clone();
    history.push(History {
        created: created.clone(),
        author: opts.author.clone(),
        created_by,
        comment: opts.comment.clone(),
        empty_layer,
    });
    let image = ImageConfig {
        architecture: base.architecture.clone(),
        author: opts.author.clone(),
        comment: opts.comment.clone(),
        config: Some(config),
        container: opts.container_id.clone(),
        container_config: Some(opts.config.clone()),
        created,
        docker_version: DOCKER_VERSION.to_string(),
        history,
        os: if base.os.is_empty() {
            "linux".into()
        } else {
            base.os.clone()
        },
        parent: parent_id.to_string(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids,
        },
        variant: base.variant.clone(),
        ..ImageConfig::default()
    };
    let record = ImageRecord {
        parent: parent_id.to_string(),
        ..ImageRecord::default()
    };
    let id = finish_image(store, &image, record, tag.as_ref())?;
    drop(pins);
    Ok(id)
}
