//! System package databases: dpkg, apk, and `/etc/os-release`.

use crate::control::{field, stanzas};
use crate::ctx::{Ctx, MAX_DATABASE, MAX_SMALL};
use crate::model::{Collection, Ecosystem, OsInfo, Package, Place};

/// `/etc/os-release` (or `/usr/lib/os-release`).
pub fn os_release(ctx: &mut Ctx) -> Option<OsInfo> {
    let text = ctx
        .text("/etc/os-release", MAX_SMALL)
        .or_else(|| ctx.text("/usr/lib/os-release", MAX_SMALL))?;
    let mut os = OsInfo::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => os.id = v,
            "VERSION_ID" => os.version_id = v,
            "PRETTY_NAME" => os.pretty_name = v,
            _ => {}
        }
    }
    Some(os)
}

fn sorted(mut packages: Vec<Package>) -> Vec<Package> {
    packages.sort_by(|a, b| a.name.cmp(&b.name).then(a.arch.cmp(&b.arch)));
    packages
}

/// Installed Debian packages from `/var/lib/dpkg/status`.
pub fn dpkg(ctx: &mut Ctx) -> Option<Collection> {
    const PATH: &str = "/var/lib/dpkg/status";
    let text = ctx.text(PATH, MAX_DATABASE)?;
    let mut packages = Vec::new();
    for s in stanzas(&text) {
        let (Some(name), Some(status)) = (field(&s, "Package"), field(&s, "Status")) else {
            continue;
        };
        // "install ok installed", "hold ok installed": the third word is the state.
        if status.split_whitespace().nth(2) != Some("installed") {
            continue;
        }
        let Some(version) = field(&s, "Version") else {
            ctx.warn(PATH, format!("package {name} has no Version"));
            continue;
        };
        let mut p = Package::new(name, version);
        p.arch = field(&s, "Architecture").map(str::to_string);
        packages.push(p);
    }
    Some(Collection {
        ecosystem: Ecosystem::Dpkg,
        location: "/".into(),
        place: Place::System,
        interpreter: None,
        externally_managed: false,
        packages: sorted(packages),
    })
}

/// Installed Alpine packages from `/lib/apk/db/installed`.
pub fn apk(ctx: &mut Ctx) -> Option<Collection> {
    const PATH: &str = "/lib/apk/db/installed";
    let text = ctx.text(PATH, MAX_DATABASE)?;
    let mut packages = Vec::new();
    for s in stanzas(&text) {
        // apk's keys are case-sensitive ("A" is the architecture, "a" a file's owner).
        let get = |k: &str| s.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let (Some(name), Some(version)) = (get("P"), get("V")) else {
            continue;
        };
        let mut p = Package::new(name, version);
        p.arch = get("A").map(str::to_string);
        packages.push(p);
    }
    Some(Collection {
        ecosystem: Ecosystem::Apk,
        location: "/".into(),
        place: Place::System,
        interpreter: None,
        externally_managed: false,
        packages: sorted(packages),
    })
}
