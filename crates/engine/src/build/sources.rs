//! The sources of a COPY/ADD: resolved inside the context (or a `--from`
//! image), filtered by .dockerignore, globbed, and hashed for the cache.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_dockerfile::{Heredoc, IgnoreMatcher};
use sha2::{Digest as _, Sha256};

use super::copy::CopyRequest;
use super::fetch;
use super::tree::{join_rel, resolve, DiskTree, NodeKind, Tree};
use crate::error::{EngineError, Result};

/// One source, resolved to a host path.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The file or directory on the host.
    pub host: PathBuf,
    /// Its name when copied into a directory.
    pub name: String,
    /// Its path relative to the context root (for .dockerignore), if it
    /// comes from the context.
    pub rel: Option<String>,
    /// A downloaded file (mode 0600, never extracted).
    pub remote: bool,
    /// Its resolved path inside the source tree (None for heredocs and
    /// downloads, which live in the scratch dir).
    pub path: Option<String>,
}

/// Which files of a source tree count.
#[derive(Clone, Copy)]
pub(crate) struct Filter<'a> {
    pub ignore: Option<&'a IgnoreMatcher>,
}

impl Filter<'_> {
    pub(crate) fn excluded(&self, rel: Option<&str>) -> bool {
        match (self.ignore, rel) {
            (Some(m), Some(r)) => !m.is_empty() && m.is_excluded(r),
            _ => false,
        }
    }
    pub(crate) fn descend(&self, rel: Option<&str>) -> bool {
        match (self.ignore, rel) {
            (Some(m), Some(r)) => m.is_empty() || !m.is_excluded(r) || m.may_include_below(r),
            _ => true,
        }
    }
}

pub(crate) fn child_rel(rel: Option<&str>, name: &str) -> Option<String> {
    rel.map(|r| {
        if r.is_empty() {
            name.to_string()
        } else {
            format!("{r}/{name}")
        }
    })
}

pub(crate) fn io_err(what: impl std::fmt::Display, e: std::io::Error) -> EngineError {
    EngineError::io(what, e)
}

/// Sorted names of a directory's entries.
pub(crate) fn sorted_names(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| io_err(format!("reading {}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Hash a source tree: names, types, permission bits, sizes, link targets
/// and content digests; not times or owners (which COPY does not keep).
pub(crate) fn hash_tree(
    h: &mut Sha256,
    tree: &dyn Tree,
    path: &str,
    rel_name: &str,
    rel: Option<&str>,
    f: Filter,
) -> Result<()> {
    let node = tree.lstat(path).ok_or_else(|| {
        EngineError::invalid(format!(
            "stat {}: file does not exist",
            tree.host(path).display()
        ))
    })?;
    h.update(rel_name.as_bytes());
    h.update([0]);
    h.update(format!("{:o}:{}:", node.mode, node.size).as_bytes());
    match node.kind {
        NodeKind::Symlink => {
            h.update(b"l");
            h.update(node.link.as_bytes());
        }
        NodeKind::File => {
            h.update(b"f");
            h.update(tree.digest(path)?);
        }
        NodeKind::Dir => {
            h.update(b"d");
            for n in tree.names(path)? {
                let crel = child_rel(rel, &n);
                let child = join_rel(path, &n);
                let is_dir = tree.lstat(&child).is_some_and(|c| c.kind == NodeKind::Dir);
                if f.excluded(crel.as_deref()) && !(is_dir && f.descend(crel.as_deref())) {
                    continue;
                }
                hash_tree(
                    h,
                    tree,
                    &child,
                    &format!("{rel_name}/{n}"),
                    crel.as_deref(),
                    f,
                )?;
            }
        }
        NodeKind::Other => {}
    }
    h.update([0xff]);
    Ok(())
}

/// dockerd's source description: `file:<hash>`, `dir:<hash>`, or
/// `multi:<hash>` for several sources. Sources with a `path` are looked
/// up in `tree`, the others on the host.
pub(crate) fn describe(
    tree: &dyn Tree,
    sources: &[Source],
    f: Filter,
    extra: &str,
) -> Result<String> {
    let mut parts = Vec::new();
    for s in sources {
        let mut h = Sha256::new();
        let disk;
        let (t, path): (&dyn Tree, &str) = match &s.path {
            Some(p) => (tree, p),
            None => {
                disk = DiskTree::new(s.host.clone());
                (&disk, "")
            }
        };
        hash_tree(&mut h, t, path, &s.name, s.rel.as_deref(), f)?;
        let kind = if t.lstat(path).is_some_and(|n| n.kind == NodeKind::Dir) {
            "dir"
        } else {
            "file"
        };
        parts.push(format!("{kind}:{}", hex::encode(h.finalize())));
    }
    let mut desc = if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!(
            "multi:{}",
            hex::encode(Sha256::digest(parts.join(",").as_bytes()))
        )
    };
    if !extra.is_empty() {
        let (kind, hash) = desc.split_once(':').unwrap_or(("file", ""));
        desc = format!(
            "{kind}:{}",
            hex::encode(Sha256::digest(format!("{hash}|{extra}").as_bytes()))
        );
    }
    Ok(desc)
}

pub(crate) fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Lexically clean a source path relative to the root; None if it climbs out.
pub(crate) fn clean_rel(src: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in src.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            n => parts.push(n),
        }
    }
    Some(parts.join("/"))
}

