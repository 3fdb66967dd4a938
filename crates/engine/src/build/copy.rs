//! COPY, ADD and WORKDIR: files written into an overlay of the current
//! image (a fresh upper dir on a private mount point), the upper dir then
//! committed as the step's layer.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_dockerfile::Heredoc;

use super::context::is_tar;
use super::overlay::Overlay;
use super::sources::{child_rel, collect_sources, describe, io_err, sorted_names, Filter, Source};
use super::stage::Stage;
use super::tree::{DiskTree, Tree};
use super::users::{parse_chmod, resolve_chown};
use super::Builder;
use crate::blocking;
use crate::error::{EngineError, Result};
use berth_store::decompress::Decoder;

/// A COPY or ADD, after variable expansion.
#[derive(Debug, Clone)]
pub(crate) struct CopyRequest {
    /// ADD (archives extracted, URLs downloaded) rather than COPY.
    pub add: bool,
    pub srcs: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub heredocs: Vec<Heredoc>,
}

impl CopyRequest {
    pub(crate) fn name(&self) -> &'static str {
        if self.add {
            "ADD"
        } else {
            "COPY"
        }
    }
}

/// How copied files are owned and moded.
#[derive(Clone, Copy)]
struct Perms {
    uid: u32,
    gid: u32,
    chmod: Option<u32>,
}

fn lchown(p: &Path, perms: Perms) -> Result<()> {
    std::os::unix::fs::lchown(p, Some(perms.uid), Some(perms.gid))
        .map_err(|e| io_err(format!("chown {}", p.display()), e))
}

fn set_mtime(p: &Path, md: &std::fs::Metadata) {
    let ts = nix::sys::time::TimeSpec::new(md.mtime(), md.mtime_nsec());
    let _ = nix::sys::stat::utimensat(
        None,
        p,
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    );
}

/// Copy `src` (any type) to `dst_in_root` inside `root`.
fn copy_entry(
    src: &Path,
    root: &Path,
    dst_in_root: &Path,
    rel: Option<&str>,
    f: Filter,
    perms: Perms,
) -> Result<()> {
    let md =
        std::fs::symlink_metadata(src).map_err(|e| io_err(format!("stat {}", src.display()), e))?;
    let ft = md.file_type();
    if ft.is_dir() {
        let host = berth_store::fs::mkdir_all_in_root(root, dst_in_root)?;
        for n in sorted_names(src)? {
            let crel = child_rel(rel, &n);
            let child = src.join(&n);
            let is_dir = child
                .symlink_metadata()
                .map(|m| m.is_dir())
                .unwrap_or(false);
            if f.excluded(crel.as_deref()) && !(is_dir && f.descend(crel.as_deref())) {
                continue;
            }
            copy_entry(
                &child,
                root,
                &dst_in_root.join(&n),
                crel.as_deref(),
                f,
                perms,
            )?;
        }
        let mode = perms.chmod.unwrap_or(md.mode() & 0o7777);
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_err(format!("chmod {}", host.display()), e))?;
        lchown(&host, perms)?;
        set_mtime(&host, &md);
        return Ok(());
    }
    let parent = dst_in_root.parent().unwrap_or(Path::new("/"));
    let Some(fname) = dst_in_root.file_name() else {
        return Err(EngineError::invalid(format!(
            "cannot copy to {}",
            dst_in_root.display()
        )));
    };
    let parent_host = berth_store::fs::mkdir_all_in_root(root, parent)?;
    let target = parent_host.join(fname);
    if let Ok(old) = std::fs::symlink_metadata(&target) {
        if old.is_dir() {
            std::fs::remove_dir_all(&target)
        } else {
            std::fs::remove_file(&target)
        }
        .map_err(|e| io_err(format!("replacing {}", target.display()), e))?;
    }
    if ft.is_symlink() {
        let t = std::fs::read_link(src)
            .map_err(|e| io_err(format!("readlink {}", src.display()), e))?;
        std::os::unix::fs::symlink(&t, &target)
            .map_err(|e| io_err(format!("symlink {}", target.display()), e))?;
        lchown(&target, perms)?;
        set_mtime(&target, &md);
    } else if ft.is_file() {
        let mut input =
            std::fs::File::open(src).map_err(|e| io_err(format!("open {}", src.display()), e))?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| io_err(format!("create {}", target.display()), e))?;
        std::io::copy(&mut input, &mut out)
            .map_err(|e| io_err(format!("copy to {}", target.display()), e))?;
        out.flush()
            .map_err(|e| io_err(format!("write {}", target.display()), e))?;
        drop(out);
        lchown(&target, perms)?;
        let mode = perms.chmod.unwrap_or(md.mode() & 0o7777);
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_err(format!("chmod {}", target.display()), e))?;
        set_mtime(&target, &md);
    }
    // Devices, fifos and sockets are not copied.
    Ok(())
}

