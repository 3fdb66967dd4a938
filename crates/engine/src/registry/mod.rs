//! Registries: pull into the store (streamed, several layers at once),
//! push from it, login. The protocol is in `berth-registry`; this module
//! turns it into dockerd's progress messages and errors.

mod errors;
mod pull;
mod push;
mod tags;

use std::sync::{Arc, RwLock};

use berth_registry::{Registry, RegistryOptions};

pub use pull::{PreparedPull, PullOutcome, PullRequest};
pub use push::{PreparedPush, PushRequest};

/// The daemon's registry settings.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// Insecure registries, mirrors, `certs.d` directories.
    pub options: RegistryOptions,
    /// `--max-concurrent-downloads` (layers downloaded at once per pull).
    pub max_concurrent_downloads: usize,
    /// `--max-concurrent-uploads` (layers uploaded at once per push).
    pub max_concurrent_uploads: usize,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            options: RegistryOptions::default(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
        }
    }
}

/// The engine's registry client and its settings.
#[derive(Debug)]
pub(crate) struct RegistryState {
    inner: RwLock<(Arc<Registry>, RegistrySettings)>,
}

impl Default for RegistryState {
    fn default() -> Self {
        let s = RegistrySettings::default();
        RegistryState {
            inner: RwLock::new((Arc::new(Registry::new(s.options.clone())), s)),
        }
    }
}

impl RegistryState {
    pub(crate) fn set(&self, s: RegistrySettings) {
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        *g = (Arc::new(Registry::new(s.options.clone())), s);
    }

    pub(crate) fn get(&self) -> (Arc<Registry>, RegistrySettings) {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl crate::Engine {
    /// Apply the daemon's registry settings.
    pub fn configure_registry(&self, settings: RegistrySettings) {
        self.registry.set(settings);
    }

    /// `POST /auth`: check credentials with the registry. Returns the
    /// identity token the registry handed out (often empty).
    pub async fn login(&self, auth: berth_registry::AuthConfig) -> crate::Result<String> {
        let (registry, _) = self.registry.get();
        crate::blocking(move || {
            registry
                .login(&auth.serveraddress, &auth)
                .map_err(errors::login_error)
        })
        .await
    }
}

/// The 12-hex short form Docker shows for a layer digest.
pub(crate) fn short_hex(d: &str) -> String {
    let hex = d.split_once(':').map(|(_, h)| h).unwrap_or(d);
    hex.chars().take(12).collect()
}

impl crate::Engine {
    /// `GET /distribution/{name}/json`: the descriptor of what `r` names on
    /// its registry and the platforms it offers.
    pub async fn distribution_inspect(
        &self,
        r: berth_spec::reference::Reference,
        auth: berth_registry::AuthConfig,
    ) -> crate::Result<serde_json::Value> {
        use berth_registry::manifest::{self, Parsed};
        let (registry, _) = self.registry.get();
        crate::blocking(move || {
            let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let session = registry
                .session(
                    r.domain(),
                    r.path(),
                    &auth,
                    berth_registry::Access::Pull,
                    cancel,
                )
                .map_err(|e| errors::pull_error(&r, e))?;
            let wanted = match (r.digest(), r.tag()) {
                (Some(d), _) => d.to_string(),
                (_, Some(t)) => t.to_string(),
                _ => berth_spec::reference::DEFAULT_TAG.to_string(),
            };
            let m = session
                .get_manifest(&wanted)
                .map_err(|e| errors::pull_error(&r, e))?;
            let parsed =
                manifest::parse(&m.bytes, &m.media_type).map_err(|e| errors::pull_error(&r, e))?;
            let media = match &parsed {
                Parsed::Image(x) if !x.media_type.is_empty() => x.media_type.clone(),
                Parsed::Index(x) if !x.media_type.is_empty() => x.media_type.clone(),
                _ => m
                    .media_type
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            };
            let platforms: Vec<serde_json::Value> = match parsed {
                Parsed::Index(idx) => idx
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref())
                    .map(|p| serde_json::to_value(p).unwrap_or_default())
                    .collect(),
                Parsed::Image(img) => {
                    let cd = berth_spec::digest::Digest::parse(&img.config.digest)
                        .map_err(|e| crate::EngineError::system(e.to_string()))?;
                    let bytes = session
                        .blob_bytes(&cd, 8 << 20)
                        .map_err(|e| errors::pull_error(&r, e))?;
                    let c = berth_spec::image::ImageConfig::from_bytes(&bytes)
                        .map_err(|e| crate::EngineError::system(e.to_string()))?;
                    let p = berth_spec::image::Platform {
                        architecture: c.architecture,
                        os: c.os,
                        variant: c.variant,
                        os_version: c.os_version,
                    };
                    vec![serde_json::to_value(p).unwrap_or_default()]
                }
            };
            Ok(serde_json::json!({
                "Descriptor": {
                    "mediaType": media,
                    "digest": m.digest.to_string(),
                    "size": m.bytes.len(),
                },
                "Platforms": platforms,
            }))
        })
        .await
    }
}

/// One `GET /images/search` result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchResult {
    /// Stars (0 for private registries).
    pub star_count: i64,
    /// Official image (false for private registries).
    pub is_official: bool,
    /// `registry/repository`.
    pub name: String,
    /// Automated build (false for private registries).
    pub is_automated: bool,
    /// Description (empty for private registries).
    pub description: String,
}

