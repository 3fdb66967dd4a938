//! Conda packages: `<prefix>/conda-meta/*.json`.

use crate::ctx::{join, Ctx, MAX_CONDA_RECORD};
use crate::model::{Collection, Ecosystem, Package, Place};
use crate::rootfs::Kind;

/// The conda packages of the environment at `prefix`.
pub fn capture(ctx: &mut Ctx, prefix: &str) -> Collection {
    let dir = join(prefix, "conda-meta");
    let mut packages = Vec::new();
    for (name, kind) in ctx.list(&dir) {
        if !name.ends_with(".json") || kind == Kind::Dir {
            continue;
        }
        let path = join(&dir, &name);
        let Some(text) = ctx.text(&path, MAX_CONDA_RECORD) else {
            continue;
        };
        let v: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                ctx.warn(&path, format!("bad JSON: {e}"));
                continue;
            }
        };
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let (Some(n), Some(ver)) = (s("name"), s("version")) else {
            ctx.warn(&path, "no name or version (or not strings)");
            continue;
        };
        let mut p = Package::new(n, ver);
        p.build = s("build");
        p.channel = s("schannel").or_else(|| s("channel"));
        p.url = s("url");
        packages.push(p);
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Collection {
        ecosystem: Ecosystem::Conda,
        location: prefix.to_string(),
        place: Place::Conda,
        interpreter: None,
        externally_managed: false,
        packages,
    }
}
