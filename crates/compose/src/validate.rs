//! Cross-references between services and top-level objects: dependencies
//! (and their cycles), links, `volumes_from`, `network_mode: service:X`,
//! named volumes, networks, secrets and configs.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use crate::convert::err;
use crate::merge::normalize_service;
use crate::model::Project;
use crate::node::Node;
use crate::LoadError;

fn item<'n>(svc: &'n Node, key: &str, index: usize) -> &'n Node {
    svc.get(key)
        .and_then(|v| v.as_seq())
        .and_then(|s| s.get(index))
        .or_else(|| svc.get(key))
        .unwrap_or(svc)
}

fn entry<'n>(svc: &'n Node, key: &str, name: &str) -> &'n Node {
    svc.get(key)
        .and_then(|v| v.get(name))
        .or_else(|| svc.get(key))
        .unwrap_or(svc)
}

/// Check every reference of the active services. `all` holds every
/// service, active or not, to tell "inactive" from "undefined".
pub(crate) fn validate(
    project: &mut Project,
    active: &IndexMap<String, Node>,
    all: &IndexMap<String, Node>,
    warnings: &mut Vec<String>,
) -> Result<(), LoadError> {
    let invalid = ": invalid compose project";
    for (name, raw) in active {
        let mut node = raw.clone();
        normalize_service(&mut node);
        let path = format!("services.{name}");
        let Some(svc) = project.services.get_mut(name) else {
            continue;
        };
        let mut dropped = Vec::new();
        for (dep, d) in &svc.depends_on {
            if active.contains_key(dep) {
                continue;
            }
            let n = entry(&node, "depends_on", dep);
            if !d.required {
                warnings.push(format!("service {name:?} depends on undefined service {dep:?}: ignoring, as it is not required"));
                dropped.push(dep.clone());
            } else if all.contains_key(dep) {
                return Err(err(n, &format!("{path}.depends_on"), format!("service {name:?} depends on service {dep:?} which is disabled by its profiles{invalid}")));
            } else {
                return Err(err(
                    n,
                    &format!("{path}.depends_on"),
                    format!("service {name:?} depends on undefined service {dep:?}{invalid}"),
                ));
            }
        }
        for d in dropped {
            svc.depends_on.remove(&d);
        }
        for (i, l) in svc.links.iter().enumerate() {
            let target = l.split(':').next().unwrap_or("");
            if !active.contains_key(target) {
                return Err(err(
                    item(&node, "links", i),
                    &format!("{path}.links[{i}]"),
                    format!("service {name:?} links to undefined service {target:?}{invalid}"),
                ));
            }
        }
        for (i, v) in svc.volumes_from.iter().enumerate() {
            if v.starts_with("container:") {
                continue;
            }
            let target = v.split(':').next().unwrap_or("");
            if !active.contains_key(target) {
                return Err(err(item(&node, "volumes_from", i), &format!("{path}.volumes_from[{i}]"), format!("service {name:?} refers to undefined service {target:?} in volumes_from{invalid}")));
            }
        }
        if let Some(target) = svc
            .network_mode
            .as_deref()
            .and_then(|m| m.strip_prefix("service:"))
        {
            if !active.contains_key(target) {
                return Err(err(entry(&node, "network_mode", ""), &format!("{path}.network_mode"), format!("service {name:?} uses the network stack of undefined service {target:?}{invalid}")));
            }
        }
        for (i, v) in svc.volumes.iter().enumerate() {
            if v.kind == "volume" {
                if let Some(src) = &v.source {
                    if !project.volumes.contains_key(src) {
                        return Err(err(
                            item(&node, "volumes", i),
                            &format!("{path}.volumes[{i}]"),
                            format!("service {name:?} refers to undefined volume {src}{invalid}"),
                        ));
                    }
                }
            }
        }
        for net in svc.networks.keys() {
            if net != "default" && !project.networks.contains_key(net) {
                return Err(err(
                    entry(&node, "networks", net),
                    &format!("{path}.networks"),
                    format!("service {name:?} refers to undefined network {net}{invalid}"),
                ));
            }
        }
        for (kind, refs, defined) in [
            ("secret", &svc.secrets, &project.secrets),
            ("config", &svc.configs, &project.configs),
        ] {
            for (i, r) in refs.iter().enumerate() {
                if !defined.contains_key(&r.source) {
                    let key = format!("{kind}s");
                    return Err(err(
                        item(&node, &key, i),
                        &format!("{path}.{key}[{i}]"),
                        format!(
                            "service {name:?} refers to undefined {kind} {}{invalid}",
                            r.source
                        ),
                    ));
                }
            }
        }
    }
    check_cycles(project, active)
}

fn check_cycles(project: &Project, active: &IndexMap<String, Node>) -> Result<(), LoadError> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        project: &'a Project,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| *p == n).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        if let Some(svc) = project.services.get(n) {
            for dep in svc.depends_on.keys() {
                if let Some(c) = visit(dep, project, state, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    for name in project.services.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(name, project, &mut state, &mut path) {
            let first = &cycle[0];
            let node = active.get(first).map(|n| n.get("depends_on").unwrap_or(n));
            let msg = format!("dependency cycle detected: {}", cycle.join(" -> "));
            return Err(match node {
                Some(n) => err(n, &format!("services.{first}.depends_on"), msg),
                None => LoadError::project(msg),
            });
        }
    }
    Ok(())
}
