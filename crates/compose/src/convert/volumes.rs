//! Service `volumes:` (short `[source:]target[:mode]` and long syntax).

use super::{boolean, bytes, check_keys, err, join, map, opt_string, string, Cx, LoadError};
use crate::model::{BindOptions, ServiceVolume, TmpfsOptions, VolumeOptions};
use crate::node::{Node, Value};

const LONG_KEYS: &[&str] = &[
    "type",
    "source",
    "target",
    "read_only",
    "bind",
    "volume",
    "tmpfs",
    "consistency",
];

/// Whether a short-syntax source is a host path rather than a volume name.
pub(crate) fn is_path(source: &str) -> bool {
    source.starts_with('.') || source.starts_with('/') || source.starts_with('~')
}

/// Convert a service's `volumes` list.
pub(crate) fn convert_volumes(
    cx: &Cx,
    node: &Node,
    path: &str,
) -> Result<Vec<ServiceVolume>, LoadError> {
    let Value::Seq(items) = &node.value else {
        return Err(err(
            node,
            path,
            format!("must be a list, not {}", node.kind()),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let p = format!("{path}[{i}]");
            match &item.value {
                Value::Scalar(s) => short(cx, &s.text).ok_or_else(|| {
                    err(
                        item,
                        &p,
                        format!("invalid volume specification {:?}", s.text),
                    )
                }),
                Value::Map(_) => long(cx, item, &p),
                _ => Err(err(
                    item,
                    &p,
                    format!("must be a string or mapping, not {}", item.kind()),
                )),
            }
        })
        .collect()
}

fn short(cx: &Cx, spec: &str) -> Option<ServiceVolume> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, ""),
        [s, t] => (Some(*s), *t, ""),
        [s, t, m] => (Some(*s), *t, *m),
        _ => return None,
    };
    if target.is_empty() || !target.starts_with('/') || source == Some("") {
        return None;
    }
    let mut v = ServiceVolume {
        kind: "volume".into(),
        source: None,
        target: target.to_string(),
        read_only: false,
        bind: None,
        volume: None,
        tmpfs: None,
    };
    let mut bind = BindOptions::default();
    let mut vol = VolumeOptions::default();
    for opt in mode.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "z" | "Z" => bind.selinux = Some(opt.to_string()),
            "nocopy" => vol.nocopy = true,
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                bind.propagation = Some(opt.to_string())
            }
            "consistent" | "cached" | "delegated" => {}
            _ => return None,
        }
    }
    match source {
        Some(s) if is_path(s) => {
            v.kind = "bind".into();
            v.source = Some(cx.absolute(s));
            bind.create_host_path = true;
            v.bind = Some(bind);
        }
        Some(s) => {
            v.source = Some(s.to_string());
            if vol != VolumeOptions::default() {
                v.volume = Some(vol);
            }
        }
        None => {
            if vol != VolumeOptions::default() {
                v.volume = Some(vol);
            }
        }
    }
    Some(v)
}

