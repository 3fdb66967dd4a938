//! `docker import`: a rootfs tarball becomes a one-layer image.

use crate::blobs::put_blob;
use crate::error::StoreError;
use crate::layers::{decompressed, ingest, PinGuard};
use crate::meta::{go_time, now, ImageRecord};
use crate::{ImportOptions, Store};
use berth_spec::api::ContainerConfig;
use berth_spec::image::{apply_changes, go_arch, History, ImageConfig, RootFs};
use berth_spec::reference::Reference;
use std::io::{BufReader, Read};

/// What berth writes as `docker_version` in the configs it creates.
pub(crate) const DOCKER_VERSION: &str = concat!("berth-", env!("CARGO_PKG_VERSION"));

pub(crate) fn import_rootfs(
    store: &Store,
    tar: impl Read,
    opts: &ImportOptions,
) -> Result<String, StoreError> {
    // Validate everything cheap before reading the stream.
    let tag = match &opts.tag {
        Some(t) if !t.is_empty() => Some(crate::remove::parse_tag_target(t)?),
        _ => None,
    };
    let mut config = ContainerConfig::default();
    apply_changes(&mut config, &opts.changes)?;
    let message = if opts.message.is_empty() {
        "Imported from -".to_string()
    } else {
        opts.message.clone()
    };

    let input = decompressed(BufReader::with_capacity(256 * 1024, tar))?;
    let mut pins = PinGuard::new(store);
    let layer = ingest(store, input, None)?;
    pins.diffs.push(layer.diff_id.clone());
    // Docker stamps an import with the current time, so the same tarball
    // gets a new ID each time. berth promises the same ID for the same
    // bytes and options: without an explicit time the image is dated by its
    // newest file, which is when its content was made.
    let created = opts
        .created
        .clone()
        .unwrap_or_else(|| content_time(layer.newest_mtime));

    let image = ImageConfig {
        architecture: if opts.architecture.is_empty() {
            go_arch().to_string()
        } else {
            opts.architecture.clone()
        },
        comment: message.clone(),
        config: Some(config),
        container_config: Some(ContainerConfig::default()),
        created: created.clone(),
        docker_version: DOCKER_VERSION.to_string(),
        history: vec![History {
            created,
            comment: message,
            ..History::default()
        }],
        os: if opts.os.is_empty() {
            "linux".into()
        } else {
            opts.os.clone()
        },
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.diff_id.clone()],
        },
        ..ImageConfig::default()
    };
    let id = finish_image(store, &image, ImageRecord::default(), tag.as_ref())?;
    drop(pins);
    Ok(id)
}

/// Store a new image's config blob, its record and (optionally) a tag, in
/// that order. Returns the image ID string.
pub(crate) fn finish_image(
    store: &Store,
    image: &ImageConfig,
    mut record: ImageRecord,
    tag: Option<&Reference>,
) -> Result<String, StoreError> {
    let bytes = image.to_bytes();
    // Under the lock: a concurrent rmi of the same ID cannot remove the
    // blob between its writing and the record's.
    let mut st = store.lock();
    let id = put_blob(store.root(), &bytes)?;
    if tag.is_some() {
        record.last_tag_time = now();
    }
    // Re-importing identical content keeps the earlier record's tag time.
    if let Some(old) = st.get(&id) {
        if tag.is_none() && !old.record.deleted {
            record.last_tag_time = old.record.last_tag_time.clone();
        }
    }
    st.add_image(&id, image.clone(), record)?;
    if let Some(r) = tag {
        st.tags.insert(r.to_string(), id.clone());
        st.save_tags()?;
    }
    Ok(id.to_string())
}

/// Docker's time format for a content timestamp in Unix seconds (the epoch
/// when the tarball carries none).
fn content_time(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(0);
    let t = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    go_time(t)
}
