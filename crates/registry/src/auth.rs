//! Credentials (`X-Registry-Auth`, `POST /auth`) and bearer tokens: the
//! anonymous token, the token bought with Basic credentials, the OAuth
//! POST with an identity (refresh) token, and a cache of tokens per scope
//! until they expire.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::challenge::Challenge;
use crate::error::{RegistryError, RegistryErrors, Result};

/// The client ID Docker sends to token servers.
pub const CLIENT_ID: &str = "docker";
/// Docker's minimum (and default) token lifetime.
const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Largest token answer read.
const MAX_TOKEN_BODY: u64 = 1 << 20;

/// Docker's `AuthConfig`: what `X-Registry-Auth` and `POST /auth` carry.
/// Its `Debug` never shows secrets.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// User name.
    pub username: String,
    /// Password (or a personal access token).
    pub password: String,
    /// `base64(username:password)`, as in `~/.docker/config.json`.
    pub auth: String,
    /// Ignored (legacy).
    pub email: String,
    /// The registry these credentials are for.
    pub serveraddress: String,
    /// An OAuth refresh token from an earlier login.
    pub identitytoken: String,
    /// A bearer token to send as is.
    pub registrytoken: String,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("serveraddress", &self.serveraddress)
            .field("has_password", &!self.password.is_empty())
            .field("has_identitytoken", &!self.identitytoken.is_empty())
            .finish()
    }
}

impl AuthConfig {
    /// Decode an `X-Registry-Auth` header: base64url (padding optional) of
    /// the JSON. Anything undecodable is anonymous, as dockerd treats it on
    /// pull and push.
    pub fn from_header(value: &str) -> AuthConfig {
        let value = value.trim();
        if value.is_empty() {
            return AuthConfig::default();
        }
        let engines = [
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
            base64::engine::general_purpose::STANDARD,
        ];
        for e in engines {
            if let Ok(bytes) = e.decode(value) {
                if let Ok(mut a) = serde_json::from_slice::<AuthConfig>(&bytes) {
                    a.fill_from_auth();
                    return a;
                }
            }
        }
        AuthConfig::default()
    }

    /// Fill user name and password from `auth` when they are empty.
    pub fn fill_from_auth(&mut self) {
        if !self.username.is_empty() || self.auth.is_empty() {
            return;
        }
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(self.auth.trim()) {
            if let Ok(s) = String::from_utf8(raw) {
                if let Some((u, p)) = s.split_once(':') {
                    self.username = u.to_string();
                    self.password = p.trim_end_matches('\0').to_string();
                }
            }
        }
    }

    /// Whether there is nothing to authenticate with.
    pub fn is_anonymous(&self) -> bool {
        self.username.is_empty() && self.identitytoken.is_empty() && self.registrytoken.is_empty()
    }

    /// `Basic base64(user:password)`, if there is a user name.
    pub fn basic_header(&self) -> Option<String> {
        if self.username.is_empty() {
            return None;
        }
        let raw = format!("{}:{}", self.username, self.password);
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }

    /// A fingerprint of the credentials (a hash, never the secrets) that
    /// keys the token cache.
    fn fingerprint(&self) -> String {
        let raw = format!(
            "{}\0{}\0{}\0{}",
            self.username, self.password, self.identitytoken, self.registrytoken
        );
        berth_spec::digest::Digest::of_bytes(raw.as_bytes())
            .hex()
            .to_string()
    }
}

/// A token server's answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenAnswer {
    token: String,
    access_token: String,
    refresh_token: String,
    expires_in: u64,
}

/// A bearer token and what came with it.
#[derive(Debug, Clone)]
pub struct Token {
    /// The bearer token.
    pub token: String,
    /// A refresh token the server handed out (the identity token of a login).
    pub refresh_token: String,
    expires: Instant,
}

/// Tokens by (realm, service, scopes, credentials fingerprint), kept until
/// they expire.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<String, Token>>,
}

impl TokenCache {
    fn get(&self, key: &str) -> Option<Token> {
        let map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).filter(|t| t.expires > Instant::now()).cloned()
    }

    fn put(&self, key: String, t: Token) {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, v| v.expires > Instant::now());
        map.insert(key, t);
    }

    fn forget(&self, key: &str) {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

/// What a token request needs.
pub(crate) struct TokenRequest<'a> {
    pub agent: &'a ureq::Agent,
    pub challenge: &'a Challenge,
    pub scopes: &'a [String],
    pub auth: &'a AuthConfig,
    /// A login: ask for a refresh token (`offline_token=true`).
    pub offline: bool,
    /// Skip the cache (the registry refused the cached token).
    pub refresh: bool,
}

/// Get a bearer token for a `Bearer` challenge (from the cache when a
/// live one is there).
pub(crate) fn bearer_token(cache: &TokenCache, req: &TokenRequest<'_>) -> Result<Token> {
    if !req.auth.registrytoken.is_empty() {
        return Ok(Token {
            token: req.auth.registrytoken.clone(),
            refresh_token: String::new(),
            expires: Instant::now() + MIN_TOKEN_LIFETIME,
        });
    }
    let realm = req
        .challenge
        .param("realm")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| RegistryError::Auth("no realm specified for token auth challenge".into()))?;
    let service = req.challenge.param("service").unwrap_or_default();
    let key = format!(
        "{realm}\0{service}\0{}\0{}",
        req.scopes.join(" "),
        req.auth.fingerprint()
    );
    if req.refresh {
        cache.forget(&key);
    } else if let Some(t) = cache.get(&key) {
        return Ok(t);
    }
    let started = Instant::now();
    let answer = if !req.auth.identitytoken.is_empty() {
        oauth_post(req, realm, service)?
    } else {
        token_get(req, realm, service)?
    };
    let token = if answer.token.is_empty() {
        answer.access_token
    } else {
        answer.token
    };
    if token.is_empty() {
        return Err(RegistryError::Auth(
            "authorization server did not include a token in the response".into(),
        ));
    }
    let lifetime = Duration::from_secs(answer.expires_in).max(MIN_TOKEN_LIFETIME);
    let t = Token {
        token,
        refresh_token: answer.refresh_token,
        expires: started + lifetime,
    };
    cache.put(key, t.clone());
    Ok(t)
}

