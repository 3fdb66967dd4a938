//! Python distributions: `*.dist-info/METADATA`, `*.egg-info` (directory
//! with PKG-INFO, or a file) in every site-packages/dist-packages of a
//! prefix (the system's `/usr` and `/usr/local`, a venv, a conda env).

use crate::control::{field, headers};
use crate::ctx::{join, Ctx, MAX_METADATA, MAX_SMALL};
use crate::model::{Collection, Ecosystem, Package, Place};
use crate::rootfs::Kind;

/// The distribution's own Python directory on Debian and Ubuntu.
const DEBIAN_DIST_PACKAGES: &str = "/usr/lib/python3/dist-packages";

/// PEP 503 normalised name (lowercase, runs of `-_.` become `-`).
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for ch in name.chars() {
        if matches!(ch, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// The `lib/python3.X` directories of a prefix, sorted.
fn version_dirs(ctx: &mut Ctx, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for lib in ["lib", "lib64"] {
        let dir = join(prefix, lib);
        if !ctx.is_dir(&dir) {
            continue;
        }
        for (name, _) in ctx.list(&dir) {
            if name.starts_with("python3") && ctx.is_dir(&join(&dir, &name)) {
                out.push(join(&dir, &name));
            }
        }
    }
    out
}

/// The interpreter named by a venv's `pyvenv.cfg`.
fn venv_interpreter(ctx: &mut Ctx, prefix: &str) -> Option<String> {
    let cfg = ctx.text(&join(prefix, "pyvenv.cfg"), MAX_SMALL)?;
    cfg.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        matches!(k.trim(), "version" | "version_info").then(|| v.trim().to_string())
    })
}

/// Capture the Python distributions of `prefix`; `None` when it has no
/// site directory at all.
pub fn capture(ctx: &mut Ctx, prefix: &str, place: Place) -> Option<Collection> {
    let vdirs = version_dirs(ctx, prefix);
    let mut sites = Vec::new();
    for v in &vdirs {
        for s in ["site-packages", "dist-packages"] {
            let d = join(v, s);
            if ctx.is_dir(&d) {
                sites.push(d);
            }
        }
    }
    if place == Place::System {
        let d = join(prefix, "lib/python3/dist-packages");
        if ctx.is_dir(&d) {
            sites.push(d);
        }
    }
    if sites.is_empty() {
        return None;
    }
    let mut packages: Vec<Package> = Vec::new();
    for site in &sites {
        for (name, kind) in ctx.list(site) {
            let p = if name.ends_with(".dist-info") {
                dist_info(ctx, &join(site, &name))
            } else if name.ends_with(".egg-info") {
                let dir = join(site, &name);
                match kind {
                    Kind::File => egg_info(ctx, &dir, None),
                    _ => egg_info(ctx, &join(&dir, "PKG-INFO"), Some(&dir)),
                }
            } else {
                continue;
            };
            if let Some(mut p) = p {
                // Only apt writes Debian's /usr/lib/python3/dist-packages
                // (pip goes to /usr/local); its packages carry no INSTALLER.
                if p.installer.is_none() && site == DEBIAN_DIST_PACKAGES {
                    p.installer = Some("debian".into());
                }
                let key = normalize(&p.name);
                if !packages.iter().any(|q| normalize(&q.name) == key) {
                    packages.push(p);
                }
            }
        }
    }
    packages.sort_by_key(|p| normalize(&p.name));
    let interpreter = match place {
        Place::Venv => venv_interpreter(ctx, prefix),
        _ => None,
    }
    .or_else(|| {
        vdirs
            .iter()
            .filter_map(|d| d.rsplit('/').next())
            .find(|n| n.len() > "python3".len())
            .map(str::to_string)
    });
    let externally_managed = place == Place::System
        && vdirs
            .iter()
            .chain(version_dirs(ctx, "/usr").iter())
            .any(|d| ctx.root.kind(&join(d, "EXTERNALLY-MANAGED")) == Some(Kind::File));
    Some(Collection {
        ecosystem: Ecosystem::Pip,
        location: prefix.to_string(),
        place,
        interpreter,
        externally_managed,
        packages,
    })
}

/// Name and version from metadata headers, warning when they are missing.
fn from_headers(ctx: &mut Ctx, path: &str, text: &str) -> Option<Package> {
    let h = headers(text);
    match (field(&h, "Name"), field(&h, "Version")) {
        (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => Some(Package::new(n, v)),
        _ => {
            ctx.warn(path, "no Name or Version in the metadata");
            None
        }
    }
}

fn dist_info(ctx: &mut Ctx, dir: &str) -> Option<Package> {
    let meta = join(dir, "METADATA");
    let text = match ctx.root.read_text(&meta, MAX_METADATA) {
        Ok(t) => t,
        Err(e) => {
            ctx.warn(&meta, e.to_string());
            return None;
        }
    };
    let mut p = from_headers(ctx, &meta, &text)?;
    p.installer = ctx
        .text(&join(dir, "INSTALLER"), MAX_SMALL)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(du) = ctx.text(&join(dir, "direct_url.json"), MAX_SMALL) {
        match serde_json::from_str::<serde_json::Value>(&du) {
            Ok(v) => p.url = v.get("url").and_then(|u| u.as_str()).map(str::to_string),
            Err(e) => ctx.warn(&join(dir, "direct_url.json"), format!("bad JSON: {e}")),
        }
    }
    Some(p)
}

fn egg_info(ctx: &mut Ctx, pkg_info: &str, dir: Option<&str>) -> Option<Package> {
    let text = match ctx.root.read_text(pkg_info, MAX_METADATA) {
        Ok(t) => t,
        Err(e) => {
            ctx.warn(pkg_info, e.to_string());
            return None;
        }
    };
    let mut p = from_headers(ctx, pkg_info, &text)?;
    if let Some(d) = dir {
        p.installer = ctx
            .text(&join(d, "INSTALLER"), MAX_SMALL)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
    }
    Some(p)
}
