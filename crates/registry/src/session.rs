//! A session with one repository on one registry: the endpoint that
//! answered the `/v2/` ping, its authentication challenge, and requests
//! that carry the right `Authorization` (re-authenticating once when the
//! registry refuses a cached token).

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ureq::http::Response;
use ureq::Body;

use crate::auth::{bearer_token, AuthConfig, TokenCache, TokenRequest};
use crate::challenge::{self, Challenge};
use crate::endpoint::{Endpoint, RegistryOptions};
use crate::error::{RegistryError, RegistryErrors, Result};

/// Largest error body read from a registry.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Percent-encode a query component (RFC 3986 unreserved characters kept).
pub fn query_escape(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(s, SET).to_string()
}

/// The registry client shared by the daemon: settings and the token cache.
#[derive(Debug, Default)]
pub struct Registry {
    options: RegistryOptions,
    tokens: TokenCache,
}

/// What a session may do in its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Pull only.
    Pull,
    /// Pull and push.
    Push,
}

impl Registry {
    /// A client with these settings.
    pub fn new(options: RegistryOptions) -> Registry {
        Registry {
            options,
            tokens: TokenCache::default(),
        }
    }

    /// The settings.
    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// Open a session with repository `path` (`library/busybox`) on the
    /// registry of `domain` (`docker.io`, `127.0.0.1:5000`): ping the
    /// endpoints in order and keep the first that answers.
    pub fn session(
        self: &Arc<Self>,
        domain: &str,
        path: &str,
        auth: &AuthConfig,
        access: Access,
        cancel: Arc<AtomicBool>,
    ) -> Result<Session> {
        let mut last_err = None;
        for ep in self.options.endpoints(domain) {
            let agent = self.options.agent(&ep)?;
            match ping(&agent, &ep) {
                Ok(challenge) => {
                    let action = match access {
                        Access::Pull => "pull",
                        Access::Push => "pull,push",
                    };
                    return Ok(Session {
                        registry: Arc::clone(self),
                        agent,
                        endpoint: ep,
                        path: path.to_string(),
                        auth: auth.clone(),
                        challenge,
                        scopes: Mutex::new(vec![format!("repository:{path}:{action}")]),
                        header: Mutex::new(None),
                        cancel,
                    });
                }
                Err(e) => {
                    tracing::debug!("registry endpoint {} failed: {e}", ep.base);
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| RegistryError::Connect(format!("no endpoint for {domain}"))))
    }

    /// `GET /v2/_catalog` of the registry of `domain` (one page of up to
    /// 1000 repository names), with the `registry:catalog:*` scope.
    pub fn catalog(
        self: &Arc<Self>,
        domain: &str,
        auth: &AuthConfig,
        cancel: Arc<AtomicBool>,
    ) -> Result<Vec<String>> {
        let s = self.session(domain, "", auth, Access::Pull, cancel)?;
        *s.scopes.lock().unwrap_or_else(|p| p.into_inner()) =
            vec!["registry:catalog:*".to_string()];
        let url = format!("{}/v2/_catalog?n=1000", s.endpoint.base);
        let resp = s.send("GET", &url, &[], SendBody::Empty)?;
        if !resp.status().is_success() {
            return Err(Session::status_error(resp));
        }
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let body = read_limited_to(resp, 8 << 20);
        let c: Catalog = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Protocol(format!("invalid catalog: {e}")))?;
        Ok(c.repositories)
    }

