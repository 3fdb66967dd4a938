//! dockerd's messages for registry failures.

use berth_registry::RegistryError;
use berth_spec::reference::Reference;

use crate::error::EngineError;

/// Whether the registry denied access or does not know the repository
/// (dockerd's `notFoundError` codes; a plain `UNAUTHORIZED` stays as is).
fn is_denied(e: &RegistryError) -> bool {
    e.registry_errors().is_some_and(|errs| {
        errs.errors
            .first()
            .is_some_and(|f| f.code == "DENIED" || f.code == "NAME_UNKNOWN")
    })
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
        .is_some_and(|x| x.has_code("MANIFEST_UNKNOWN") || (x.errors.is_empty() && x.status == 404))
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

/// A failed login (dockerd answers 500 with the registry's reason).
pub(crate) fn login_error(e: RegistryError) -> EngineError {
    EngineError::system(e.to_string())
}
