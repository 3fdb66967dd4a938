//! Docker image references (`[domain/]path[:tag][@digest]`): parsing,
//! normalisation (`busybox` -> `docker.io/library/busybox:latest`) and the
//! familiar form Docker prints (`busybox:latest`).
//!
//! The grammar and the error messages follow Docker's reference library:
//! path components are `[a-z0-9]+` joined by `.`, `_`, `__` or dashes; tags
//! are `[\w][\w.-]{0,127}`; the whole name is at most 255 characters.

use crate::digest::{is_hex64, Digest};
use crate::image::ImageSpecError;
use std::fmt;

/// The registry a reference without a domain refers to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The legacy spelling of [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of official images on the default registry.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
/// Longest allowed name (domain and path).
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parse what a user typed, the way `docker` does (Docker's
    /// `ParseNormalizedNamed`): add `docker.io/` and `library/` where
    /// implied. Does not add a default tag: see [`Reference::with_default_tag`].
    pub fn parse_normalized(s: &str) -> Result<Reference, ImageSpecError> {
        if is_hex64(s) {
            return Err(ImageSpecError::HexRepositoryName(s.to_string()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = match remainder.find(':') {
            Some(i) => &remainder[..i],
            None => remainder.as_str(),
        };
        if remote_name.to_lowercase() != remote_name {
            return Err(ImageSpecError::ReferenceUppercase);
        }
        Self::parse_full(&format!("{domain}/{remainder}"))
    }

    /// Like [`Reference::parse_normalized`], then add the `latest` tag when
    /// there is neither a tag nor a digest (Docker's `TagNameOnly`).
    pub fn parse_normalized_tagged(s: &str) -> Result<Reference, ImageSpecError> {
        Ok(Self::parse_normalized(s)?.with_default_tag())
    }

    /// Parse a fully qualified reference (`domain/path[:tag][@digest]`).
    fn parse_full(s: &str) -> Result<Reference, ImageSpecError> {
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let (alg, hex) = d.split_once(':').ok_or(ImageSpecError::ReferenceFormat)?;
                if alg != Digest::ALGORITHM || !is_hex64(hex) {
                    return Err(ImageSpecError::ReferenceFormat);
                }
                (rest, Some(Digest::from_hex(hex)?))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|j| i > j) => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !is_valid_tag(t) {
                return Err(ImageSpecError::ReferenceFormat);
            }
        }
        let (domain, path) = name
            .split_once('/')
            .ok_or(ImageSpecError::ReferenceFormat)?;
        if !is_valid_domain(domain) {
            return Err(ImageSpecError::ReferenceFormat);
        }
        if path.is_empty() || !path.split('/').all(is_valid_path_component) {
            if path
                .split('/')
                .all(|c| is_valid_path_component(&c.to_lowercase()))
                && !path.is_empty()
            {
                return Err(ImageSpecError::ReferenceUppercase);
            }
            return Err(ImageSpecError::ReferenceFormat);
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ImageSpecError::NameTooLong);
        }
        Ok(Reference {
            domain: domain.to_string(),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Add the `latest` tag if the reference has neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The same name with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ImageSpecError> {
        if !is_valid_tag(tag) {
            return Err(ImageSpecError::TagFormat);
        }
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// The registry domain (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name (`docker.io/library/busybox`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as Docker shows it (`busybox`, `ns/repo`,
    /// `localhost:5000/x`).
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            if let Some(short) = self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                if !short.contains('/') {
                    return short.to_string();
                }
            }
            self.path.clone()
        } else {
            self.name()
        }
    }

    /// The whole reference as Docker shows it (`busybox:latest`,
    /// `ns/repo@sha256:...`).
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

/// The fully qualified form (`docker.io/library/busybox:latest`).
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        Some(i) if name[..i].contains(['.', ':']) || &name[..i] == "localhost" => {
            (name[..i].to_string(), name[i + 1..].to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// Whether `t` is a valid tag: `[\w][\w.-]{0,127}`.
pub fn is_valid_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = t.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn is_valid_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or any number of "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `domain-component(.domain-component)*(:port)?`
fn is_valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse_normalized_tagged(s).unwrap().to_string()
    }

    fn fam(s: &str) -> String {
        Reference::parse_normalized_tagged(s)
            .unwrap()
            .familiar_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("ns/repo"), "docker.io/ns/repo:latest");
        assert_eq!(
            norm("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(norm("localhost/x"), "localhost/x:latest");
        assert_eq!(norm("localhost:5000/x:y"), "localhost:5000/x:y");
        assert_eq!(
            norm("example.com/a/b/c:V1.0-rc_2"),
            "example.com/a/b/c:V1.0-rc_2"
        );
        assert_eq!(
            norm("a__b.c-d---e"),
            "docker.io/library/a__b.c-d---e:latest"
        );
        // "localhost:5000" alone is a repository "localhost" with tag "5000".
        assert_eq!(norm("localhost:5000"), "docker.io/library/localhost:5000");
    }

    #[test]
    fn familiar_forms() {
        assert_eq!(fam("busybox"), "busybox:latest");
        assert_eq!(fam("docker.io/library/busybox:x"), "busybox:x");
        assert_eq!(fam("ns/repo:t"), "ns/repo:t");
        assert_eq!(fam("docker.io/library/a/b"), "library/a/b:latest");
        assert_eq!(fam("localhost:5000/x:y"), "localhost:5000/x:y");
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = Reference::parse_normalized_tagged(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.familiar_string(), format!("busybox@{d}"));
        assert_eq!(r.familiar_name(), "busybox");
    }

    #[test]
    fn rejects_like_docker() {
        let e = |s: &str| Reference::parse_normalized(s).unwrap_err().to_string();
        assert_eq!(
            e("BusyBox"),
            "invalid reference format: repository name must be lowercase"
        );
        assert_eq!(
            e("ns/Repo:tag"),
            "invalid reference format: repository name must be lowercase"
        );
        assert_eq!(e("busybox:"), "invalid reference format");
        assert_eq!(e(""), "invalid reference format");
        assert_eq!(e("-x"), "invalid reference format");
        assert_eq!(e("x/"), "invalid reference format");
        assert_eq!(e("a..b"), "invalid reference format");
        assert_eq!(e("a:.tag"), "invalid reference format");
        assert_eq!(e("a b"), "invalid reference format");
        assert_eq!(e("a@sha256:abc"), "invalid reference format");
        assert_eq!(
            e(&format!("a:{}", "t".repeat(129))),
            "invalid reference format"
        );
        assert!(Reference::parse_normalized(&format!("a:{}", "t".repeat(128))).is_ok());
        assert!(e(&"a".repeat(256)).contains("255"));
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            e(hex),
            format!("invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings")
        );
    }

    #[test]
    fn tags() {
        assert!(is_valid_tag("latest"));
        assert!(is_valid_tag("_x.Y-1"));
        assert!(!is_valid_tag(".x"));
        assert!(!is_valid_tag("-x"));
        assert!(!is_valid_tag(""));
        let r = Reference::parse_normalized("busybox").unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.with_tag("v2").unwrap().familiar_string(), "busybox:v2");
    }
}
