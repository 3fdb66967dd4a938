//! A service's `env_file:` (a path, a list, or the long form with `path`
//! and `required`), read relative to the project directory.

use indexmap::IndexMap;
use std::collections::BTreeMap;

use crate::convert::{boolean, check_keys, err, join, map, string, Cx};
use crate::node::{Node, Value};
use crate::LoadError;

/// Read every env file of a service, later files overriding earlier ones.
pub(crate) fn read_env_files(
    cx: &Cx,
    v: &Node,
    p: &str,
) -> Result<BTreeMap<String, Option<String>>, LoadError> {
    let entries: Vec<(&Node, String, bool)> = match &v.value {
        Value::Scalar(_) => vec![(v, string(v, p)?, true)],
        Value::Seq(items) => {
            let mut out = Vec::new();
            for (i, n) in items.iter().enumerate() {
                let ip = format!("{p}[{i}]");
                if let Value::Map(_) = n.value {
                    check_keys(n, &ip, &["path", "required", "format"])?;
                    let m = map(n, &ip)?;
                    let path = m
                        .get("path")
                        .ok_or_else(|| err(n, &ip, "missing property \"path\""))
                        .and_then(|x| string(x, &join(&ip, "path")))?;
                    let required = m
                        .get("required")
                        .map(|x| boolean(x, &join(&ip, "required")))
                        .transpose()?
                        .unwrap_or(true);
                    out.push((n, path, required));
                } else {
                    out.push((n, string(n, &ip)?, true));
                }
            }
            out
        }
        Value::Null => Vec::new(),
        Value::Map(_) => return Err(err(v, p, "must be a string or list, not mapping")),
    };
    let mut env: IndexMap<String, String> = IndexMap::new();
    for (node, path, required) in entries {
        let abs = cx.absolute(&path);
        let text = match std::fs::read_to_string(&abs) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(err(node, p, format!("env file {abs} not found")));
            }
            Err(e) => return Err(LoadError::io(abs, e)),
        };
        let parsed = crate::dotenv::parse(&text, cx.env).map_err(|e| {
            LoadError::at(
                crate::node::Pos {
                    file: std::sync::Arc::from(std::path::Path::new(&abs)),
                    line: e.line,
                },
                "",
                e.message,
            )
        })?;
        env.extend(parsed);
    }
    Ok(env.into_iter().map(|(k, v)| (k, Some(v))).collect())
}