fn long(cx: &Cx, item: &Node, p: &str) -> Result<ServiceVolume, LoadError> {
    check_keys(item, p, LONG_KEYS)?;
    let m = map(item, p)?;
    let kind = match m.get("type") {
        Some(n) => {
            let t = string(n, &join(p, "type"))?;
            if !matches!(
                t.as_str(),
                "volume" | "bind" | "tmpfs" | "npipe" | "image" | "cluster"
            ) {
                return Err(err(
                    n,
                    &join(p, "type"),
                    format!("invalid mount type {t:?}"),
                ));
            }
            t
        }
        None => return Err(err(item, p, "missing property \"type\"")),
    };
    let target_node = m
        .get("target")
        .ok_or_else(|| err(item, p, "missing property \"target\""))?;
    let target = string(target_node, &join(p, "target"))?;
    if !target.starts_with('/') {
        return Err(err(
            target_node,
            &join(p, "target"),
            format!("mount target must be an absolute path: {target:?}"),
        ));
    }
    let mut source = match m.get("source") {
        Some(n) => opt_string(n, &join(p, "source"))?,
        None => None,
    };
    if kind == "bind" {
        match &source {
            Some(s) => source = Some(cx.absolute(s)),
            None => return Err(err(item, p, "a bind mount needs a source")),
        }
    }
    let read_only = match m.get("read_only") {
        Some(n) => boolean(n, &join(p, "read_only"))?,
        None => false,
    };
    let bind = match m.get("bind") {
        Some(n) => {
            let bp = join(p, "bind");
            check_keys(n, &bp, &["propagation", "create_host_path", "selinux"])?;
            let bm = map(n, &bp)?;
            Some(BindOptions {
                create_host_path: bm
                    .get("create_host_path")
                    .map(|v| boolean(v, &join(&bp, "create_host_path")))
                    .transpose()?
                    .unwrap_or(false),
                selinux: bm
                    .get("selinux")
                    .map(|v| string(v, &join(&bp, "selinux")))
                    .transpose()?,
                propagation: bm
                    .get("propagation")
                    .map(|v| string(v, &join(&bp, "propagation")))
                    .transpose()?,
            })
        }
        None => None,
    };
    let volume = match m.get("volume") {
        Some(n) => {
            let vp = join(p, "volume");
            check_keys(n, &vp, &["nocopy", "subpath"])?;
            let vm = map(n, &vp)?;
            Some(VolumeOptions {
                nocopy: vm
                    .get("nocopy")
                    .map(|v| boolean(v, &join(&vp, "nocopy")))
                    .transpose()?
                    .unwrap_or(false),
                subpath: vm
                    .get("subpath")
                    .map(|v| string(v, &join(&vp, "subpath")))
                    .transpose()?,
            })
        }
        None => None,
    };
    let tmpfs = match m.get("tmpfs") {
        Some(n) => {
            let tp = join(p, "tmpfs");
            check_keys(n, &tp, &["size", "mode"])?;
            let tm = map(n, &tp)?;
            Some(TmpfsOptions {
                size: tm
                    .get("size")
                    .map(|v| bytes(v, &join(&tp, "size")))
                    .transpose()?,
                mode: tm
                    .get("mode")
                    .map(|v| super::service::file_mode(v, &join(&tp, "mode")))
                    .transpose()?,
            })
        }
        None => None,
    };
    Ok(ServiceVolume {
        kind,
        source,
        target,
        read_only,
        bind,
        volume,
        tmpfs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cx_short(s: &str) -> Option<ServiceVolume> {
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        let cx = Cx {
            project_dir: Path::new("/proj"),
            project_name: "p",
            env: &env,
        };
        short(&cx, s)
    }

    #[test]
    fn short_syntax() {
        let v = cx_short("./data:/data:ro").unwrap();
        assert_eq!(
            (v.kind.as_str(), v.source.as_deref(), v.read_only),
            ("bind", Some("/proj/data"), true)
        );
        assert!(v.bind.unwrap().create_host_path);
        let v = cx_short("~/src:/src").unwrap();
        assert_eq!(v.source.as_deref(), Some("/home/u/src"));
        let v = cx_short("../up:/x").unwrap();
        assert_eq!(v.source.as_deref(), Some("/up"));
        let v = cx_short("db:/var/lib/db:nocopy").unwrap();
        assert_eq!(
            (v.kind.as_str(), v.source.as_deref()),
            ("volume", Some("db"))
        );
        assert!(v.volume.unwrap().nocopy);
        let v = cx_short("/anon").unwrap();
        assert_eq!((v.kind.as_str(), v.source), ("volume", None));
        for bad in ["a:b", "a:/b:bogus", "a:/b:c:d", ":/x", ""] {
            assert!(cx_short(bad).is_none(), "{bad}");
        }
    }
}
