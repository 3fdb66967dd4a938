//! Content digests (`sha256:<64 lowercase hex>`), as used for image IDs,
//! layer diff IDs and blob names.

use crate::image::ImageSpecError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// A sha256 content digest. Always stores 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// The only algorithm berth supports.
    pub const ALGORITHM: &'static str = "sha256";

    /// The digest of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// Parse `sha256:<hex>`; the hex must be 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Digest, ImageSpecError> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| ImageSpecError::InvalidDigest(s.to_string()))?;
        if alg != Self::ALGORITHM {
            return Err(ImageSpecError::UnsupportedDigestAlgorithm(alg.to_string()));
        }
        Self::from_hex(hex).map_err(|_| ImageSpecError::InvalidDigest(s.to_string()))
    }

    /// Build from 64 lowercase hex characters (no `sha256:` prefix).
    pub fn from_hex(hex: &str) -> Result<Digest, ImageSpecError> {
        if is_hex64(hex) {
            Ok(Digest {
                hex: hex.to_string(),
            })
        } else {
            Err(ImageSpecError::InvalidDigest(hex.to_string()))
        }
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as Docker shows short IDs.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

/// Whether `s` is exactly 64 lowercase hex characters.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", Self::ALGORITHM, self.hex)
    }
}

impl FromStr for Digest {
    type Err = ImageSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A streaming sha256 hasher: feed bytes with [`Hasher::update`] (or use it
/// as an `io::Write`), then take the [`Digest`].
#[derive(Debug, Clone, Default)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Hash more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// How many bytes were hashed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> Digest {
        Digest {
            hex: hex::encode(self.inner.finalize()),
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty() {
        let d = Digest::of_bytes(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.short(), "e3b0c44298fc");
    }

    #[test]
    fn parse_round_trip_and_rejects() {
        let s = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Digest::parse(s).unwrap().to_string(), s);
        assert!(Digest::parse("sha256:E3B0").is_err());
        assert!(Digest::parse(&s.to_uppercase()).is_err());
        assert!(Digest::parse("md5:e3b0").is_err());
        assert!(
            Digest::parse("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                .is_err()
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut h = Hasher::new();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.len(), 11);
        assert_eq!(h.finish(), Digest::of_bytes(b"hello world"));
    }
}