impl crate::Engine {
    /// `GET /images/search` for a private registry (`REGISTRY/TERM`):
    /// the repositories of its `/v2/_catalog` whose name contains `TERM`
    /// (berth's addition; dockerd only searches Docker Hub's v1 index).
    pub async fn search(
        &self,
        term: &str,
        limit: usize,
        filters: &std::collections::BTreeMap<String, Vec<String>>,
        auth: berth_registry::AuthConfig,
    ) -> crate::Result<Vec<SearchResult>> {
        if !(1..=100).contains(&limit) {
            return Err(crate::EngineError::invalid(format!(
                "Limit {limit} is outside the range of [1, 100]"
            )));
        }
        let filter = SearchFilter::parse(filters)?;
        let (domain, query) = match term.split_once('/') {
            Some((d, q)) if d.contains(['.', ':']) || d == "localhost" => (d.to_string(), q),
            _ => {
                return Err(crate::EngineError::system(
                    "berth searches private registries only (docker search REGISTRY/TERM); Docker Hub's search is not supported",
                ))
            }
        };
        let query = query.to_lowercase();
        let (registry, _) = self.registry.get();
        let found = crate::blocking(move || {
            let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
            // dockerd's way first: the registry's v1 search; a registry without one (404)
            // is searched through its catalog (berth's addition).
            let v1 = registry
                .search_v1(&domain, &query, limit, &auth, Arc::clone(&cancel))
                .map_err(|e| crate::EngineError::system(e.to_string()))?;
            if let Some(results) = v1 {
                return Ok(results
                    .into_iter()
                    .map(|r| SearchResult {
                        star_count: r.star_count,
                        is_official: r.is_official,
                        name: r.name,
                        is_automated: r.is_automated,
                        description: r.description,
                    })
                    .collect::<Vec<_>>());
            }
            let repos = registry
                .catalog(&domain, &auth, cancel)
                .map_err(|e| crate::EngineError::system(e.to_string()))?;
            Ok(repos
                .into_iter()
                .filter(|r| r.to_lowercase().contains(&query))
                .map(|r| SearchResult {
                    star_count: 0,
                    is_official: false,
                    name: format!("{domain}/{r}"),
                    is_automated: false,
                    description: String::new(),
                })
                .collect())
        })
        .await?;
        Ok(found
            .into_iter()
            .filter(|r| filter.keeps(r))
            .take(limit)
            .collect())
    }
}

/// The `filters` of `GET /images/search`, as dockerd applies them.
#[derive(Debug, Default)]
struct SearchFilter {
    official: Option<bool>,
    automated: Option<bool>,
    stars: i64,
}

impl SearchFilter {
    fn parse(filters: &std::collections::BTreeMap<String, Vec<String>>) -> crate::Result<Self> {
        let mut f = SearchFilter::default();
        let boolean = |k: &str, v: &str| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(crate::EngineError::invalid(format!(
                "Invalid filter '{k}={v}'"
            ))),
        };
        for (k, values) in filters {
            for v in values {
                match k.as_str() {
                    "is-official" => f.official = Some(boolean(k, v)?),
                    "is-automated" => f.automated = Some(boolean(k, v)?),
                    "stars" => {
                        let n: i64 = v.parse().map_err(|_| {
                            crate::EngineError::invalid(format!("Invalid filter 'stars={v}'"))
                        })?;
                        f.stars = f.stars.max(n);
                    }
                    other => {
                        return Err(crate::EngineError::invalid(format!(
                            "Invalid filter '{other}'"
                        )))
                    }
                }
            }
        }
        Ok(f)
    }

    fn keeps(&self, r: &SearchResult) -> bool {
        self.official.is_none_or(|o| o == r.is_official)
            && self.automated.is_none_or(|a| a == r.is_automated)
            && r.star_count >= self.stars
    }
}
