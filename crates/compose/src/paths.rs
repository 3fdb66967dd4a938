//! Relative paths of a service (build context, env files, bind sources)
//! made absolute against a directory, on the document tree. Used for
//! services brought in by `extends: {file: ...}` and `include`, whose paths
//! are relative to their own file or project, not to the main project.

use std::path::Path;

use crate::convert::absolute;
use crate::node::{Node, Value};

/// Resolve the relative paths of one service against `base`.
pub(crate) fn resolve_service_paths(
    svc: &mut Node,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) {
    let abs = |s: &str| absolute(s, base, env);
    let Some(m) = svc.as_map_mut() else {
        return;
    };
    if let Some(b) = m.get_mut("build") {
        match &mut b.value {
            Value::Scalar(s) if !s.text.contains("://") => s.text = abs(&s.text),
            Value::Map(bm) => match bm.get_mut("context") {
                Some(c) => {
                    if let Value::Scalar(s) = &mut c.value {
                        if !s.text.contains("://") {
                            s.text = abs(&s.text);
                        }
                    }
                }
                None => {
                    bm.insert("context".into(), Node::string(abs("."), b.pos.clone()));
                }
            },
            _ => {}
        }
    }
    if let Some(e) = m.get_mut("env_file") {
        match &mut e.value {
            Value::Scalar(s) => s.text = abs(&s.text),
            Value::Seq(items) => {
                for item in items {
                    match &mut item.value {
                        Value::Scalar(s) => s.text = abs(&s.text),
                        Value::Map(im) => {
                            if let Some(Value::Scalar(s)) = im.get_mut("path").map(|p| &mut p.value)
                            {
                                s.text = abs(&s.text);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(Value::Seq(items)) = m.get_mut("volumes").map(|v| &mut v.value) {
        for item in items {
            match &mut item.value {
                Value::Scalar(s) => {
                    if let Some((src, rest)) = s.text.split_once(':') {
                        if crate::convert::is_path(src) {
                            s.text = format!("{}:{rest}", abs(src));
                        }
                    }
                }
                Value::Map(vm) => {
                    let is_bind = vm.get("type").and_then(|t| t.as_str()) == Some("bind");
                    if is_bind {
                        if let Some(Value::Scalar(s)) = vm.get_mut("source").map(|x| &mut x.value) {
                            s.text = abs(&s.text);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Resolve the `file:` of top-level secrets and configs against `base`.
pub(crate) fn resolve_top_level_paths(
    doc: &mut Node,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) {
    let Some(m) = doc.as_map_mut() else {
        return;
    };
    for section in ["secrets", "configs"] {
        let Some(objs) = m.get_mut(section).and_then(Node::as_map_mut) else {
            continue;
        };
        for obj in objs.values_mut() {
            if let Some(Value::Scalar(s)) = obj
                .as_map_mut()
                .and_then(|o| o.get_mut("file"))
                .map(|f| &mut f.value)
            {
                s.text = absolute(&s.text, base, env);
            }
        }
    }
    if let Some(services) = m.get_mut("services").and_then(Node::as_map_mut) {
        for svc in services.values_mut() {
            resolve_service_paths(svc, base, env);
        }
    }
}
