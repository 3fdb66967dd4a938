//! Manifests: fetching (every type Docker accepts, digest checks, a size
//! limit), parsing Docker schema 2 / manifest lists and OCI manifests /
//! indexes, and choosing the platform of a multi-platform image.

use std::io::Read;

use berth_spec::digest::Digest;
use berth_spec::image::{media_type, Descriptor, Index, Manifest};

use crate::error::{RegistryError, Result};
use crate::session::{SendBody, Session};

/// Largest manifest accepted (Docker's limit).
pub const MAX_MANIFEST: u64 = 4 << 20;

/// The media types asked for, in preference order.
pub const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// A manifest as the registry sent it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The exact bytes (what the digest covers).
    pub bytes: Vec<u8>,
    /// `Content-Type` (or the document's own `mediaType`).
    pub media_type: String,
    /// sha256 of the bytes.
    pub digest: Digest,
}

/// A parsed manifest.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// An image manifest (config + layers).
    Image(Box<Manifest>),
    /// A manifest list / image index.
    Index(Index),
}

/// Parse a manifest by its media type (or, when the type is vague, by its
/// shape).
pub fn parse(bytes: &[u8], content_type: &str) -> Result<Parsed> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::Protocol(format!("invalid manifest: {e}")))?;
    let doc_type = v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let kind = if !doc_type.is_empty() { doc_type } else { ct };
    let is_index = match kind {
        media_type::DOCKER_MANIFEST_LIST | media_type::OCI_INDEX => true,
        media_type::DOCKER_MANIFEST | media_type::OCI_MANIFEST => false,
        "application/vnd.docker.distribution.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v1+prettyjws" => {
            return Err(RegistryError::Protocol(
                "unsupported manifest format: Docker image manifest v2 schema 1 is deprecated"
                    .into(),
            ))
        }
        _ => v.get("manifests").is_some(),
    };
    if v.get("schemaVersion").and_then(|s| s.as_i64()) != Some(2) {
        return Err(RegistryError::Protocol(format!(
            "unsupported manifest format: schemaVersion {}",
            v.get("schemaVersion").unwrap_or(&serde_json::Value::Null)
        )));
    }
    if is_index {
        serde_json::from_value(v)
            .map(Parsed::Index)
            .map_err(|e| RegistryError::Protocol(format!("invalid manifest list: {e}")))
    } else {
        serde_json::from_value(v)
            .map(|m| Parsed::Image(Box::new(m)))
            .map_err(|e| RegistryError::Protocol(format!("invalid manifest: {e}")))
    }
}

/// A wanted platform (`os/arch[/variant]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `v8`, `v7`, or empty.
    pub variant: String,
}

impl PlatformSpec {
    /// This machine's platform.
    pub fn host() -> PlatformSpec {
        let architecture = berth_spec::image::go_arch().to_string();
        let variant = if architecture == "arm64" { "v8" } else { "" };
        PlatformSpec {
            os: "linux".into(),
            architecture,
            variant: variant.into(),
        }
    }

    /// Parse `os[/arch[/variant]]` as `--platform` takes it (missing parts
    /// are this machine's). Returns Docker's error text on failure.
    pub fn parse(s: &str) -> std::result::Result<PlatformSpec, String> {
        let s = s.trim().to_lowercase();
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || format!("\"{s}\": unknown operating system or architecture: invalid argument");
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(bad());
        }
        let host = PlatformSpec::host();
        let os = parts[0].to_string();
        if !matches!(
            os.as_str(),
            "linux"
                | "windows"
                | "darwin"
                | "freebsd"
                | "netbsd"
                | "openbsd"
                | "solaris"
                | "illumos"
        ) {
            return Err(bad());
        }
        let architecture = match parts.get(1) {
            Some(a) => normalize_arch(a),
            None => host.architecture.clone(),
        };
        let mut variant = match parts.get(2) {
            Some(v) => v.to_string(),
            None if parts.len() == 1 => host.variant.clone(),
            None => String::new(),
        };
        if architecture == "arm64" && variant.is_empty() {
            variant = "v8".into();
        }
        Ok(PlatformSpec {
            os,
            architecture,
            variant,
        })
    }

    /// `os/arch[/variant]`, as Docker prints a platform.
    pub fn format(&self) -> String {
        if self.variant.is_empty() {
            format!("{}/{}", self.os, self.architecture)
        } else {
            format!("{}/{}/{}", self.os, self.architecture, self.variant)
        }
    }

    /// Whether a manifest's platform satisfies this one.
    pub fn matches(&self, p: &berth_spec::image::Platform) -> bool {
        if p.os != self.os || normalize_arch(&p.architecture) != self.architecture {
            return false;
        }
        let have = if p.variant.is_empty() && self.architecture == "arm64" {
            "v8"
        } else {
            p.variant.as_str()
        };
        if self.architecture == "arm" {
            // An armv7 machine runs v7, v6 and v5 code.
            let rank = |v: &str| v.trim_start_matches('v').parse::<u32>().unwrap_or(7);
            let want = if self.variant.is_empty() {
                "v7"
            } else {
                &self.variant
            };
            return rank(have) <= rank(want);
        }
        self.variant.is_empty() || have.is_empty() || have == self.variant
    }
}

fn normalize_arch(a: &str) -> String {
    match a {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        "armhf" | "armel" => "arm".into(),
        "i386" => "386".into(),
        other => other.to_string(),
    }
}

