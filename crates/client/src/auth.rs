//! Registry credentials as the Engine API carries them: Docker's
//! `AuthConfig` JSON, sent base64url-encoded in the `X-Registry-Auth`
//! header (pull, push, search, distribution) or as the body of `POST /auth`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Docker Hub's key in `config.json` and its `serveraddress`.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// Credentials for one registry (Docker's `types.AuthConfig`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// User name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Password.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `base64(username:password)` (only in config.json).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth: String,
    /// E-mail (legacy).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// The registry these credentials are for.
    #[serde(rename = "serveraddress", skip_serializing_if = "String::is_empty")]
    pub server_address: String,
    /// A token the registry issued in exchange for a password (OAuth refresh token).
    #[serde(rename = "identitytoken", skip_serializing_if = "String::is_empty")]
    pub identity_token: String,
    /// A bearer token for the registry.
    #[serde(rename = "registrytoken", skip_serializing_if = "String::is_empty")]
    pub registry_token: String,
}

/// Never show secrets in debug output.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("server_address", &self.server_address)
            .field("has_password", &!self.password.is_empty())
            .field("has_identity_token", &!self.identity_token.is_empty())
            .finish()
    }
}

impl AuthConfig {
    /// The value of the `X-Registry-Auth` header: the JSON, base64url
    /// encoded with padding (Go's `base64.URLEncoding`), as the docker CLI sends it.
    pub fn encode_header(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        base64::engine::general_purpose::URL_SAFE.encode(json)
    }

    /// Decode an `X-Registry-Auth` value (either base64 alphabet, padded or not).
    pub fn decode_header(value: &str) -> Option<AuthConfig> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let bytes = URL_SAFE
            .decode(value)
            .or_else(|_| URL_SAFE_NO_PAD.decode(value))
            .or_else(|_| STANDARD.decode(value))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The answer of `POST /auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuthenticateOk {
    /// `Login Succeeded`.
    #[serde(rename = "Status")]
    pub status: String,
    /// A token to store instead of the password, when the registry issued one.
    #[serde(rename = "IdentityToken")]
    pub identity_token: String,
}

/// `registry.ConvertToHostname`: strip a scheme and any path
/// (`https://r.example:5000/v2/` -> `r.example:5000`).
pub fn convert_to_hostname(url: &str) -> &str {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    rest.split('/').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_base64url_json_without_empty_fields() {
        let a = AuthConfig {
            username: "user".into(),
            password: "p?>>".into(),
            server_address: "127.0.0.1:5000".into(),
            ..Default::default()
        };
        let h = a.encode_header();
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(&h)
            .unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            r#"{"username":"user","password":"p?>>","serveraddress":"127.0.0.1:5000"}"#
        );
        assert!(!h.contains('+') && !h.contains('/'));
        assert_eq!(AuthConfig::decode_header(&h), Some(a));
        let t = AuthConfig {
            identity_token: "tok".into(),
            ..Default::default()
        };
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(t.encode_header())
            .unwrap();
        assert_eq!(raw, br#"{"identitytoken":"tok"}"#);
        assert_eq!(AuthConfig::default().encode_header(), "e30=");
    }

    #[test]
    fn debug_hides_secrets() {
        let a = AuthConfig {
            password: "hunter2".into(),
            identity_token: "tok123".into(),
            ..Default::default()
        };
        let s = format!("{a:?}");
        assert!(!s.contains("hunter2") && !s.contains("tok123"));
    }

    #[test]
    fn hostnames() {
        assert_eq!(
            convert_to_hostname("http://127.0.0.1:5000/"),
            "127.0.0.1:5000"
        );
        assert_eq!(convert_to_hostname("https://r.example/v2/x"), "r.example");
        assert_eq!(convert_to_hostname("r.example:1"), "r.example:1");
    }
}
