//! Tagging, `docker rmi` and `docker image prune`, following dockerd
//! 20.10's rules and messages.

use crate::error::StoreError;
use crate::layers::layer_size;
use crate::meta::{now, purge, State};
use crate::query::resolve_digest;
use crate::Store;
use berth_spec::api::{ImageDeleteItem, PruneResponse};
use berth_spec::digest::Digest;
use berth_spec::reference::Reference;
use std::path::PathBuf;

/// Parse the target of a tag (`repo[:tag]`): a digest is refused, the
/// default tag added.
pub(crate) fn parse_tag_target(reference: &str) -> Result<Reference, StoreError> {
    let r = Reference::parse_normalized(reference)?;
    if r.digest().is_some() {
        return Err(StoreError::InvalidArgument(
            "refusing to create a tag with a digest reference".into(),
        ));
    }
    Ok(r.with_default_tag())
}

pub(crate) fn tag(store: &Store, id: &str, reference: &str) -> Result<(), StoreError> {
    let target = parse_tag_target(reference)?;
    let mut st = store.lock();
    let d = resolve_digest(&st, id, false)?;
    let mut record = st
        .get(&d)
        .map(|e| e.record.clone())
        .ok_or_else(|| StoreError::NoSuchImage(id.to_string()))?;
    record.last_tag_time = now();
    st.save_record(&d, &record)?;
    if let Some(e) = st.images.get_mut(d.hex()) {
        e.record = record;
    }
    st.tags.insert(target.to_string(), d);
    st.save_tags()
}

/// Docker's delete conflicts.
struct Conflict {
    hard: bool,
    used: bool,
    message: String,
}

const HARD: u8 = 1; // dependent child, running container
const ACTIVE_REF: u8 = 2;
const STOPPED: u8 = 4;
const SOFT: u8 = ACTIVE_REF | STOPPED;

struct Ctx<'a> {
    in_use: &'a dyn Fn(&str) -> Option<String>,
    running: &'a dyn Fn(&str) -> Option<String>,
    trash: Vec<PathBuf>,
    reclaimed: u64,
}

fn check_conflict(st: &State, id: &Digest, mask: u8, ctx: &Ctx<'_>) -> Option<Conflict> {
    let ids = id.to_string();
    if mask & HARD != 0 {
        if !st.children_of(id).is_empty() {
            return Some(Conflict {
                hard: true,
                used: false,
                message: "image has dependent child images".into(),
            });
        }
        if let Some(c) = (ctx.running)(&ids) {
            return Some(Conflict {
                hard: true,
                used: true,
                message: format!("image is being used by running container {c}"),
            });
        }
    }
    if mask & ACTIVE_REF != 0 && !st.refs_of(id).is_empty() {
        return Some(Conflict {
            hard: false,
            used: false,
            message: "image is referenced in multiple repositories".into(),
        });
    }
    if mask & STOPPED != 0 {
        if let Some(c) = (ctx.in_use)(&ids) {
            return Some(Conflict {
                hard: false,
                used: true,
                message: format!("image is being used by stopped container {c}"),
            });
        }
    }
    None
}

fn conflict_error(id: &Digest, c: &Conflict) -> StoreError {
    let force = if c.hard {
        "cannot be forced"
    } else {
        "must be forced"
    };
    StoreError::Conflict(format!(
        "conflict: unable to delete {} ({force}) - {}",
        id.short(),
        c.message
    ))
}

fn untag(
    st: &mut State,
    r: &Reference,
    records: &mut Vec<ImageDeleteItem>,
) -> Result<(), StoreError> {
    st.tags.remove(&r.to_string());
    st.save_tags()?;
    records.push(ImageDeleteItem {
        untagged: Some(r.familiar_string()),
        deleted: None,
    });
    Ok(())
}

