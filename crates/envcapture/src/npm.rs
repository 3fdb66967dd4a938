//! Global npm packages: `<lib>/node_modules/*/package.json` (and scoped
//! `@scope/*`).

use crate::ctx::{join, Ctx, MAX_METADATA};
use crate::model::{Collection, Ecosystem, Package, Place};
use crate::rootfs::Kind;

/// Global module directories.
const ROOTS: &[&str] = &["/usr/lib/node_modules", "/usr/local/lib/node_modules"];

fn read(ctx: &mut Ctx, dir: &str) -> Option<Package> {
    let path = join(dir, "package.json");
    let text = ctx.text(&path, MAX_METADATA)?;
    let v: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            ctx.warn(&path, format!("bad JSON: {e}"));
            return None;
        }
    };
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match (s("name"), s("version")) {
        (Some(n), Some(ver)) => Some(Package::new(n, ver)),
        _ => {
            ctx.warn(&path, "no name or version (or not strings)");
            None
        }
    }
}

/// One collection per global module directory that exists.
pub fn capture(ctx: &mut Ctx) -> Vec<Collection> {
    let mut out = Vec::new();
    for root in ROOTS {
        if !ctx.is_dir(root) {
            continue;
        }
        let mut packages = Vec::new();
        for (name, kind) in ctx.list(root) {
            if kind == Kind::File || name.starts_with('.') {
                continue;
            }
            let dir = join(root, &name);
            if name.starts_with('@') {
                for (sub, k) in ctx.list(&dir) {
                    if k != Kind::File {
                        packages.extend(read(ctx, &join(&dir, &sub)));
                    }
                }
            } else {
                packages.extend(read(ctx, &dir));
            }
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        out.push(Collection {
            ecosystem: Ecosystem::Npm,
            location: root.to_string(),
            place: Place::System,
            interpreter: None,
            externally_managed: false,
            packages,
        });
    }
    out
}