/// A file opened and decompressed as its first bytes say.
fn open_decompressed(p: &Path) -> Result<Decoder<std::io::BufReader<std::fs::File>>> {
    let file = std::fs::File::open(p).map_err(|e| io_err(format!("open {}", p.display()), e))?;
    Decoder::sniffed(std::io::BufReader::new(file))
        .map_err(|e| io_err(format!("decompress {}", p.display()), e))
}

/// How ADD treats a local file: unpacked when it is a tar archive (plain,
/// gzip, bzip2, xz or zstd), copied as it is otherwise.
fn is_archive(p: &Path) -> bool {
    let mut head = Vec::new();
    open_decompressed(p)
        .ok()
        .and_then(|r| r.take(512).read_to_end(&mut head).ok())
        .is_some_and(|_| is_tar(&head))
}

/// Clean an absolute in-image path lexically, keeping a trailing `/`.
pub(crate) fn abs_dest(workdir: &str, dest: &str) -> (PathBuf, bool) {
    let is_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let full = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!(
            "{}/{}",
            if workdir.is_empty() { "/" } else { workdir },
            dest
        )
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in full.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            n => parts.push(n),
        }
    }
    (PathBuf::from(format!("/{}", parts.join("/"))), is_dir)
}

/// Perform the copy into `root`.
fn do_copy(
    req: &CopyRequest,
    sources: &[Source],
    root: &Path,
    workdir: &str,
    f: Filter,
) -> Result<()> {
    let (uid, gid) = match &req.chown {
        Some(c) if !c.is_empty() => resolve_chown(c, root)?,
        _ => (0, 0),
    };
    let chmod = match &req.chmod {
        Some(m) if !m.is_empty() => Some(parse_chmod(m)?),
        _ => None,
    };
    let perms = Perms { uid, gid, chmod };
    let (dest, dest_dir) = abs_dest(workdir, &req.dest);
    let existing_dir = berth_store::fs::resolve_in_root(root, &dest)
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.is_dir());
    for s in sources {
        let is_dir = std::fs::metadata(&s.host)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if is_dir {
            // The directory's contents go into dest; dest itself keeps its
            // metadata if it exists (or gets the owner when created).
            let host = berth_store::fs::mkdir_all_in_root(root, &dest)?;
            for n in sorted_names(&s.host)? {
                let crel = child_rel(s.rel.as_deref(), &n);
                let child = s.host.join(&n);
                let child_dir = child
                    .symlink_metadata()
                    .map(|m| m.is_dir())
                    .unwrap_or(false);
                if f.excluded(crel.as_deref()) && !(child_dir && f.descend(crel.as_deref())) {
                    continue;
                }
                copy_entry(&child, root, &dest.join(&n), crel.as_deref(), f, perms)?;
            }
            if !existing_dir {
                lchown(&host, perms)?;
            }
            continue;
        }
        if req.add && !s.remote && is_archive(&s.host) {
            berth_store::fs::mkdir_all_in_root(root, &dest)?;
            let reader = open_decompressed(&s.host)?;
            berth_store::fs::extract_into_with(
                reader,
                root,
                &dest,
                berth_store::fs::CopyOptions {
                    preserve_owner: true,
                },
            )?;
            continue;
        }
        let target = if dest_dir || existing_dir {
            dest.join(&s.name)
        } else {
            dest.clone()
        };
        let md = std::fs::metadata(&s.host)
            .map_err(|e| io_err(format!("stat {}", s.host.display()), e))?;
        if s.remote {
            let p = Perms {
                chmod: Some(chmod.unwrap_or(0o600)),
                ..perms
            };
            copy_entry(&s.host, root, &target, None, f, p)?;
        } else if md.is_file() {
            copy_entry(&s.host, root, &target, s.rel.as_deref(), f, perms)?;
        }
    }
    Ok(())
}