pub(crate) fn remove(
    store: &Store,
    name: &str,
    force: bool,
    in_use: &dyn Fn(&str) -> Option<String>,
    running: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ImageDeleteItem>, StoreError> {
    let mut ctx = Ctx {
        in_use,
        running,
        trash: Vec::new(),
        reclaimed: 0,
    };
    let result = {
        let mut st = store.lock();
        remove_locked(&mut st, name, force, true, &mut ctx)
    };
    purge(std::mem::take(&mut ctx.trash));
    result
}

/// dockerd's `isSingleReference`: all references in one repository, and
/// at most one of them a tag (the others are digest references).
fn is_single_reference(refs: &[Reference]) -> bool {
    let Some(first) = refs.first() else {
        return false;
    };
    refs.iter().all(|r| r.name() == first.name())
        && refs.iter().filter(|r| r.digest().is_none()).count() <= 1
}

fn is_id_prefix(id: &Digest, name: &str) -> bool {
    let full = id.to_string();
    full.starts_with(name) || id.hex().starts_with(name)
}

fn remove_locked(
    st: &mut State,
    name: &str,
    force: bool,
    prune: bool,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<ImageDeleteItem>, StoreError> {
    let id = resolve_digest(st, name, false)?;
    let mut records = Vec::new();
    let mut repo_refs = st.refs_of(&id);
    let mut removed_repo_ref = false;
    if !is_id_prefix(&id, name) {
        if !force && repo_refs.len() == 1 {
            if let Some(c) = (ctx.in_use)(&id.to_string()) {
                return Err(StoreError::Conflict(format!(
                    "conflict: unable to remove repository reference {name:?} (must force) - container {c} is using its referenced image {}",
                    id.short()
                )));
            }
        }
        let r = Reference::parse_normalized_tagged(name)?;
        untag(st, &r, &mut records)?;
        // As dockerd: once the last tag of a repository is gone, so are
        // that repository's digest references.
        if r.digest().is_none() {
            let same_repo = |x: &Reference| x.name() == r.name();
            let refs = st.refs_of(&id);
            if !refs.iter().any(|x| x.digest().is_none() && same_repo(x)) {
                for x in refs.iter().filter(|x| x.digest().is_some() && same_repo(x)) {
                    untag(st, x, &mut records)?;
                }
            }
        }
        repo_refs = st.refs_of(&id);
        if !repo_refs.is_empty() {
            return Ok(records);
        }
        removed_repo_ref = true;
    } else if is_single_reference(&repo_refs) {
        let mut mask = HARD;
        if !force {
            mask |= SOFT & !ACTIVE_REF;
        }
        if let Some(c) = check_conflict(st, &id, mask, ctx) {
            return Err(conflict_error(&id, &c));
        }
        for r in &repo_refs {
            untag(st, r, &mut records)?;
        }
    }
    delete_helper(st, &id, &mut records, force, prune, removed_repo_ref, ctx)?;
    Ok(records)
}

fn delete_helper(
    st: &mut State,
    id: &Digest,
    records: &mut Vec<ImageDeleteItem>,
    force: bool,
    prune: bool,
    quiet: bool,
    ctx: &mut Ctx<'_>,
) -> Result<(), StoreError> {
    let mut mask = HARD;
    if !force {
        mask |= SOFT;
    }
    if let Some(c) = check_conflict(st, id, mask, ctx) {
        // Docker's "dangling": no references and no children.
        let dangling = st.refs_of(id).is_empty() && st.children_of(id).is_empty();
        if quiet && (!dangling || c.used) {
            return Ok(());
        }
        return Err(conflict_error(id, &c));
    }
    let Some(entry) = st.get(id).cloned() else {
        return Ok(());
    };
    for r in st.refs_of(id) {
        untag(st, &r, records)?;
    }
    let ids = id.to_string();
    if (ctx.in_use)(&ids).is_some() || (ctx.running)(&ids).is_some() {
        // Forced removal of an image a container still uses: hide it but
        // keep its layers for the container.
        let mut rec = entry.record.clone();
        rec.deleted = true;
        st.save_record(id, &rec)?;
        if let Some(e) = st.images.get_mut(id.hex()) {
            e.record = rec;
        }
        records.push(ImageDeleteItem {
            untagged: None,
            deleted: Some(ids),
        });
    } else {
        crate::atomic::remove_file(&crate::meta::record_path(st_root(st), id))?;
        st.images.remove(id.hex());
        // The config blob goes too, unless another record still needs it.
        let _ = crate::atomic::remove_file(&crate::blobs::blob_path(st_root(st), id));
        records.push(ImageDeleteItem {
            untagged: None,
            deleted: Some(ids),
        });
        let diffs = &entry.config.rootfs.diff_ids;
        let sizes: Vec<(Digest, i64)> = diffs
            .iter()
            .map(|d| (d.clone(), layer_size(st_root(st), d)))
            .collect();
        let (removed, trash) = st.collect_layers(diffs);
        ctx.trash.extend(trash);
        // Docker reports removed layers by chain ID, top first.
        let chain = chain_ids(diffs);
        for (i, d) in diffs.iter().enumerate().rev() {
            if removed.contains(d) {
                records.push(ImageDeleteItem {
                    untagged: None,
                    deleted: Some(chain[i].to_string()),
                });
                ctx.reclaimed += sizes
                    .iter()
                    .find(|(x, _)| x == d)
                    .map(|(_, s)| *s as u64)
                    .unwrap_or(0);
            }
        }
    }
    if !prune {
        return Ok(());
    }
    if let Ok(parent) = Digest::parse(&entry.record.parent) {
        if st.get(&parent).is_some_and(|e| !e.record.deleted) {
            return delete_helper(st, &parent, records, false, true, true, ctx);
        }
    }
    Ok(())
}

fn st_root(st: &State) -> &std::path::Path {
    st.root()
}

/// Chain IDs of a layer stack: `chain[0] = diff[0]`,
/// `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub(crate) fn chain_ids(diffs: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diffs.len());
    for d in diffs {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of_bytes(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

pub(crate) fn prune(
    store: &Store,
    all: bool,
    in_use: &dyn Fn(&str) -> bool,
) -> Result<PruneResponse, StoreError> {
    let in_use_id = |id: &str| {
        if in_use(id) {
            Some(String::new())
        } else {
            None
        }
    };
    let mut ctx = Ctx {
        in_use: &in_use_id,
        running: &|_| None,
        trash: Vec::new(),
        reclaimed: 0,
    };
    let mut deleted = Vec::new();
    {
        let mut st = store.lock();
        // Images removed with -f earlier whose containers are gone.
        let hidden: Vec<Digest> = st
            .images
            .values()
            .filter(|e| e.record.deleted && !in_use(&e.id.to_string()))
            .map(|e| e.id.clone())
            .collect();
        for id in hidden {
            let _ = delete_helper(&mut st, &id, &mut Vec::new(), true, false, true, &mut ctx);
        }
        let candidates: Vec<Digest> = st
            .images
            .values()
            .filter(|e| !e.record.deleted)
            .filter(|e| all || st.children_of(&e.id).is_empty())
            .filter(|e| !st.refs_of(&e.id).is_empty() || st.children_of(&e.id).is_empty())
            .map(|e| e.id.clone())
            .collect();
        for id in candidates {
            if st.get(&id).is_none() {
                continue; // Removed as the parent of an earlier one.
            }
            let refs = st.refs_of(&id);
            if !refs.is_empty() {
                if !all {
                    continue; // Tagged: not dangling.
                }
                for r in refs {
                    if let Ok(mut recs) =
                        remove_locked(&mut st, &r.to_string(), false, true, &mut ctx)
                    {
                        deleted.append(&mut recs);
                    }
                }
            } else if let Ok(mut recs) = remove_locked(&mut st, id.hex(), false, true, &mut ctx) {
                deleted.append(&mut recs);
            }
        }
    }
    purge(std::mem::take(&mut ctx.trash));
    Ok(PruneResponse {
        containers_deleted: None,
        images_deleted: if deleted.is_empty() {
            None
        } else {
            Some(deleted)
        },
        space_reclaimed: ctx.reclaimed,
    })
}
