//! Finding Python virtualenvs (`pyvenv.cfg`) and conda environments
//! (`conda-meta/`) under the usual roots, without following symlinks and
//! with bounded depth and work.

use crate::ctx::{join, Ctx};
use crate::rootfs::Kind;

/// How deep below a search root an environment may be.
const MAX_DEPTH: usize = 4;
/// How many directories one capture may visit while searching.
const MAX_VISITS: usize = 20_000;

/// Directories never worth descending into.
const SKIP: &[&str] = &[
    "node_modules",
    "site-packages",
    "dist-packages",
    "__pycache__",
    ".git",
    ".cache",
    "pkgs",
    "include",
    "share",
    "man",
    "proc",
    "sys",
    "dev",
];

/// Top-level directories that are the system's, not a project's.
const SYSTEM_TOP: &[&str] = &[
    "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "media", "mnt", "proc", "run",
    "sbin", "sys", "tmp", "usr", "var",
];

/// Environments found.
#[derive(Debug, Default)]
pub struct Found {
    /// Virtualenv prefixes.
    pub venvs: Vec<String>,
    /// Conda environment prefixes.
    pub conda: Vec<String>,
}

/// Search the usual places.
pub fn find(ctx: &mut Ctx) -> Found {
    let mut found = Found::default();
    let mut visits = 0usize;
    let mut roots: Vec<(String, usize)> = vec![
        ("/opt".into(), MAX_DEPTH),
        ("/root".into(), MAX_DEPTH),
        ("/srv".into(), MAX_DEPTH),
        ("/workspace".into(), MAX_DEPTH),
        ("/usr/local".into(), 1),
    ];
    for (name, kind) in ctx.list("/home") {
        if kind == Kind::Dir {
            roots.push((join("/home", &name), MAX_DEPTH));
        }
    }
    // Other top-level project directories (`/venv`, `/app`, `/conda`).
    for (name, kind) in ctx.list("/") {
        let known = ["opt", "root", "srv", "workspace", "home"];
        if kind == Kind::Dir
            && !SYSTEM_TOP.contains(&name.as_str())
            && !known.contains(&name.as_str())
        {
            roots.push((join("/", &name), MAX_DEPTH));
        }
    }
    for (root, depth) in roots {
        walk(ctx, &root, depth, &mut visits, &mut found);
    }
    if visits >= MAX_VISITS {
        ctx.warn(
            "/",
            format!("stopped searching for environments after {MAX_VISITS} directories"),
        );
    }
    found.venvs.sort();
    found.venvs.dedup();
    found.conda.sort();
    found.conda.dedup();
    found
}

fn walk(ctx: &mut Ctx, dir: &str, depth: usize, visits: &mut usize, found: &mut Found) {
    if *visits >= MAX_VISITS {
        return;
    }
    *visits += 1;
    let entries = match ctx.root.list(dir) {
        Ok(e) => e,
        Err(_) => return,
    };
    if entries.get("pyvenv.cfg") == Some(&Kind::File) {
        found.venvs.push(dir.to_string());
        return;
    }
    if entries.get("conda-meta") == Some(&Kind::Dir) {
        found.conda.push(dir.to_string());
        // A conda installation keeps its other environments in `envs/`.
        let envs = join(dir, "envs");
        for (name, kind) in ctx.list(&envs) {
            if kind == Kind::Dir {
                walk(ctx, &join(&envs, &name), 0, visits, found);
            }
        }
        return;
    }
    if depth == 0 {
        return;
    }
    for (name, kind) in entries {
        // Symlinked directories are not followed: they lead to loops or to
        // places searched anyway.
        if kind != Kind::Dir || SKIP.contains(&name.as_str()) {
            continue;
        }
        walk(ctx, &join(dir, &name), depth - 1, visits, found);
    }
}
