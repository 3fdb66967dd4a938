//! `extends:` within a file and from another file. The extended service is
//! merged under the extending one with the usual merge rules; paths of a
//! service from another file stay relative to that file.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::convert::{self, err};
use crate::load::{extend_service, read_other};
use crate::node::{Node, Value};
use crate::LoadError;

/// Resolve every `extends` of the services of `doc` (loaded from `shown`,
/// in `file_dir`).
pub(crate) fn resolve_extends(
    doc: &mut Node,
    shown: &Path,
    file_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    stack: &mut Vec<PathBuf>,
) -> Result<(), LoadError> {
    let Some(services) = doc.get("services").and_then(Node::as_map).cloned() else {
        return Ok(());
    };
    let mut resolved = IndexMap::new();
    for name in services.keys() {
        let mut chain = Vec::new();
        let svc = resolve_one(
            &services, name, shown, file_dir, lookup, warnings, stack, &mut chain,
        )?;
        resolved.insert(name.clone(), svc);
    }
    if let Some(s) = doc.as_map_mut().and_then(|m| m.get_mut("services")) {
        s.value = Value::Map(resolved);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn resolve_one(
    services: &IndexMap<String, Node>,
    name: &str,
    shown: &Path,
    file_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    stack: &mut Vec<PathBuf>,
    chain: &mut Vec<String>,
) -> Result<Node, LoadError> {
    let key = format!("{}#{name}", shown.display());
    let mut svc = services[name].clone();
    let Some(ext) = svc.as_map_mut().and_then(|m| m.shift_remove("extends")) else {
        return Ok(svc);
    };
    let path = format!("services.{name}.extends");
    if chain.contains(&key) {
        return Err(err(
            &ext,
            &path,
            format!(
                "circular reference with extends: {} -> {name}",
                chain.join(" -> ")
            ),
        ));
    }
    chain.push(key);
    let (base_name, file) = match &ext.value {
        Value::Scalar(s) => (s.text.clone(), None),
        Value::Map(m) => {
            convert::check_keys(&ext, &path, &["service", "file"])?;
            let service = m
                .get("service")
                .ok_or_else(|| err(&ext, &path, "missing property \"service\""))
                .and_then(|s| convert::string(s, &format!("{path}.service")))?;
            let file = m
                .get("file")
                .map(|f| convert::string(f, &format!("{path}.file")))
                .transpose()?;
            (service, file)
        }
        _ => {
            return Err(err(
                &ext,
                &path,
                format!("must be a string or mapping, not {}", ext.kind()),
            ))
        }
    };
    let base = match file {
        None => {
            if !services.contains_key(&base_name) {
                return Err(err(
                    &ext,
                    &path,
                    format!("service {name:?} extends undefined service {base_name:?}"),
                ));
            }
            resolve_one(
                services, &base_name, shown, file_dir, lookup, warnings, stack, chain,
            )?
        }
        Some(f) => {
            let other = PathBuf::from(convert::absolute(&f, file_dir, lookup));
            if stack.contains(&other) && other.as_path() != Path::new(shown) {
                return Err(err(
                    &ext,
                    &path,
                    format!("extends cycle through {}", other.display()),
                ));
            }
            let other_dir = other.parent().map(Path::to_path_buf).unwrap_or_default();
            let doc = read_other(&other, Path::new(&f), lookup, warnings).map_err(|e| match e {
                LoadError::Io { source, .. } => err(
                    &ext,
                    &format!("{path}.file"),
                    format!("cannot read {f}: {source}"),
                ),
                other => other,
            })?;
            let other_services = doc
                .get("services")
                .and_then(Node::as_map)
                .cloned()
                .unwrap_or_default();
            if !other_services.contains_key(&base_name) {
                return Err(err(
                    &ext,
                    &path,
                    format!(
                        "cannot extend service {name:?}: service {base_name:?} not found in {f}"
                    ),
                ));
            }
            let b = resolve_one(
                &other_services,
                &base_name,
                Path::new(&f),
                &other_dir,
                lookup,
                warnings,
                stack,
                chain,
            )?;
            chain.pop();
            return Ok(extend_service(&b, svc, Some(&other_dir), lookup));
        }
    };
    chain.pop();
    Ok(extend_service(&base, svc, None, lookup))
}
