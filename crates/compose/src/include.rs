//! `include:`: other Compose projects (each with its own directory and
//! `.env`) brought into this file; their resources must not collide with
//! this file's.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::convert;
use crate::load::{abs_from, load_document, read_dotenv, Env};
use crate::merge::merge_documents;
use crate::node::{Node, Value};
use crate::paths::resolve_top_level_paths;
use crate::LoadError;

const SECTIONS: &[&str] = &["services", "networks", "volumes", "secrets", "configs"];

/// Bring the projects listed in `inc` into `doc`.
pub(crate) fn include(
    doc: &mut Node,
    inc: &Node,
    file_dir: &Path,
    env: &Env,
    warnings: &mut Vec<String>,
    stack: &mut Vec<PathBuf>,
) -> Result<(), LoadError> {
    let Value::Seq(items) = &inc.value else {
        return Err(convert::err(
            inc,
            "include",
            format!("must be a list, not {}", inc.kind()),
        ));
    };
    for (i, item) in items.iter().enumerate() {
        let ip = format!("include[{i}]");
        let (paths, project_directory, env_files) = match &item.value {
            Value::Scalar(s) => (vec![s.text.clone()], None, Vec::new()),
            Value::Map(m) => {
                convert::check_keys(item, &ip, &["path", "project_directory", "env_file"])?;
                let paths = m
                    .get("path")
                    .ok_or_else(|| convert::err(item, &ip, "missing property \"path\""))
                    .and_then(|p| convert::string_or_list(p, &format!("{ip}.path")))?;
                let pd = m
                    .get("project_directory")
                    .map(|p| convert::string(p, &format!("{ip}.project_directory")))
                    .transpose()?;
                let ef = m
                    .get("env_file")
                    .map(|p| convert::string_or_list(p, &format!("{ip}.env_file")))
                    .transpose()?
                    .unwrap_or_default();
                (paths, pd, ef)
            }
            _ => {
                return Err(convert::err(
                    item,
                    &ip,
                    format!("must be a string or mapping, not {}", item.kind()),
                ))
            }
        };
        let abs: Vec<PathBuf> = paths
            .iter()
            .map(|p| abs_from(file_dir, Path::new(p)))
            .collect();
        let Some(first) = abs.first() else {
            continue;
        };
        let sub_dir = match &project_directory {
            Some(d) => abs_from(file_dir, Path::new(d)),
            None => first.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let mut sub_env = Env {
            process: env.process.clone(),
            dotenv: IndexMap::new(),
        };
        if env_files.is_empty() {
            let dot = sub_dir.join(".env");
            if dot.is_file() {
                sub_env.dotenv = read_dotenv(&dot, &sub_env.process)?;
            }
        } else {
            for f in &env_files {
                let parsed = read_dotenv(&abs_from(file_dir, Path::new(f)), &sub_env.process)?;
                sub_env.dotenv.extend(parsed);
            }
        }
        let mut sub: Option<Node> = None;
        for (p, shown) in abs.iter().zip(&paths) {
            if stack.contains(p) {
                return Err(convert::err(
                    item,
                    &ip,
                    format!("include cycle: {} is already being loaded", p.display()),
                ));
            }
            let text = std::fs::read_to_string(p)
                .map_err(|e| convert::err(item, &ip, format!("cannot read {shown}: {e}")))?;
            stack.push(p.clone());
            let shown_path = PathBuf::from(shown);
            let d = load_document(
                &text,
                &shown_path,
                p.parent().unwrap_or(Path::new("/")),
                &sub_env,
                warnings,
                stack,
            )?;
            stack.pop();
            match &mut sub {
                None => sub = Some(d),
                Some(b) => merge_documents(b, d),
            }
        }
        let Some(mut sub) = sub else { continue };
        let lookup = |k: &str| sub_env.get(k);
        resolve_top_level_paths(&mut sub, &sub_dir, &lookup);
        let Value::Map(sub_map) = sub.value else {
            continue;
        };
        let Some(target) = doc.as_map_mut() else {
            continue;
        };
        for (section, node) in sub_map {
            if !SECTIONS.contains(&section.as_str()) {
                continue;
            }
            let Value::Map(entries) = node.value else {
                continue;
            };
            let dest = target
                .entry(section.clone())
                .or_insert_with(|| Node::map(item.pos.clone()));
            if dest.is_null() {
                *dest = Node::map(item.pos.clone());
            }
            let Some(dest_map) = dest.as_map_mut() else {
                continue;
            };
            for (k, v) in entries {
                if let Some(existing) = dest_map.get(&k) {
                    if existing.to_json() != v.to_json() {
                        return Err(convert::err(
                            existing,
                            &format!("{section}.{k}"),
                            "conflicts with imported resource",
                        ));
                    }
                    continue;
                }
                dest_map.insert(k, v);
            }
        }
    }
    Ok(())
}
