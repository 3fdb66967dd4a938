//! Merging Compose files (and `extends`) as Compose does: mappings merge key
//! by key, sequences append, scalars are replaced; `command`, `entrypoint`
//! and `healthcheck.test` are replaced whole; `ports`, `volumes`, `secrets`,
//! `configs` merge by their key (target, published port, source); map-like
//! lists (`environment`, `labels`, `build.args`, ...) are turned into
//! mappings first so they merge by variable name. `!reset` removes what
//! earlier files set, `!override` replaces it.

use indexmap::IndexMap;

use crate::node::{Marking, Node, Value};

/// Service keys whose list form `K=V` is a mapping.
const MAP_LISTS: &[&str] = &["environment", "labels", "annotations", "sysctls"];
/// Service keys replaced whole by a later file.
const REPLACED: &[&str] = &["command", "entrypoint"];

/// Merge `over` into `base` (both whole documents).
pub fn merge_documents(base: &mut Node, over: Node) {
    let Some(base_map) = base.as_map_mut() else {
        *base = over;
        return;
    };
    let Value::Map(entries) = over.value else {
        return;
    };
    for (key, value) in entries {
        if value.marking == Some(Marking::Reset) {
            base_map.shift_remove(&key);
            continue;
        }
        match (key.as_str(), base_map.get_mut(&key)) {
            ("services", Some(b)) if value.marking.is_none() => merge_services(b, value),
            (_, Some(b)) if value.marking.is_none() => merge_generic(b, value),
            _ => {
                base_map.insert(key, strip(value));
            }
        }
    }
}

fn merge_services(base: &mut Node, over: Node) {
    let (Some(b), Value::Map(entries)) = (base.as_map_mut(), over.value) else {
        return;
    };
    for (name, svc) in entries {
        if svc.marking == Some(Marking::Reset) {
            b.shift_remove(&name);
            continue;
        }
        match b.get_mut(&name) {
            Some(existing) if svc.marking.is_none() => merge_service(existing, svc),
            _ => {
                b.insert(name, strip(svc));
            }
        }
    }
}

/// Merge one service definition into another (also used by `extends`).
pub fn merge_service(base: &mut Node, mut over: Node) {
    normalize_service(base);
    normalize_service(&mut over);
    let (Some(b), Value::Map(entries)) = (base.as_map_mut(), over.value) else {
        return;
    };
    for (key, value) in entries {
        if value.marking == Some(Marking::Reset) {
            b.shift_remove(&key);
            continue;
        }
        let Some(existing) = b.get_mut(&key) else {
            b.insert(key, strip(value));
            continue;
        };
        if value.marking == Some(Marking::Override) || REPLACED.contains(&key.as_str()) {
            *existing = strip(value);
            continue;
        }
        match key.as_str() {
            "ports" => merge_keyed(existing, value, port_key),
            "volumes" => merge_keyed(existing, value, volume_key),
            "secrets" | "configs" => merge_keyed(existing, value, file_ref_key),
            "healthcheck" => {
                let replaced_test = value.get("test").cloned();
                merge_generic(existing, value);
                if let (Some(t), Some(m)) = (replaced_test, existing.as_map_mut()) {
                    m.insert("test".into(), strip(t));
                }
            }
            _ => merge_generic(existing, value),
        }
    }
}

/// Maps merge, sequences append (without duplicating equal scalars),
/// anything else is replaced.
pub fn merge_generic(base: &mut Node, over: Node) {
    if over.marking.is_some() {
        *base = strip(over);
        return;
    }
    match (&mut base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            for (k, v) in o {
                if v.marking == Some(Marking::Reset) {
                    b.shift_remove(&k);
                    continue;
                }
                match b.get_mut(&k) {
                    Some(existing) => merge_generic(existing, v),
                    None => {
                        b.insert(k, strip(v));
                    }
                }
            }
        }
        (Value::Seq(b), Value::Seq(o)) => {
            for item in o {
                let dup = item.as_str().is_some() && b.iter().any(|x| x.value == item.value);
                if !dup {
                    b.push(strip(item));
                }
            }
        }
        (_, value) => {
            base.value = value;
            base.pos = over.pos;
        }
    }
}