    /// `POST /auth`: check credentials against the registry at
    /// `server` (a host or URL; empty means Docker Hub). Returns the
    /// identity token the token server handed out, if any.
    pub fn login(self: &Arc<Self>, server: &str, auth: &AuthConfig) -> Result<String> {
        let domain = login_domain(server);
        let mut last_err = None;
        for ep in self
            .options
            .endpoints(&domain)
            .into_iter()
            .filter(|e| !e.mirror)
        {
            let agent = self.options.agent(&ep)?;
            let challenge = match ping(&agent, &ep) {
                Ok(c) => c,
                Err(e) => {
                    last_err = Some(e);
                    continue;
                }
            };
            let Some(ch) = challenge else {
                return Ok(String::new());
            };
            if ch.scheme == "bearer" {
                let req = TokenRequest {
                    agent: &agent,
                    challenge: &ch,
                    scopes: &[],
                    auth,
                    offline: true,
                    refresh: true,
                };
                let t = bearer_token(&self.tokens, &req)?;
                return Ok(t.refresh_token);
            }
            // Basic: the ping again, with the credentials.
            let url = format!("{}/v2/", ep.base);
            let mut r = agent.get(&url);
            if let Some(h) = auth.basic_header() {
                r = r.header("Authorization", &h);
            }
            let resp = r.call().map_err(|e| {
                RegistryError::Connect(format!("Get \"{url}\": {}", go_net_error(&url, &e)))
            })?;
            let status = resp.status();
            if status.as_u16() == 401 || status.as_u16() == 403 {
                return Err(RegistryError::Auth(format!(
                    "login attempt to {url} failed with status: {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )));
            }
            return Ok(String::new());
        }
        Err(last_err.unwrap_or_else(|| RegistryError::Connect(format!("no endpoint for {domain}"))))
    }
}

/// The registry domain of a `POST /auth` server address
/// (`https://index.docker.io/v1/` is Docker Hub).
fn login_domain(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or("");
    if host.is_empty() || host == "index.docker.io" || host == "docker.io" {
        berth_spec::reference::DEFAULT_DOMAIN.to_string()
    } else {
        host.to_string()
    }
}

/// `GET /v2/`: reachable? Returns the challenge of a 401.
fn ping(agent: &ureq::Agent, ep: &Endpoint) -> Result<Option<Challenge>> {
    let url = format!("{}/v2/", ep.base);
    let resp = agent.get(&url).call().map_err(|e| {
        RegistryError::Connect(format!("Get \"{url}\": {}", go_net_error(&url, &e)))
    })?;
    let status = resp.status().as_u16();
    if status == 401 {
        return Ok(challenge_of(&resp));
    }
    if status >= 500 || (ep.mirror && status >= 400) {
        return Err(RegistryError::Connect(format!(
            "Get \"{url}\": unexpected status {status}"
        )));
    }
    Ok(None)
}

fn challenge_of(resp: &Response<Body>) -> Option<Challenge> {
    let mut all = Vec::new();
    for v in resp.headers().get_all("www-authenticate") {
        if let Ok(s) = v.to_str() {
            all.extend(challenge::parse(s));
        }
    }
    all.iter()
        .find(|c| c.scheme == "bearer")
        .or_else(|| all.iter().find(|c| c.scheme == "basic"))
        .cloned()
}

pub(crate) fn read_limited(resp: Response<Body>) -> Vec<u8> {
    read_limited_to(resp, MAX_ERROR_BODY)
}

fn read_limited_to(resp: Response<Body>, max: u64) -> Vec<u8> {
    let mut body = Vec::new();
    let _ = std::io::Read::take(resp.into_body().into_reader(), max).read_to_end(&mut body);
    body
}

/// The body of a request.
pub(crate) enum SendBody<'a> {
    /// No body.
    Empty,
    /// Bytes in memory (can be sent again after a 401).
    Bytes(&'a [u8]),
    /// A stream (sent once), of known length or chunked.
    Reader(&'a mut dyn Read, Option<u64>),
}

/// A session with one repository (see [`Registry::session`]).
pub struct Session {
    registry: Arc<Registry>,
    pub(crate) agent: ureq::Agent,
    endpoint: Endpoint,
    path: String,
    auth: AuthConfig,
    challenge: Option<Challenge>,
    scopes: Mutex<Vec<String>>,
    /// The `Authorization` value in use.
    header: Mutex<Option<String>>,
    pub(crate) cancel: Arc<AtomicBool>,
}

impl Session {
    /// The repository path (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `<base>/v2/<path>/<rest>`.
    pub(crate) fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.endpoint.base, self.path)
    }

    /// A full URL for a `Location` header (absolute or relative to the base).
    pub(crate) fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{location}", self.endpoint.base)
        }
    }

