//! Top-level `networks`, `volumes`, `secrets` and `configs`.

use std::collections::BTreeMap;

use super::{boolean, check_keys, err, join, map, raw, string, string_map, Cx, LoadError};
use crate::model::{FileObject, Network, Volume};
use crate::node::Node;

/// `external:` as a boolean or the legacy `{name: x}` form; returns
/// (external, legacy name).
fn external(v: &Node, p: &str) -> Result<(bool, Option<String>), LoadError> {
    if let Some(m) = v.as_map() {
        check_keys(v, p, &["name"])?;
        return Ok((
            true,
            m.get("name")
                .map(|n| string(n, &join(p, "name")))
                .transpose()?,
        ));
    }
    Ok((boolean(v, p)?, None))
}

struct Common {
    name: String,
    external: bool,
    labels: BTreeMap<String, String>,
}

fn common(cx: &Cx, key: &str, v: &Node, p: &str) -> Result<Common, LoadError> {
    let m = map(v, p)?;
    let given = m
        .get("name")
        .map(|n| string(n, &join(p, "name")))
        .transpose()?;
    let (ext, legacy) = match m.get("external") {
        Some(e) => external(e, &join(p, "external"))?,
        None => (false, None),
    };
    let name = match (given.or(legacy), ext) {
        (Some(n), _) => n,
        (None, true) => key.to_string(),
        (None, false) => format!("{}_{key}", cx.project_name),
    };
    Ok(Common {
        name,
        external: ext,
        labels: m
            .get("labels")
            .map(|l| string_map(l, &join(p, "labels")))
            .transpose()?
            .unwrap_or_default(),
    })
}

fn entries(node: Option<&Node>, section: &str) -> Result<Vec<(String, Node)>, LoadError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    if node.is_null() {
        return Ok(Vec::new());
    }
    Ok(map(node, section)?
        .iter()
        .map(|(k, v)| {
            let v = if v.is_null() {
                Node::map(v.pos.clone())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect())
}

/// Top-level networks.
pub(crate) fn convert_networks(
    cx: &Cx,
    node: Option<&Node>,
) -> Result<BTreeMap<String, Network>, LoadError> {
    let mut out = BTreeMap::new();
    for (key, v) in entries(node, "networks")? {
        let p = format!("networks.{key}");
        check_keys(
            &v,
            &p,
            &[
                "name",
                "driver",
                "driver_opts",
                "external",
                "internal",
                "enable_ipv6",
                "enable_ipv4",
                "attachable",
                "ipam",
                "labels",
            ],
        )?;
        let c = common(cx, &key, &v, &p)?;
        let m = map(&v, &p)?;
        let flag = |k: &str| {
            m.get(k)
                .map(|n| boolean(n, &join(&p, k)))
                .transpose()
                .map(|o| o.unwrap_or(false))
        };
        out.insert(
            key.clone(),
            Network {
                name: c.name,
                driver: m
                    .get("driver")
                    .map(|n| string(n, &join(&p, "driver")))
                    .transpose()?,
                driver_opts: m
                    .get("driver_opts")
                    .map(|n| string_map(n, &join(&p, "driver_opts")))
                    .transpose()?
                    .unwrap_or_default(),
                external: c.external,
                internal: flag("internal")?,
                enable_ipv6: flag("enable_ipv6")?,
                attachable: flag("attachable")?,
                ipam: m.get("ipam").map(raw),
                labels: c.labels,
            },
        );
    }
    Ok(out)
}

/// Top-level volumes.
pub(crate) fn convert_volumes(
    cx: &Cx,
    node: Option<&Node>,
) -> Result<BTreeMap<String, Volume>, LoadError> {
    let mut out = BTreeMap::new();
    for (key, v) in entries(node, "volumes")? {
        let p = format!("volumes.{key}");
        check_keys(
            &v,
            &p,
            &["name", "driver", "driver_opts", "external", "labels"],
        )?;
        let c = common(cx, &key, &v, &p)?;
        let m = map(&v, &p)?;
        out.insert(
            key.clone(),
            Volume {
                name: c.name,
                driver: m
                    .get("driver")
                    .map(|n| string(n, &join(&p, "driver")))
                    .transpose()?,
                driver_opts: m
                    .get("driver_opts")
                    .map(|n| string_map(n, &join(&p, "driver_opts")))
                    .transpose()?
                    .unwrap_or_default(),
                external: c.external,
                labels: c.labels,
            },
        );
    }
    Ok(out)
}

/// Top-level secrets (`section` = "secrets") or configs ("configs").
pub(crate) fn convert_file_objects(
    cx: &Cx,
    node: Option<&Node>,
    section: &str,
) -> Result<BTreeMap<String, FileObject>, LoadError> {
    let mut out = BTreeMap::new();
    for (key, v) in entries(node, section)? {
        let p = format!("{section}.{key}");
        let mut allowed = vec![
            "name",
            "file",
            "environment",
            "external",
            "labels",
            "driver",
            "driver_opts",
            "template_driver",
        ];
        if section == "configs" {
            allowed.push("content");
        }
        check_keys(&v, &p, &allowed)?;
        let c = common(cx, &key, &v, &p)?;
        let m = map(&v, &p)?;
        let get = |k: &str| m.get(k).map(|n| string(n, &join(&p, k))).transpose();
        let obj = FileObject {
            name: c.name,
            file: get("file")?.map(|f| cx.absolute(&f)),
            environment: get("environment")?,
            content: get("content")?,
            external: c.external,
            labels: c.labels,
        };
        let sources = [
            obj.file.is_some(),
            obj.environment.is_some(),
            obj.content.is_some(),
            obj.external,
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if sources != 1 {
            return Err(err(
                &v,
                &p,
                "exactly one of \"file\", \"environment\", \"content\" or \"external\" must be set",
            ));
        }
        out.insert(key.clone(), obj);
    }
    Ok(out)
}