/// Choose the manifest for `want` from an index: the best match (exact
/// variant first), as Docker's platform matcher does.
pub fn choose<'a>(index: &'a Index, want: &PlatformSpec) -> Result<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
        .collect();
    candidates
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.variant == want.variant)
        })
        .or_else(|| candidates.first())
        .copied()
        .ok_or_else(|| RegistryError::NoMatchingPlatform(want.format()))
}

impl Session {
    /// `GET /v2/<name>/manifests/<reference>` (a tag or a digest). A
    /// manifest fetched by digest must hash to it.
    pub fn get_manifest(&self, reference: &str) -> Result<FetchedManifest> {
        let url = self.url(&format!("manifests/{reference}"));
        if Digest::parse(reference).is_err() {
            // As Docker's client, a tag is resolved with a HEAD first: authentication and
            // connection failures are reported on it (`Head "...": no basic auth credentials`);
            // its status is not (a HEAD has no error body), the GET below reports that.
            self.send("HEAD", &url, &[("Accept", ACCEPT)], SendBody::Empty)?;
        }
        let resp = self.send("GET", &url, &[("Accept", ACCEPT)], SendBody::Empty)?;
        if !resp.status().is_success() {
            return Err(Session::status_error(resp));
        }
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if resp
            .body()
            .content_length()
            .is_some_and(|l| l > MAX_MANIFEST)
        {
            return Err(RegistryError::Protocol(format!(
                "manifest too large: more than {MAX_MANIFEST} bytes"
            )));
        }
        let mut bytes = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Connect(format!("reading manifest: {e}")))?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(RegistryError::Protocol(format!(
                "manifest too large: more than {MAX_MANIFEST} bytes"
            )));
        }
        let digest = Digest::of_bytes(&bytes);
        if let Ok(want) = Digest::parse(reference) {
            if want != digest {
                return Err(RegistryError::DigestMismatch {
                    expected: want.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        Ok(FetchedManifest {
            bytes,
            media_type: ct,
            digest,
        })
    }

    /// `PUT /v2/<name>/manifests/<tag>`. Returns the digest the registry
    /// reports (`Docker-Content-Digest`), or the bytes' own.
    pub fn put_manifest(&self, tag: &str, media_type: &str, bytes: &[u8]) -> Result<Digest> {
        let url = self.url(&format!("manifests/{tag}"));
        let resp = self.send(
            "PUT",
            &url,
            &[("Content-Type", media_type)],
            SendBody::Bytes(bytes),
        )?;
        if !resp.status().is_success() {
            return Err(Session::status_error(resp));
        }
        let own = Digest::of_bytes(bytes);
        Ok(resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| Digest::parse(s).ok())
            .unwrap_or(own))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_spec::image::Platform;

    fn desc(os: &str, arch: &str, variant: &str, n: u8) -> Descriptor {
        Descriptor {
            media_type: media_type::OCI_MANIFEST.into(),
            digest: format!("sha256:{}", format!("{n:02x}").repeat(32)),
            size: 1,
            platform: Some(Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.into(),
                os_version: String::new(),
            }),
            ..Default::default()
        }
    }

    fn index() -> Index {
        Index {
            schema_version: 2,
            media_type: media_type::OCI_INDEX.into(),
            manifests: vec![
                desc("linux", "arm", "v6", 1),
                desc("linux", "arm", "v7", 2),
                desc("linux", "arm64", "v8", 3),
                desc("linux", "amd64", "", 4),
                desc("windows", "amd64", "", 5),
            ],
            annotations: None,
        }
    }

    #[test]
    fn chooses_by_os_arch_variant() {
        let idx = index();
        let pick = |s: &str| {
            choose(&idx, &PlatformSpec::parse(s).unwrap())
                .map(|d| d.digest.clone())
                .map_err(|e| e.to_string())
        };
        assert_eq!(pick("linux/amd64").unwrap(), idx.manifests[3].digest);
        assert_eq!(pick("linux/arm64").unwrap(), idx.manifests[2].digest);
        assert_eq!(pick("linux/arm64/v8").unwrap(), idx.manifests[2].digest);
        assert_eq!(pick("linux/arm/v7").unwrap(), idx.manifests[1].digest);
        assert_eq!(pick("linux/arm/v6").unwrap(), idx.manifests[0].digest);
        assert_eq!(
            pick("linux/s390x").unwrap_err(),
            "no matching manifest for linux/s390x in the manifest list entries"
        );
    }

    #[test]
    fn platform_strings() {
        assert!(PlatformSpec::parse("linux/amd64/").is_err());
        assert!(PlatformSpec::parse("plan9/amd64").is_err());
        assert_eq!(
            PlatformSpec::parse("Linux/x86_64").unwrap().format(),
            "linux/amd64"
        );
        assert_eq!(
            PlatformSpec::parse("linux/arm64").unwrap().format(),
            "linux/arm64/v8"
        );
    }

    #[test]
    fn parses_every_manifest_type() {
        let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:aa","size":1},"layers":[]}"#;
        assert!(matches!(parse(image, "").unwrap(), Parsed::Image(_)));
        let oci = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"sha256:bb","size":2}]}"#;
        match parse(oci, media_type::OCI_MANIFEST).unwrap() {
            Parsed::Image(m) => assert_eq!(m.layers[0].size, 2),
            Parsed::Index(_) => panic!("not an index"),
        }
        let list = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
        assert!(matches!(parse(list, "").unwrap(), Parsed::Index(_)));
        let untyped_index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse(untyped_index, "application/json").unwrap(),
            Parsed::Index(_)
        ));
        let schema1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(parse(
            schema1,
            "application/vnd.docker.distribution.manifest.v1+prettyjws"
        )
        .is_err());
        assert!(parse(b"not json", "").is_err());
    }
}