fn merge_keyed(base: &mut Node, over: Node, key: fn(&Node) -> String) {
    let (Value::Seq(b), Value::Seq(o)) = (&mut base.value, over.value.clone()) else {
        *base = strip(over);
        return;
    };
    for item in o {
        let k = key(&item);
        match b.iter_mut().find(|x| key(x) == k) {
            Some(existing) => *existing = strip(item),
            None => b.push(strip(item)),
        }
    }
}

fn port_key(n: &Node) -> String {
    match n.as_map() {
        Some(m) => {
            let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            format!("{}:{}:{}/{}", s("host_ip"), s("published"), s("target"), {
                let p = s("protocol");
                if p.is_empty() {
                    "tcp".to_string()
                } else {
                    p
                }
            })
        }
        None => n.as_str().unwrap_or("").to_string(),
    }
}

fn volume_key(n: &Node) -> String {
    match n.as_map() {
        Some(m) => m
            .get("target")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        None => {
            let s = n.as_str().unwrap_or("");
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() == 1 { parts[0] } else { parts[1] }.to_string()
        }
    }
}

fn file_ref_key(n: &Node) -> String {
    match n.as_map() {
        Some(m) => m
            .get("source")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        None => n.as_str().unwrap_or("").to_string(),
    }
}

/// Remove the merge tags of a node that now stands on its own.
fn strip(mut n: Node) -> Node {
    n.marking = None;
    n
}

/// Turn the list forms of map-like service keys into mappings, so that
/// they merge by key: `environment`, `labels`, `build.args`, `depends_on`,
/// `networks`, `extra_hosts` stays a list.
pub fn normalize_service(svc: &mut Node) {
    let Some(m) = svc.as_map_mut() else {
        return;
    };
    // `build: DIR` is `build: {context: DIR}`, so that a later file can add args.
    if let Some(b) = m.get_mut("build") {
        if let Value::Scalar(_) = b.value {
            let context = b.clone();
            let mut map = IndexMap::new();
            map.insert("context".to_string(), context);
            b.value = Value::Map(map);
        }
    }
    for key in MAP_LISTS {
        if let Some(n) = m.get_mut(*key) {
            list_to_map(n, '=');
        }
    }
    if let Some(b) = m.get_mut("build").and_then(Node::as_map_mut) {
        for key in ["args", "labels"] {
            if let Some(n) = b.get_mut(key) {
                list_to_map(n, '=');
            }
        }
    }
    for key in ["depends_on", "networks"] {
        if let Some(n) = m.get_mut(key) {
            if let Value::Seq(items) = &n.value {
                let mut map = IndexMap::new();
                for item in items {
                    if let Some(s) = item.as_str() {
                        let v = if key == "depends_on" {
                            let mut d = Node::map(item.pos.clone());
                            if let Some(dm) = d.as_map_mut() {
                                dm.insert(
                                    "condition".into(),
                                    Node::string("service_started", item.pos.clone()),
                                );
                            }
                            d
                        } else {
                            Node::new(Value::Null, item.pos.clone())
                        };
                        map.insert(s.to_string(), v);
                    }
                }
                if map.len() == items.len() {
                    n.value = Value::Map(map);
                }
            }
        }
    }
}

