//! From the merged document tree to the typed [`Project`](crate::Project):
//! type checks, unknown keys, short syntaxes to long ones, paths made
//! absolute. Every error names the file, line and key path.

mod ports;
mod resources;
mod service;
mod volumes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::LoadError;
use crate::node::{scalar_json, Node, Value};

pub(crate) use resources::{convert_file_objects, convert_networks, convert_volumes};
pub(crate) use service::convert_service;
pub(crate) use volumes::is_path;

/// What conversion needs from the loader.
pub(crate) struct Cx<'a> {
    /// The project directory, against which relative paths resolve.
    pub project_dir: &'a Path,
    /// The project name (for resource names).
    pub project_name: &'a str,
    /// Variables (process environment over `.env`).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Cx<'_> {
    /// `path` made absolute against the project directory, `~` expanded.
    pub fn absolute(&self, path: &str) -> String {
        absolute(path, self.project_dir, self.env)
    }
}

/// `path` made absolute against `base`, `~` expanded with `HOME`.
pub(crate) fn absolute(path: &str, base: &Path, env: &dyn Fn(&str) -> Option<String>) -> String {
    let expanded: PathBuf = if path == "~" || path.starts_with("~/") {
        let home = env("HOME").unwrap_or_else(|| "/root".into());
        PathBuf::from(home).join(path.trim_start_matches('~').trim_start_matches('/'))
    } else {
        PathBuf::from(path)
    };
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    };
    clean(&joined)
}

/// Lexically remove `.` and `..` components.
fn clean(p: &Path) -> String {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    let s = out.to_string_lossy().into_owned();
    if s.is_empty() {
        "/".into()
    } else {
        s
    }
}

/// An error about `node` at `path`.
pub(crate) fn err(node: &Node, path: &str, message: impl Into<String>) -> LoadError {
    LoadError::at(node.pos.clone(), path, message)
}

fn type_err(node: &Node, path: &str, want: &str) -> LoadError {
    err(node, path, format!("must be a {want}, not {}", node.kind()))
}

/// `path.key`.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The entries of a mapping, or a type error.
pub(crate) fn map<'n>(
    node: &'n Node,
    path: &str,
) -> Result<&'n indexmap::IndexMap<String, Node>, LoadError> {
    node.as_map().ok_or_else(|| type_err(node, path, "mapping"))
}

/// Refuse keys not in `allowed` (extension keys `x-` are always allowed).
pub(crate) fn check_keys(node: &Node, path: &str, allowed: &[&str]) -> Result<(), LoadError> {
    for (k, v) in map(node, path)? {
        if !k.starts_with("x-") && !allowed.contains(&k.as_str()) {
            return Err(err(
                v,
                path,
                format!("additional property {k:?} is not allowed"),
            ));
        }
    }
    Ok(())
}

/// A scalar as text (numbers and booleans as written).
pub(crate) fn string(node: &Node, path: &str) -> Result<String, LoadError> {
    match &node.value {
        Value::Scalar(s) => Ok(s.text.clone()),
        _ => Err(type_err(node, path, "string")),
    }
}

/// A scalar or null.
pub(crate) fn opt_string(node: &Node, path: &str) -> Result<Option<String>, LoadError> {
    if node.is_null() {
        return Ok(None);
    }
    string(node, path).map(Some)
}

/// A boolean (`true`/`false`, also quoted, as Compose's schema casts them).
pub(crate) fn boolean(node: &Node, path: &str) -> Result<bool, LoadError> {
    match node.as_str() {
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        _ => Err(type_err(node, path, "boolean")),
    }
}

/// A non-negative integer (also quoted).
pub(crate) fn uint(node: &Node, path: &str) -> Result<u64, LoadError> {
    node.as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| type_err(node, path, "non-negative integer"))
}

/// An integer (also quoted).
pub(crate) fn int(node: &Node, path: &str) -> Result<i64, LoadError> {
    node.as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| type_err(node, path, "integer"))
}

/// A number (also quoted).
pub(crate) fn number(node: &Node, path: &str) -> Result<f64, LoadError> {
    node.as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|f| f.is_finite())
        .ok_or_else(|| type_err(node, path, "number"))
}

/// A size in bytes (`512m`, `1gb`, a number).
pub(crate) fn bytes(node: &Node, path: &str) -> Result<u64, LoadError> {
    let s = string(node, path)?;
    crate::units::parse_bytes(&s).ok_or_else(|| err(node, path, format!("invalid size {s:?}")))
}

/// A Go duration.
pub(crate) fn duration(node: &Node, path: &str) -> Result<crate::units::Duration, LoadError> {
    let s = string(node, path)?;
    crate::units::parse_duration(&s)
        .ok_or_else(|| err(node, path, format!("invalid duration {s:?}")))
}

/// A list of scalars.
pub(crate) fn string_list(node: &Node, path: &str) -> Result<Vec<String>, LoadError> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| string(n, &format!("{path}[{i}]")))
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(type_err(node, path, "list")),
    }
}

/// A scalar or a list of scalars.
pub(crate) fn string_or_list(node: &Node, path: &str) -> Result<Vec<String>, LoadError> {
    match &node.value {
        Value::Scalar(s) => Ok(vec![s.text.clone()]),
        _ => string_list(node, path),
    }
}

/// A mapping of scalars, or a list of `K=V` (values of bare `K` are None).
pub(crate) fn opt_string_map(
    node: &Node,
    path: &str,
) -> Result<BTreeMap<String, Option<String>>, LoadError> {
    let mut out = BTreeMap::new();
    match &node.value {
        Value::Map(m) => {
            for (k, v) in m {
                let p = join(path, k);
                let val = match &v.value {
                    Value::Null => None,
                    Value::Scalar(_) => Some(string(v, &p)?),
                    _ => return Err(type_err(v, &p, "string, number, boolean or null")),
                };
                out.insert(k.clone(), val);
            }
        }
        Value::Seq(items) => {
            for (i, n) in items.iter().enumerate() {
                let s = string(n, &format!("{path}[{i}]"))?;
                match s.split_once('=') {
                    Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                    None => out.insert(s, None),
                };
            }
        }
        Value::Null => {}
        Value::Scalar(_) => return Err(type_err(node, path, "mapping or list")),
    }
    Ok(out)
}

/// Like [`opt_string_map`] with missing values as "".
pub(crate) fn string_map(node: &Node, path: &str) -> Result<BTreeMap<String, String>, LoadError> {
    Ok(opt_string_map(node, path)?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// A node as plain JSON (for keys passed through as written).
pub(crate) fn raw(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Scalar(s) if s.plain => scalar_json(s),
        _ => node.to_json(),
    }
}

/// The command forms (`command`, `entrypoint`): a string is split as a
/// shell would, a list is taken as is.
pub(crate) fn shell_command(node: &Node, path: &str) -> Result<Option<Vec<String>>, LoadError> {
    match &node.value {
        Value::Null => Ok(None),
        Value::Scalar(s) => shlex::split(&s.text)
            .map(Some)
            .ok_or_else(|| err(node, path, format!("invalid command line {:?}", s.text))),
        _ => string_list(node, path).map(Some),
    }
}