/// `GET realm?service=&scope=...`, with Basic credentials if any.
fn token_get(req: &TokenRequest<'_>, realm: &str, service: &str) -> Result<TokenAnswer> {
    let mut url = realm.to_string();
    let mut params: Vec<(&str, &str)> = Vec::new();
    if !service.is_empty() {
        params.push(("service", service));
    }
    for s in req.scopes {
        params.push(("scope", s));
    }
    if req.offline {
        params.push(("offline_token", "true"));
        params.push(("client_id", CLIENT_ID));
    }
    for (i, (k, v)) in params.iter().enumerate() {
        url.push(if i == 0 && !realm.contains('?') {
            '?'
        } else {
            '&'
        });
        url.push_str(k);
        url.push('=');
        url.push_str(&crate::session::query_escape(v));
    }
    let mut r = req.agent.get(&url);
    if let Some(h) = req.auth.basic_header() {
        r = r.header("Authorization", &h);
    }
    let resp = r
        .call()
        .map_err(|e| RegistryError::Connect(format!("Get \"{realm}\": {e}")))?;
    token_answer(resp, realm)
}

/// The OAuth2 refresh-token grant with an identity token.
fn oauth_post(req: &TokenRequest<'_>, realm: &str, service: &str) -> Result<TokenAnswer> {
    let scope = req.scopes.join(" ");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", req.auth.identitytoken.as_str()),
        ("service", service),
        ("client_id", CLIENT_ID),
        ("scope", scope.as_str()),
        ("access_type", if req.offline { "offline" } else { "" }),
    ];
    let body: Vec<String> = form
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", crate::session::query_escape(v)))
        .collect();
    let resp = req
        .agent
        .post(realm)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body.join("&"))
        .map_err(|e| RegistryError::Connect(format!("Post \"{realm}\": {e}")))?;
    token_answer(resp, realm)
}

fn token_answer(resp: ureq::http::Response<ureq::Body>, realm: &str) -> Result<TokenAnswer> {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut std::io::Read::take(resp.into_body().into_reader(), MAX_TOKEN_BODY),
        &mut body,
    );
    if status == 401 || status == 403 {
        // As the distribution client reports a refused token request.
        let errs = RegistryErrors::from_body(status, &body);
        if errs.errors.is_empty() {
            return Err(RegistryError::Auth(format!(
                "unable to decode token response: {}",
                String::from_utf8_lossy(&body).trim()
            )));
        }
        return Err(RegistryError::Status(errs));
    }
    if !(200..300).contains(&status) {
        return Err(RegistryError::Auth(format!(
            "token auth attempt for registry: {realm}: request failed with status: {status}"
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| RegistryError::Auth(format!("unable to decode token response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_decodes_padded_and_unpadded_base64url() {
        let json = r#"{"username":"u","password":"p>?","serveraddress":"127.0.0.1:5000"}"#;
        let padded = base64::engine::general_purpose::URL_SAFE.encode(json);
        let a = AuthConfig::from_header(&padded);
        assert_eq!(a.username, "u");
        assert_eq!(a.password, "p>?");
        let unpadded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        assert_eq!(AuthConfig::from_header(&unpadded), a);
    }

    #[test]
    fn undecodable_header_is_anonymous() {
        for h in ["", "!!!", "e30", "bm90IGpzb24="] {
            assert!(AuthConfig::from_header(h).is_anonymous(), "{h}");
        }
    }

    #[test]
    fn auth_field_fills_user_and_password() {
        let json = r#"{"auth":"dXNlcjpwYXNz"}"#;
        let a = AuthConfig::from_header(&base64::engine::general_purpose::URL_SAFE.encode(json));
        assert_eq!((a.username.as_str(), a.password.as_str()), ("user", "pass"));
        assert_eq!(a.basic_header().as_deref(), Some("Basic dXNlcjpwYXNz"));
    }

    #[test]
    fn debug_hides_secrets() {
        let a = AuthConfig {
            username: "u".into(),
            password: "hunter2".into(),
            identitytoken: "tok".into(),
            ..Default::default()
        };
        let s = format!("{a:?}");
        assert!(!s.contains("hunter2") && !s.contains("tok\""), "{s}");
    }

    #[test]
    fn cache_returns_live_tokens_only() {
        let c = TokenCache::default();
        c.put(
            "k".into(),
            Token {
                token: "t".into(),
                refresh_token: String::new(),
                expires: Instant::now() + Duration::from_secs(60),
            },
        );
        assert_eq!(c.get("k").map(|t| t.token), Some("t".to_string()));
        c.put(
            "old".into(),
            Token {
                token: "t".into(),
                refresh_token: String::new(),
                expires: Instant::now(),
            },
        );
        assert!(c.get("old").is_none());
    }
}