/// Every path under `rel` in `tree` (relative, `/`-separated), for glob
/// matching.
pub(crate) fn walk_all(tree: &dyn Tree, rel: &str, f: Filter, out: &mut Vec<String>) -> Result<()> {
    for n in tree.names(rel)? {
        let r = join_rel(rel, &n);
        let is_dir = tree.lstat(&r).is_some_and(|c| c.kind == NodeKind::Dir);
        let check = f.ignore.is_some().then_some(r.as_str());
        if !f.excluded(check) {
            out.push(r.clone());
        }
        if is_dir && f.descend(check) {
            walk_all(tree, &r, f, out)?;
        }
    }
    Ok(())
}

/// Resolve the sources of a COPY/ADD inside `tree`.
pub(crate) fn collect_sources(
    req: &CopyRequest,
    tree: &dyn Tree,
    f: Filter,
    from_context: bool,
    scratch: &Path,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<Source>> {
    let name = req.name();
    let mut out = Vec::new();
    let mut used_heredocs = Vec::new();
    for src in &req.srcs {
        if let Some(h) = src
            .strip_prefix("<<")
            .map(|n| n.trim_start_matches('-').trim_matches(['"', '\'']))
            .and_then(|n| req.heredocs.iter().find(|h| h.name == n))
        {
            used_heredocs.push(h.name.clone());
            out.push(heredoc_source(h, scratch)?);
            continue;
        }
        let is_url = src.starts_with("http://") || src.starts_with("https://");
        if is_url && !req.add {
            return Err(EngineError::invalid("source can't be a URL for COPY"));
        }
        if is_url {
            let (path, fname) = fetch::download(src, scratch, cancelled)?;
            out.push(Source {
                host: path,
                name: fname,
                rel: None,
                remote: true,
                path: None,
            });
            continue;
        }
        let Some(rel) = clean_rel(src) else {
            return Err(EngineError::invalid(format!(
                "{name} failed: forbidden path outside the build context: {src} ()"
            )));
        };
        let not_found = || {
            EngineError::invalid(format!(
                "{name} failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
            ))
        };
        if has_glob(&rel) {
            let mut all = Vec::new();
            walk_all(tree, "", f, &mut all)?;
            for p in all {
                let hit = berth_dockerfile::glob_match(&rel, &p)
                    .map_err(|e| EngineError::invalid(format!("{name} failed: {e}")))?;
                if hit {
                    // Matched symlinks are followed, as for a named source.
                    let path = resolve(tree, &p, true).map_err(|_| not_found())?;
                    if tree.lstat(&path).is_none() {
                        return Err(not_found());
                    }
                    out.push(Source {
                        name: p.rsplit('/').next().unwrap_or(&p).to_string(),
                        host: tree.host(&path),
                        rel: from_context.then(|| p.clone()),
                        remote: false,
                        path: Some(path),
                    });
                }
            }
            continue;
        }
        if f.excluded(from_context.then_some(rel.as_str())) && !rel.is_empty() {
            return Err(not_found());
        }
        // Follow symlinks (the last component too), staying inside the root.
        let path = resolve(tree, &rel, true).map_err(|_| not_found())?;
        if tree.lstat(&path).is_none() {
            return Err(not_found());
        }
        let host = tree.host(&path);
        // Named as given (a symlink's own name, not its target's).
        let name = match rel.rsplit('/').next() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => host
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        out.push(Source {
            name,
            host,
            rel: from_context.then(|| path.clone()),
            remote: false,
            path: Some(path),
        });
    }
    for h in &req.heredocs {
        if !used_heredocs.contains(&h.name) && !req.srcs.iter().any(|s| s.contains(&h.name)) {
            out.push(heredoc_source(h, scratch)?);
        }
    }
    if out.is_empty() {
        return Err(EngineError::invalid(format!(
            "{name} failed: no source files were specified"
        )));
    }
    Ok(out)
}

/// Write a heredoc body to a file to copy.
pub(crate) fn heredoc_source(h: &Heredoc, scratch: &Path) -> Result<Source> {
    let dir = scratch.join("heredocs");
    std::fs::create_dir_all(&dir).map_err(|e| io_err(format!("mkdir {}", dir.display()), e))?;
    let p = dir.join(&h.name);
    let body = if h.chomp {
        h.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect::<String>()
    } else {
        h.content.clone()
    };
    std::fs::write(&p, body).map_err(|e| io_err(format!("write {}", p.display()), e))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| io_err(format!("chmod {}", p.display()), e))?;
    Ok(Source {
        host: p,
        name: h.name.clone(),
        rel: None,
        remote: false,
        path: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_ignore_times_but_not_content() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        std::fs::write(&a, "one").unwrap();
        let src = |p: &Path| Source {
            host: p.to_path_buf(),
            name: "a".into(),
            rel: Some("a".into()),
            remote: false,
            path: None,
        };
        let f = Filter { ignore: None };
        let t = DiskTree::new(d.path());
        let h1 = describe(&t, &[src(&a)], f, "").unwrap();
        assert!(h1.starts_with("file:"));
        filetime_touch(&a);
        assert_eq!(describe(&t, &[src(&a)], f, "").unwrap(), h1);
        std::fs::write(&a, "two").unwrap();
        assert_ne!(describe(&t, &[src(&a)], f, "").unwrap(), h1);
        assert_ne!(
            describe(&t, &[src(&a)], f, "1000:1000|").unwrap(),
            describe(&t, &[src(&a)], f, "").unwrap()
        );
        let h2 = describe(&t, &[src(&a), src(d.path())], f, "").unwrap();
        assert!(h2.starts_with("multi:"));
    }

    fn filetime_touch(p: &Path) {
        let ts = nix::sys::time::TimeSpec::new(1_000_000, 0);
        nix::sys::stat::utimensat(
            None,
            p,
            &ts,
            &ts,
            nix::sys::stat::UtimensatFlags::FollowSymlink,
        )
        .unwrap();
    }
}
