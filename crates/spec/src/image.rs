//! Image formats: the Docker image config JSON (whose sha256 is the image
//! ID), Docker manifest v2 schema 2 and OCI manifests and indexes, the
//! `manifest.json` of `docker save` archives, and the `--change` lines of
//! `docker import` / `docker commit`.

use crate::api::ContainerConfig;
use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Errors of the pure image-related parsers (digests, references,
/// `--change` lines). Display strings are Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageSpecError {
    /// Not `sha256:<64 hex>`.
    #[error("invalid digest format: {0:?}")]
    InvalidDigest(String),
    /// A digest algorithm other than sha256.
    #[error("unsupported digest algorithm: {0}")]
    UnsupportedDigestAlgorithm(String),
    /// A reference that does not follow the grammar.
    #[error("invalid reference format")]
    ReferenceFormat,
    /// A reference whose repository has capital letters.
    #[error("invalid reference format: repository name must be lowercase")]
    ReferenceUppercase,
    /// A repository name longer than 255 characters.
    #[error("invalid reference format: repository name must not be more than 255 characters")]
    NameTooLong,
    /// A tag that does not follow `[\w][\w.-]{0,127}`.
    #[error("invalid tag format")]
    TagFormat,
    /// A 64-hex string used as a repository name.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexRepositoryName(String),
    /// A `--change` instruction that import/commit do not accept
    /// (the lowercased instruction name).
    #[error("{0} is not a valid change command")]
    InvalidChangeCommand(String),
    /// A `--change` line with bad arguments.
    #[error("{0}")]
    BadChange(String),
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The uncompressed layer digests, lowest first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// One `history` entry of an image config. Fields in Docker's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// RFC 3339 with nanoseconds.
    #[serde(default)]
    pub created: String,
    /// Who made it (`--author`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// The command that made it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// Free text (`--message`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// True when this step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The Docker image config JSON. Its sha256 is the image ID.
///
/// Fields are declared in alphabetical order, as dockerd serializes them,
/// so that serialization is deterministic: the same inputs give the same
/// bytes and thus the same ID. Configs that come from outside (load) are
/// kept as the original bytes; this type is only used to read them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture in Go terms (`amd64`, `arm64`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    /// Who made it (`--author`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Free text (`--message`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// The default container config (`Config` in inspect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The ID of the container it was committed from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    /// The config of that container (`ContainerConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    /// RFC 3339 with nanoseconds (Go's `RFC3339Nano`).
    #[serde(default)]
    pub created: String,
    /// Version of the engine that made it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    /// One entry per build step, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Operating system (`linux`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    /// Required OS features (Windows).
    pub os_features: Option<Vec<String>>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    /// Required OS version (Windows).
    pub os_version: String,
    /// The parent image ID (`sha256:...`) for committed images.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
    /// The layers (diff IDs).
    #[serde(default)]
    pub rootfs: RootFs,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

impl ImageConfig {
    /// The canonical bytes of this config (what its ID is computed from).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain structs, strings and maps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parse config bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ImageConfig, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The image ID of `bytes`: `sha256:<hex>` of the config JSON.
    pub fn id_of(bytes: &[u8]) -> Digest {
        Digest::of_bytes(bytes)
    }
}

/// The `architecture` value Docker uses for this build's CPU.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Media types berth reads and writes.
pub mod media_type {
    /// Docker manifest v2 schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// Docker gzip layer.
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// Docker uncompressed layer.
    pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// OCI uncompressed layer.
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    /// OCI gzip layer.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI zstd layer.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
}

/// The annotation OCI layouts use for the tag/reference of an index entry.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation containerd uses for the full image name.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";

/// The platform of a manifest in an index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture in Go terms (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    /// Required OS version (Windows).
    pub os_version: String,
}

/// A content descriptor (OCI and Docker manifests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the content is (a media type).
    #[serde(default)]
    pub media_type: String,
    /// `sha256:<hex>` of the content.
    pub digest: String,
    /// Length of the content in bytes.
    #[serde(default)]
    pub size: i64,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform of the image a manifest describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Where else the content can be fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

/// An OCI image manifest or Docker manifest v2 schema 2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: i64,
    /// What the content is (a media type).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    /// The default container config (`Config` in inspect).
    pub config: Descriptor,
    /// Layer descriptors (or paths), lowest first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An OCI image index (`index.json`) or Docker manifest list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: i64,
    /// What the content is (a media type).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    /// The manifests (or nested indexes) listed.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The `oci-layout` file of an OCI image layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciLayout {
    /// Always `1.0.0`.
    pub image_layout_version: String,
}

impl Default for OciLayout {
    fn default() -> Self {
        OciLayout {
            image_layout_version: "1.0.0".into(),
        }
    }
}

/// One entry of the `manifest.json` of a docker-archive (`docker save`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveManifestEntry {
    /// Path of the config JSON inside the archive.
    pub config: String,
    /// Familiar references (`busybox:latest`); `null` when untagged.
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars inside the archive, lowest first.
    pub layers: Vec<String>,
    /// Foreign layer descriptors, keyed by diff ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_sources: Option<BTreeMap<String, Value>>,
}

/// The legacy `repositories` file of a docker-archive:
/// `{"busybox": {"latest": "<top layer v1 id>"}}`.
pub type ArchiveRepositories = BTreeMap<String, BTreeMap<String, String>>;

pub mod change;
pub use change::apply_changes;

#[cfg(test)]
mod tests {
    use super::*;

    /// A config exactly as dockerd 20.10 wrote it for `docker import`.
    const DOCKER_IMPORT_CONFIG: &str = r#"{"architecture":"amd64","comment":"Imported from -","config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"container_config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"created":"2026-11-21T06:10:18.675340555Z","docker_version":"20.10.24+dfsg1","history":[{"created":"2026-11-21T06:10:18.675340555Z","comment":"Imported from -"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:ed1761e616eafa2994e4a73598307e36cb8a3551e4833da2e0cd2b1dafb89f79"]}}"#;

    #[test]
    fn serializes_byte_for_byte_like_dockerd() {
        let c = ImageConfig::from_bytes(DOCKER_IMPORT_CONFIG.as_bytes()).unwrap();
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert_eq!(c.history[0].comment, "Imported from -");
        assert_eq!(
            String::from_utf8(c.to_bytes()).unwrap(),
            DOCKER_IMPORT_CONFIG
        );
        // Hence the same image ID as dockerd for the same content.
        assert_eq!(
            ImageConfig::id_of(&c.to_bytes()),
            Digest::of_bytes(DOCKER_IMPORT_CONFIG.as_bytes())
        );
    }

    #[test]
    fn archive_manifest_shape() {
        let e = ArchiveManifestEntry {
            config: "abc.json".into(),
            repo_tags: None,
            layers: vec!["x/layer.tar".into()],
            layer_sources: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"Config":"abc.json","RepoTags":null,"Layers":["x/layer.tar"]}"#
        );
    }
}