/// `["A=1", "B"]` → `{A: "1", B: null}`, when every item is a scalar.
fn list_to_map(n: &mut Node, sep: char) {
    let Value::Seq(items) = &n.value else {
        return;
    };
    let mut map = IndexMap::new();
    for item in items {
        let Some(s) = item.as_str() else {
            return;
        };
        match s.split_once(sep) {
            Some((k, v)) => map.insert(k.to_string(), Node::string(v, item.pos.clone())),
            None => map.insert(s.to_string(), Node::new(Value::Null, item.pos.clone())),
        };
    }
    n.value = Value::Map(map);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::parse;
    use std::path::Path;

    fn merged(a: &str, b: &str) -> serde_json::Value {
        let mut base = parse(a, Path::new("a.yaml")).unwrap();
        merge_documents(&mut base, parse(b, Path::new("b.yaml")).unwrap());
        base.to_json()
    }

    #[test]
    fn maps_merge_lists_append_scalars_replace() {
        let j = merged(
            "services:\n  web:\n    image: a\n    cap_add: [X]\n    labels: [a=1]\n    environment: {A: '1', B: '2'}\n",
            "services:\n  web:\n    image: b\n    cap_add: [X, Y]\n    labels: {b: '2'}\n    environment: [B=3, C=4]\n  db: {image: pg}\n",
        );
        let web = &j["services"]["web"];
        assert_eq!(web["image"], "b");
        assert_eq!(web["cap_add"], serde_json::json!(["X", "Y"]));
        assert_eq!(web["labels"], serde_json::json!({"a": "1", "b": "2"}));
        assert_eq!(
            web["environment"],
            serde_json::json!({"A": "1", "B": "3", "C": "4"})
        );
        assert_eq!(j["services"]["db"]["image"], "pg");
    }

    #[test]
    fn command_entrypoint_and_healthcheck_test_replace() {
        let j = merged(
            "services:\n  w:\n    command: [a, b]\n    entrypoint: [x]\n    healthcheck: {test: [CMD, a], retries: 3}\n",
            "services:\n  w:\n    command: [c]\n    entrypoint: y\n    healthcheck: {test: [CMD, b]}\n",
        );
        let w = &j["services"]["w"];
        assert_eq!(w["command"], serde_json::json!(["c"]));
        assert_eq!(w["entrypoint"], "y");
        assert_eq!(
            w["healthcheck"],
            serde_json::json!({"test": ["CMD", "b"], "retries": 3})
        );
    }

    #[test]
    fn ports_volumes_secrets_merge_by_key() {
        let j = merged(
            "services:\n  w:\n    ports: ['80:80', '443:443']\n    volumes: ['a:/data', './x:/x']\n    secrets: [s1]\n",
            "services:\n  w:\n    ports: ['80:80', '81:81']\n    volumes: ['b:/data:ro']\n    secrets: [{source: s1, target: t}]\n",
        );
        let w = &j["services"]["w"];
        assert_eq!(w["ports"], serde_json::json!(["80:80", "443:443", "81:81"]));
        assert_eq!(w["volumes"], serde_json::json!(["b:/data:ro", "./x:/x"]));
        assert_eq!(
            w["secrets"],
            serde_json::json!([{"source": "s1", "target": "t"}])
        );
    }

    #[test]
    fn reset_and_override() {
        let j = merged(
            "services:\n  w:\n    ports: ['80:80']\n    environment: {A: '1', B: '2'}\n    labels: {a: '1'}\n  gone: {image: x}\nvolumes: {v: {}}\n",
            "services:\n  w:\n    ports: !reset []\n    environment: !override {C: '3'}\n    labels:\n      a: !reset\n  gone: !reset\nvolumes: !reset {}\n",
        );
        let w = &j["services"]["w"];
        assert!(w.get("ports").is_none());
        assert_eq!(w["environment"], serde_json::json!({"C": "3"}));
        assert_eq!(w["labels"], serde_json::json!({}));
        assert!(j["services"].get("gone").is_none());
        assert!(j.get("volumes").is_none());
    }

    #[test]
    fn build_string_merges_with_build_mapping() {
        let j = merged(
            "services:\n  w:\n    build: ./app\n",
            "services:\n  w:\n    build: {args: {A: '1'}}\n",
        );
        assert_eq!(
            j["services"]["w"]["build"],
            serde_json::json!({"context": "./app", "args": {"A": "1"}})
        );
    }

    #[test]
    fn depends_on_and_networks_lists_merge_with_maps() {
        let j = merged(
            "services:\n  w:\n    depends_on: [db]\n    networks: [a]\n",
            "services:\n  w:\n    depends_on: {cache: {condition: service_healthy}}\n    networks: {b: {aliases: [x]}}\n",
        );
        let w = &j["services"]["w"];
        assert_eq!(w["depends_on"]["db"]["condition"], "service_started");
        assert_eq!(w["depends_on"]["cache"]["condition"], "service_healthy");
        assert_eq!(
            w["networks"],
            serde_json::json!({"a": null, "b": {"aliases": ["x"]}})
        );
    }
}
