//! Registries: pull into the store (streamed, several layers at once),
//! push from it, login. The protocol is in `berth-registry`; this module
//! turns it into dockerd's progress messages and errors.

mod errors;
mod pull;
mod push;

use std::sync::{Arc, RwLock};

use berth_registry::{Registry, RegistryOptions};

pub use pull::{PreparedPull, PullOutcome, PullRequest};
pub use push::PushRequest;

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
            let server = auth.serveraddress.clone();
            registry
                .login(&server, &auth)
                .map_err(|e| errors::login_error(&server, e))
        })
        .await
    }
}

/// The 12-hex short form Docker shows for a layer digest.
pub(crate) fn short_hex(d: &str) -> String {
    let hex = d.split_once(':').map(|(_, h)| h).unwrap_or(d);
    hex.chars().take(12).collect()
}
