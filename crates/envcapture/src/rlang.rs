//! R packages: `<library>/*/DESCRIPTION`.

use crate::control::{field, stanzas};
use crate::ctx::{join, Ctx, MAX_METADATA};
use crate::model::{Collection, Ecosystem, Package, Place};
use crate::rootfs::Kind;

/// R library paths, in R's search order on Debian.
const LIBRARIES: &[&str] = &[
    "/usr/local/lib/R/site-library",
    "/usr/lib/R/site-library",
    "/usr/lib/R/library",
    "/usr/local/lib/R/library",
];

/// One collection per R library that exists.
pub fn capture(ctx: &mut Ctx) -> Vec<Collection> {
    let mut out = Vec::new();
    for lib in LIBRARIES {
        if !ctx.is_dir(lib) {
            continue;
        }
        let mut packages = Vec::new();
        for (name, kind) in ctx.list(lib) {
            if kind == Kind::File {
                continue;
            }
            let path = join(&join(lib, &name), "DESCRIPTION");
            let Some(text) = ctx.text(&path, MAX_METADATA) else {
                continue;
            };
            let s = stanzas(&text).into_iter().next().unwrap_or_default();
            let (Some(n), Some(v)) = (field(&s, "Package"), field(&s, "Version")) else {
                ctx.warn(&path, "no Package or Version");
                continue;
            };
            let mut p = Package::new(n, v);
            p.channel = field(&s, "Repository").map(str::to_string);
            p.builtin = matches!(field(&s, "Priority"), Some("base" | "recommended"));
            packages.push(p);
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        out.push(Collection {
            ecosystem: Ecosystem::R,
            location: lib.to_string(),
            place: Place::System,
            interpreter: None,
            externally_managed: false,
            packages,
        });
    }
    out
}
