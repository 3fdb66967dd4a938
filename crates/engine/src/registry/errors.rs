//! dockerd's messages for registry failures.

use berth_registry::RegistryError;
use berth_spec::reference::Reference;

use crate::error::EngineError;

/// Whether the registry refused access (unknown repository or missing
/// credentials look the same from outside).
fn is_denied(e: &RegistryError) -> bool {
    match e.registry_errors() {
        Some(errs) => {
            errs.has_code("UNAUTHORIZED")
                || errs.has_code("DENIED")
                || errs.has_code("NAME_UNKNOWN")
                || (errs.errors.is_empty() && matches!(errs.status, 401 | 403))
        }
        None => false,
    }
}

/// An error fetching the manifest of `r`.
pub(crate) fn pull_error(r: &Reference, e: RegistryError) -> EngineError {
    if is_denied(&e) {
        return EngineError::not_found(format!(
            "pull access denied for {}, repository does not exist or may require 'docker login': {e}",
            r.familiar_name()
        ));
    }
    if e.registry_errors()
        .is_some_and(|x| x.has_code("MANIFEST_UNKNOWN") || x.status == 404)
    {
        return EngineError::not_found(format!(
            "manifest for {} not found: {e}",
            r.familiar_string()
        ));
    }
    match e {
        RegistryError::NoMatchingPlatform(_) => EngineError::not_found(e.to_string()),
        other => EngineError::system(other.to_string()),
    }
}

/// An error pushing to `r`.
pub(crate) fn push_error(r: &Reference, e: RegistryError) -> EngineError {
    if is_denied(&e) {
        return EngineError::not_found(format!(
            "push access denied for {}, repository does not exist or may require 'docker login': {e}",
            r.familiar_name()
        ));
    }
    EngineError::system(e.to_string())
}

/// A failed login.
pub(crate) fn login_error(server: &str, e: RegistryError) -> EngineError {
    let server = if server.is_empty() {
        berth_registry::HUB_AUTH_KEY
    } else {
        server
    };
    match &e {
        RegistryError::Status(s) if matches!(s.status, 401 | 403) => EngineError::new(
            crate::ErrorKind::Unauthorized,
            format!("Get \"{}\": {e}", login_url(server)),
        ),
        _ => EngineError::system(e.to_string()),
    }
}

fn login_url(server: &str) -> String {
    if server.starts_with("http://") || server.starts_with("https://") {
        if server.contains("/v1/") || server.ends_with("/v2/") {
            server.to_string()
        } else {
            format!("{}/v2/", server.trim_end_matches('/'))
        }
    } else {
        format!("https://{server}/v2/")
    }
}
