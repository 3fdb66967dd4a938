//! Human-readable text of captures and diffs.

use std::fmt::Write;

use crate::diff::{CollectionDiff, EnvDiff};
use crate::model::{Collection, Environment, Place};

/// `pip /opt/venv (venv, python 3.11.2)`.
pub fn heading(eco: &str, location: &str, place: Place, interpreter: Option<&str>) -> String {
    let mut extra = Vec::new();
    match place {
        Place::Venv => extra.push("venv".to_string()),
        Place::Conda if eco != "conda" => extra.push("conda env".to_string()),
        _ => {}
    }
    if let Some(i) = interpreter {
        extra.push(if i.starts_with("python") {
            i.to_string()
        } else {
            format!("python {i}")
        });
    }
    if extra.is_empty() {
        format!("{eco} {location}")
    } else {
        format!("{eco} {location} ({})", extra.join(", "))
    }
}

fn collection_heading(c: &Collection) -> String {
    heading(
        c.ecosystem.name(),
        &c.location,
        c.place,
        c.interpreter.as_deref(),
    )
}

/// A short summary: the OS, one line per collection with its package count,
/// then warnings.
pub fn summary(env: &Environment) -> String {
    let mut s = String::new();
    if let Some(os) = &env.os {
        let name = if os.pretty_name.is_empty() {
            format!("{} {}", os.id, os.version_id)
        } else {
            os.pretty_name.clone()
        };
        let _ = writeln!(s, "OS: {}", name.trim());
    }
    if !env.has_package_manager() {
        let _ = writeln!(
            s,
            "No package manager found (no dpkg, apk, Python, conda, npm or R package metadata)."
        );
    }
    for c in &env.collections {
        let n = c.packages.len();
        let _ = writeln!(
            s,
            "{}: {n} package{}",
            collection_heading(c),
            if n == 1 { "" } else { "s" }
        );
    }
    warnings(&mut s, env);
    s
}

fn warnings(s: &mut String, env: &Environment) {
    for w in &env.warnings {
        let _ = writeln!(s, "warning: {}: {}", w.path, w.message);
    }
}

/// Every package, one per line under its collection's heading.
pub fn listing(env: &Environment) -> String {
    let mut s = String::new();
    for c in &env.collections {
        let _ = writeln!(s, "{}", collection_heading(c));
        for p in &c.packages {
            let mut line = format!("  {} {}", p.name, p.version);
            if let Some(a) = &p.arch {
                let _ = write!(line, " ({a})");
            }
            if let Some(b) = &p.build {
                let _ = write!(line, " [{b}]");
            }
            let _ = writeln!(s, "{line}");
        }
    }
    warnings(&mut s, env);
    s
}

fn diff_heading(d: &CollectionDiff) -> String {
    heading(
        d.ecosystem.name(),
        &d.location,
        d.place,
        d.interpreter.as_deref(),
    )
}

/// The diff as text: a heading per changed collection, then one line per
/// change (`+` added, `-` removed, `^` upgraded, `v` downgraded).
pub fn diff_text(d: &EnvDiff) -> String {
    let mut s = String::new();
    for c in &d.collections {
        let _ = writeln!(s, "{}", diff_heading(c));
        for p in &c.added {
            let _ = writeln!(s, "  + {} {}", p.name, p.version);
        }
        for p in &c.removed {
            let _ = writeln!(s, "  - {} {}", p.name, p.version);
        }
        for v in &c.upgraded {
            let _ = writeln!(s, "  ^ {} {} -> {}", v.name, v.from, v.to);
        }
        for v in &c.downgraded {
            let _ = writeln!(s, "  v {} {} -> {}", v.name, v.from, v.to);
        }
    }
    s
}
