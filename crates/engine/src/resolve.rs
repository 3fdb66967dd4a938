//! Finding a container by name, full ID or unique ID prefix, as dockerd does.

use crate::error::{EngineError, Result};

/// Resolve `input` against `(id, name)` pairs (names without `/`): exact
/// name first, then full ID, then a unique ID prefix.
pub fn resolve<'a, I>(input: &str, containers: I) -> Result<String>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    if input.is_empty() {
        return Err(EngineError::not_found("No such container: "));
    }
    let name = input.strip_prefix('/').unwrap_or(input);
    if let Some((id, _)) = containers.clone().into_iter().find(|(_, n)| *n == name) {
        return Ok(id.to_string());
    }
    if let Some((id, _)) = containers.clone().into_iter().find(|(id, _)| *id == input) {
        return Ok(id.to_string());
    }
    let is_hex = input.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex {
        let mut found: Option<&str> = None;
        for (id, _) in containers {
            if id.starts_with(input) {
                if found.is_some() {
                    return Err(EngineError::invalid(format!(
                        "Multiple IDs found with provided prefix: {input}"
                    )));
                }
                found = Some(id);
            }
        }
        if let Some(id) = found {
            return Ok(id.to_string());
        }
    }
    Err(EngineError::not_found(format!(
        "No such container: {input}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_ids_and_prefixes() {
        let a = format!("abc{}", "0".repeat(61));
        let b = format!("abd{}", "1".repeat(61));
        let list = vec![(a.as_str(), "web"), (b.as_str(), "abc")];
        // Exact name wins over an ID prefix.
        assert_eq!(resolve("abc", list.clone()).unwrap(), b);
        assert_eq!(resolve("/web", list.clone()).unwrap(), a);
        assert_eq!(resolve(&a, list.clone()).unwrap(), a);
        assert_eq!(resolve("abd", list.clone()).unwrap(), b);
        let err = resolve("ab", list.clone()).unwrap_err();
        assert_eq!(err.message, "Multiple IDs found with provided prefix: ab");
        let err = resolve("nope", list.clone()).unwrap_err();
        assert_eq!(err.message, "No such container: nope");
        assert_eq!(err.status(), 404);
    }
}