    /// Whether the operation was cancelled.
    pub(crate) fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(RegistryError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Add a scope (e.g. `repository:other/repo:pull` for a cross-repo
    /// mount); the next token covers it.
    pub(crate) fn add_scope(&self, scope: String) {
        let mut s = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        if !s.contains(&scope) {
            s.push(scope);
            *self.header.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// The `Authorization` header value for requests (None: anonymous
    /// access, no challenge).
    fn authorization(&self, refresh: bool) -> Result<Option<String>> {
        if !refresh {
            if let Some(h) = self
                .header
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                return Ok(Some(h));
            }
        }
        let Some(ch) = &self.challenge else {
            return Ok(None);
        };
        let value = if ch.scheme == "basic" {
            // As Docker's client: a Basic realm and nothing to answer it with.
            Some(
                self.auth
                    .basic_header()
                    .ok_or_else(|| RegistryError::Auth(NO_BASIC_AUTH.to_string()))?,
            )
        } else {
            let scopes = self
                .scopes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let req = TokenRequest {
                agent: &self.agent,
                challenge: ch,
                scopes: &scopes,
                auth: &self.auth,
                offline: false,
                refresh,
            };
            Some(format!(
                "Bearer {}",
                bearer_token(&self.registry.tokens, &req)?.token
            ))
        };
        *self.header.lock().unwrap_or_else(|p| p.into_inner()) = value.clone();
        Ok(value)
    }

    /// Send a request with authentication; a 401 to a cached token is
    /// retried once with a fresh one (for bodies that can be re-sent).
    pub(crate) fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        mut body: SendBody<'_>,
    ) -> Result<Response<Body>> {
        self.check_cancel()?;
        let mut refresh = false;
        loop {
            let auth = self.authorization(refresh).map_err(|e| match e {
                RegistryError::Auth(m) if m == NO_BASIC_AUTH => {
                    RegistryError::Auth(format!("{} \"{url}\": {m}", go_method(method)))
                }
                e => e,
            })?;
            let mut b = ureq::http::Request::builder().method(method).uri(url);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            if let Some(a) = &auth {
                b = b.header("Authorization", a.as_str());
            }
            let what = go_method(method);
            let err = |e: ureq::Error| {
                RegistryError::Connect(format!("{what} \"{url}\": {}", go_net_error(url, &e)))
            };
            let resp = match &mut body {
                SendBody::Empty => {
                    let req = b
                        .body(())
                        .map_err(|e| RegistryError::Protocol(e.to_string()))?;
                    self.agent.run(req).map_err(err)?
                }
                SendBody::Bytes(bytes) => {
                    let req = b
                        .body(bytes.to_vec())
                        .map_err(|e| RegistryError::Protocol(e.to_string()))?;
                    self.agent.run(req).map_err(err)?
                }
                SendBody::Reader(r, len) => {
                    let b = match len {
                        Some(l) => b.header("Content-Length", l.to_string()),
                        None => b,
                    };
                    let sb = ureq::SendBody::from_reader(&mut **r);
                    let req = b
                        .body(sb)
                        .map_err(|e| RegistryError::Protocol(e.to_string()))?;
                    self.agent.run(req).map_err(err)?
                }
            };
            let resendable = !matches!(body, SendBody::Reader(..));
            if resp.status().as_u16() == 401 && !refresh && resendable && self.challenge.is_some() {
                refresh = true;
                continue;
            }
            return Ok(resp);
        }
    }

    /// Turn an error status into the registry's errors.
    pub(crate) fn status_error(resp: Response<Body>) -> RegistryError {
        let status = resp.status().as_u16();
        RegistryError::Status(RegistryErrors::from_body(status, &read_limited(resp)))
    }
}

/// Go's spelling of a method in error messages (`Get`, `Head`, ...).
/// Docker's error when a registry asks for Basic credentials and there are none.
const NO_BASIC_AUTH: &str = "no basic auth credentials";

/// A connection failure as Go's net package words it (`dial tcp HOST:PORT: connect:
/// connection refused`), which is what Docker users see and search for; other errors as ureq
/// gives them.
fn go_net_error(url: &str, e: &ureq::Error) -> String {
    let host_port = || {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
        let host = rest.split('/').next().unwrap_or(rest);
        if host.contains(':') {
            host.to_string()
        } else if url.starts_with("https://") {
            format!("{host}:443")
        } else {
            format!("{host}:80")
        }
    };
    match e {
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                format!("dial tcp {}: connect: connection refused", host_port())
            }
            std::io::ErrorKind::TimedOut => format!("dial tcp {}: i/o timeout", host_port()),
            _ => e.to_string(),
        },
        ureq::Error::Timeout(_) => format!("dial tcp {}: i/o timeout", host_port()),
        _ => e.to_string(),
    }
}

fn go_method(m: &str) -> String {
    let mut s = m.to_lowercase();
    if let Some(f) = s.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_query_components() {
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(query_escape("a-b_c.d~"), "a-b_c.d~");
    }

    #[test]
    fn login_domains() {
        assert_eq!(login_domain(""), "docker.io");
        assert_eq!(login_domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(login_domain("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(login_domain("https://reg.example:443/"), "reg.example:443");
    }
}
