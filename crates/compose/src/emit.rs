//! Printing a project as `docker compose config` does: YAML (or JSON) with
//! `name` first, then services, networks, volumes, secrets, configs and
//! extensions, every mapping below sorted by key.

use serde_json::Value as Json;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

use crate::model::Project;

const ORDER: &[&str] = &[
    "name", "services", "networks", "volumes", "secrets", "configs",
];

/// The project as JSON, top-level keys in Compose's order.
fn ordered(project: &Project) -> Vec<(String, Json)> {
    let Ok(mut value) = serde_json::to_value(project) else {
        return Vec::new();
    };
    escape_dollars(&mut value);
    let Json::Object(mut top) = value else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for k in ORDER {
        if let Some(v) = top.remove(*k) {
            out.push((k.to_string(), v));
        }
    }
    out.extend(top);
    out
}

/// Values are printed interpolated; `$` is written `$$` so that reading
/// the output back gives the same values.
fn escape_dollars(v: &mut Json) {
    match v {
        Json::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Json::Array(a) => a.iter_mut().for_each(escape_dollars),
        Json::Object(o) => o.values_mut().for_each(escape_dollars),
        _ => {}
    }
}

fn to_yaml(v: &Json) -> Yaml {
    match v {
        Json::Null => Yaml::Null,
        Json::Bool(b) => Yaml::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => match n.as_u64() {
                Some(u) => Yaml::Real(u.to_string()),
                None => Yaml::Real(n.to_string()),
            },
        },
        Json::String(s) => Yaml::String(s.clone()),
        Json::Array(a) => Yaml::Array(a.iter().map(to_yaml).collect()),
        Json::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by_key(|k| (rank(o, k), k.as_str()));
            let mut h = Hash::new();
            for k in keys {
                h.insert(Yaml::String(k.clone()), to_yaml(&o[k.as_str()]));
            }
            Yaml::Hash(h)
        }
    }
}

/// Mounts and ports print their identifying keys first, as Compose does;
/// other mappings are sorted.
fn rank(o: &serde_json::Map<String, Json>, key: &str) -> usize {
    const MOUNT: &[&str] = &["type", "source", "target", "read_only"];
    const PORT: &[&str] = &["mode", "host_ip", "target", "published", "protocol"];
    let order = if o.contains_key("type") && o.contains_key("target") {
        MOUNT
    } else if o.contains_key("mode") && o.contains_key("protocol") && o.contains_key("target") {
        PORT
    } else {
        return 0;
    };
    order.iter().position(|k| *k == key).unwrap_or(order.len())
}

/// The project as YAML.
pub fn to_yaml_string(project: &Project) -> String {
    let mut h = Hash::new();
    for (k, v) in ordered(project) {
        h.insert(Yaml::String(k), to_yaml(&v));
    }
    let doc = Yaml::Hash(h);
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    if emitter.dump(&doc).is_err() {
        return String::new();
    }
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    let mut text: String = body
        .lines()
        .map(|l| match l.strip_suffix(": ~") {
            Some(k) => format!("{k}: null"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    text
}

/// The project as indented JSON.
pub fn to_json_string(project: &Project) -> String {
    let mut out = String::from("{\n");
    let entries = ordered(project);
    for (i, (k, v)) in entries.iter().enumerate() {
        let body = serde_json::to_string_pretty(v)
            .unwrap_or_default()
            .replace('\n', "\n  ");
        let key = serde_json::to_string(k).unwrap_or_default();
        out.push_str(&format!("  {key}: {body}"));
        out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
    }
    out.push_str("}\n");
    out
}
