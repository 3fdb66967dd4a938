//! The OCI documents `berth save` writes next to the docker-archive
//! `manifest.json`: the `oci-layout` marker, one image manifest blob per
//! image and the `index.json` that names them (as Docker 25+ does, so the
//! same tar is a docker-archive and an OCI image layout).

use crate::error::StoreError;
use berth_spec::digest::Digest;
use berth_spec::image::{
    media_type, Descriptor, Index, Manifest, OciLayout, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME,
};
use berth_spec::reference::Reference;
use std::collections::BTreeMap;

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(format!("serializing OCI JSON: {e}")))
}

fn descriptor(mt: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: mt.to_string(),
        digest: digest.to_string(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        ..Descriptor::default()
    }
}

/// The `oci-layout` file: `{"imageLayoutVersion":"1.0.0"}`.
pub(crate) fn layout() -> Result<Vec<u8>, StoreError> {
    to_json(&OciLayout::default())
}

/// An OCI image manifest for a config blob and its uncompressed layers
/// (`(diff ID, length)`, lowest first).
pub(crate) fn image_manifest(
    config: &Digest,
    config_len: u64,
    layers: &[(Digest, u64)],
) -> Result<Vec<u8>, StoreError> {
    to_json(&Manifest {
        schema_version: 2,
        media_type: media_type::OCI_MANIFEST.into(),
        config: descriptor(media_type::OCI_CONFIG, config, config_len),
        layers: layers
            .iter()
            .map(|(d, n)| descriptor(media_type::OCI_LAYER_TAR, d, *n))
            .collect(),
        annotations: None,
    })
}

/// One `index.json` entry: a manifest and the reference it is saved under
/// (none for an image saved by ID).
pub(crate) struct IndexEntry<'a> {
    /// Digest of the manifest blob.
    pub(crate) manifest: Digest,
    /// Its length.
    pub(crate) len: u64,
    /// The reference, if any.
    pub(crate) reference: Option<&'a Reference>,
}

/// The `index.json` of the layout. A named entry carries the full name
/// (`io.containerd.image.name`) and, when tagged, the tag
/// (`org.opencontainers.image.ref.name`), as Docker writes them.
pub(crate) fn index(entries: &[IndexEntry<'_>]) -> Result<Vec<u8>, StoreError> {
    let manifests = entries
        .iter()
        .map(|e| {
            let mut d = descriptor(media_type::OCI_MANIFEST, &e.manifest, e.len);
            if let Some(r) = e.reference {
                let mut a = BTreeMap::new();
                a.insert(ANNOTATION_IMAGE_NAME.to_string(), r.to_string());
                if let Some(t) = r.tag() {
                    a.insert(ANNOTATION_REF_NAME.to_string(), t.to_string());
                }
                d.annotations = Some(a);
            }
            d
        })
        .collect();
    to_json(&Index {
        schema_version: 2,
        media_type: media_type::OCI_INDEX.into(),
        manifests,
        annotations: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn d(c: char) -> Digest {
        Digest::from_hex(&c.to_string().repeat(64)).unwrap()
    }

    #[test]
    fn layout_marker_is_the_spec_one() {
        let v: Value = serde_json::from_slice(&layout().unwrap()).unwrap();
        assert_eq!(v, json!({"imageLayoutVersion": "1.0.0"}));
    }

    #[test]
    fn manifest_has_the_oci_image_manifest_shape() {
        let m = image_manifest(&d('c'), 123, &[(d('a'), 1024), (d('b'), 2048)]).unwrap();
        let v: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(
            v,
            json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": format!("sha256:{}", "c".repeat(64)),
                    "size": 123
                },
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                     "digest": format!("sha256:{}", "a".repeat(64)), "size": 1024},
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                     "digest": format!("sha256:{}", "b".repeat(64)), "size": 2048}
                ]
            })
        );
    }

    #[test]
    fn index_names_tagged_entries_and_leaves_untagged_ones_bare() {
        let r = Reference::parse_normalized("busybox:latest").unwrap();
        let n = Reference::parse_normalized("localhost:5000/ns/app:v1").unwrap();
        let i = index(&[
            IndexEntry {
                manifest: d('1'),
                len: 400,
                reference: Some(&r),
            },
            IndexEntry {
                manifest: d('1'),
                len: 400,
                reference: Some(&n),
            },
            IndexEntry {
                manifest: d('2'),
                len: 300,
                reference: None,
            },
        ])
        .unwrap();
        let v: Value = serde_json::from_slice(&i).unwrap();
        let mt = "application/vnd.oci.image.manifest.v1+json";
        assert_eq!(
            v,
            json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [
                    {"mediaType": mt, "digest": format!("sha256:{}", "1".repeat(64)), "size": 400,
                     "annotations": {
                        "io.containerd.image.name": "docker.io/library/busybox:latest",
                        "org.opencontainers.image.ref.name": "latest"}},
                    {"mediaType": mt, "digest": format!("sha256:{}", "1".repeat(64)), "size": 400,
                     "annotations": {
                        "io.containerd.image.name": "localhost:5000/ns/app:v1",
                        "org.opencontainers.image.ref.name": "v1"}},
                    {"mediaType": mt, "digest": format!("sha256:{}", "2".repeat(64)), "size": 300}
                ]
            })
        );
    }
}