impl Builder {
    /// The layer dirs of an image (none for `""`).
    async fn layers_of(&self, image: &str) -> Result<Vec<PathBuf>> {
        if image.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.engine.store();
        let id = image.to_string();
        blocking(move || Ok(store.layer_dirs(&id)?)).await
    }

    /// The image a `--from` names: an earlier stage (name or index) or an image.
    async fn copy_from_image(&self, from: &str) -> Result<String> {
        let lname = from.to_ascii_lowercase();
        let stage = match from.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => self
                .stage_names
                .iter()
                .position(|n| n.as_deref() == Some(lname.as_str())),
        };
        if let Some(i) = stage {
            return self.stage_images.get(&i).cloned().ok_or_else(|| {
                EngineError::invalid(format!("invalid from flag value {from}: stage not built"))
            });
        }
        let store = self.engine.store();
        let name = from.to_string();
        blocking(move || {
            store
                .resolve(&name)
                .map_err(|e| EngineError::invalid(format!("invalid from flag value {name}: {e}")))
        })
        .await
    }

    /// COPY / ADD.
    pub async fn copy_step(&mut self, s: &mut Stage, req: CopyRequest) -> Result<()> {
        let scratch = self.scratch_dir()?;
        let from_layers = match &req.from {
            Some(f) if !f.is_empty() => {
                let id = self.copy_from_image(f).await?;
                Some(self.layers_of(&id).await?)
            }
            _ => None,
        };
        let ctx_tree = self.ctx.tree();
        let ignore = self.ctx.ignore.clone();
        let req2 = req.clone();
        let scratch2 = scratch.clone();
        let extra = format!(
            "{}|{}",
            req.chown.clone().unwrap_or_default(),
            req.chmod.clone().unwrap_or_default()
        );
        let extra = if extra == "|" { String::new() } else { extra };
        // Resolve and hash the sources (mounting a --from image read-only;
        // context sources come from its index, nothing extracted yet).
        let out = self.out.clone();
        let (desc, sources, from_mount) = blocking(move || {
            let from_mount = match &from_layers {
                Some(l) => Some(Overlay::readonly(l, &scratch2)?),
                None => None,
            };
            let (tree, f, from_context): (Arc<dyn Tree>, Filter, bool) = match &from_mount {
                Some(m) => (
                    Arc::new(DiskTree::new(m.root.clone())),
                    Filter { ignore: None },
                    false,
                ),
                None => (ctx_tree, Filter { ignore: Some(&ignore) }, true),
            };
            let sources = collect_sources(&req2, &*tree, f, from_context, &scratch2, &|| out.is_closed())?;
            if sources.len() > 1 && !req2.dest.ends_with('/') {
                return Err(EngineError::invalid(format!(
                    "When using {} with more than one source file, the destination must be a directory and end with a /",
                    req2.name()
                )));
            }
            let desc = describe(&*tree, &sources, f, &extra)?;
            Ok((desc, sources, from_mount))
        })
        .await?;
        let mut cmd = s.shell();
        cmd.push(format!("#(nop) {} {desc} in {} ", req.name(), req.dest));
        let probe = self.probe_config(s, cmd);
        if let Some(hit) = self.probe_cache(s, &probe).await? {
            drop(from_mount);
            self.say(" ---> Using cache\n").await;
            s.image_id = hit;
            return Ok(());
        }
        let layers = self.layers_of(&s.image_id).await?;
        let workdir = s.config.working_dir.clone();
        let ignore = self.ctx.ignore.clone();
        let index = self.ctx.index.clone();
        let upper = blocking(move || {
            if let (Some(ix), None) = (&index, &from_mount) {
                let paths: Vec<String> = sources.iter().filter_map(|s| s.path.clone()).collect();
                ix.materialize(&paths)?;
            }
            let ov = Overlay::mount(&layers, &scratch)?;
            let f = if from_mount.is_some() {
                Filter { ignore: None }
            } else {
                Filter {
                    ignore: Some(&ignore),
                }
            };
            let res = do_copy(&req, &sources, &ov.root, &workdir, f);
            let upper = ov.upper.clone();
            let unmounted = ov.unmount();
            if let Some(m) = from_mount {
                m.unmount()?;
            }
            res?;
            unmounted?;
            Ok(upper)
        })
        .await?;
        self.commit_step(s, Some(upper), probe, String::new(), Vec::new())
            .await
    }

    /// WORKDIR: set it, creating the directory when the image lacks it.
    pub async fn workdir_step(&mut self, s: &mut Stage, dir: &str) -> Result<()> {
        let (path, _) = abs_dest(&s.config.working_dir, dir);
        let path_str = path.to_string_lossy().into_owned();
        s.config.working_dir = path_str.clone();
        let mut cmd = s.shell();
        cmd.push(format!("#(nop) WORKDIR {path_str}"));
        let probe = self.probe_config(s, cmd);
        if let Some(hit) = self.probe_cache(s, &probe).await? {
            self.say(" ---> Using cache\n").await;
            s.image_id = hit;
            return Ok(());
        }
        let scratch = self.scratch_dir()?;
        let layers = self.layers_of(&s.image_id).await?;
        let upper = blocking(move || {
            let ov = Overlay::mount(&layers, &scratch)?;
            let res = berth_store::fs::mkdir_all_in_root(&ov.root, &path);
            let upper = ov.upper.clone();
            ov.unmount()?;
            res?;
            Ok(upper)
        })
        .await?;
        self.commit_step(s, Some(upper), probe, String::new(), Vec::new())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::sources::clean_rel;

    #[test]
    fn destinations() {
        assert_eq!(abs_dest("", "/a/"), (PathBuf::from("/a"), true));
        assert_eq!(abs_dest("/w", "x"), (PathBuf::from("/w/x"), false));
        assert_eq!(abs_dest("/w", "."), (PathBuf::from("/w"), true));
        assert_eq!(abs_dest("/w", "../y/"), (PathBuf::from("/y"), true));
        assert_eq!(clean_rel("./a/../b"), Some("b".into()));
        assert_eq!(clean_rel("../a"), None);
    }

    #[test]
    fn copies_trees_into_a_root() {
        let d = tempfile::tempdir().unwrap();
        let ctx = d.path().join("ctx");
        let root = d.path().join("root");
        std::fs::create_dir_all(ctx.join("dir/sub")).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(ctx.join("f.txt"), "hello").unwrap();
        std::fs::write(ctx.join("dir/sub/g"), "g").unwrap();
        std::os::unix::fs::symlink("sub/g", ctx.join("dir/link")).unwrap();
        let f = Filter { ignore: None };
        let tree = DiskTree::new(&ctx);
        let req = CopyRequest {
            add: false,
            srcs: vec!["f.txt".into(), "dir".into()],
            dest: "/dst/".into(),
            from: None,
            chown: None,
            chmod: None,
            heredocs: vec![],
        };
        let srcs = collect_sources(&req, &tree, f, true, d.path(), &|| false).unwrap();
        assert_eq!(srcs.len(), 2);
        do_copy(&req, &srcs, &root, "", f).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("dst/f.txt")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("dst/sub/g")).unwrap(),
            "g"
        );
        assert_eq!(
            std::fs::read_link(root.join("dst/link")).unwrap(),
            PathBuf::from("sub/g")
        );
        // A named symlink source is followed but keeps its own name.
        let link = CopyRequest {
            srcs: vec!["dir/link".into()],
            dest: "/l/".into(),
            ..req.clone()
        };
        let srcs = collect_sources(&link, &tree, f, true, d.path(), &|| false).unwrap();
        do_copy(&link, &srcs, &root, "", f).unwrap();
        let md = std::fs::symlink_metadata(root.join("l/link")).unwrap();
        assert!(md.is_file());
        assert_eq!(std::fs::read_to_string(root.join("l/link")).unwrap(), "g");
        let bad = CopyRequest {
            srcs: vec!["../etc/passwd".into()],
            ..req.clone()
        };
        assert_eq!(
            collect_sources(&bad, &tree, f, true, d.path(), &|| false)
                .unwrap_err()
                .message,
            "COPY failed: forbidden path outside the build context: ../etc/passwd ()"
        );
        let missing = CopyRequest {
            srcs: vec!["nope".into()],
            ..req.clone()
        };
        assert_eq!(
            collect_sources(&missing, &tree, f, true, d.path(), &|| false).unwrap_err().message,
            "COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist"
        );
        let glob = CopyRequest {
            srcs: vec!["*.txt".into()],
            dest: "/one".into(),
            ..req
        };
        let srcs = collect_sources(&glob, &tree, f, true, d.path(), &|| false).unwrap();
        do_copy(&glob, &srcs, &root, "", f).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("one")).unwrap(), "hello");
    }
}
