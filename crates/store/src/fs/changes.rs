//! `docker diff`: what an overlay upper dir changes over its lower dirs.

use crate::error::{IoContext, StoreError};
use berth_spec::api::ChangeItem;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Change kinds as the API numbers them.
const MODIFIED: u8 = 0;
const ADDED: u8 = 1;
const DELETED: u8 = 2;

pub(crate) fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<ChangeItem>, StoreError> {
    let mut out = Vec::new();
    walk(upper, Path::new(""), lowers, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn in_lower(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| match std::fs::symlink_metadata(l.join(rel)) {
            // A whiteout in a lower layer means "absent".
            Ok(m) => !(m.file_type().is_char_device() && m.rdev() == 0),
            Err(_) => false,
        })
}

fn walk(
    dir: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<ChangeItem>,
) -> Result<(), StoreError> {
    let mut names: Vec<OsString> = Vec::new();
    for e in std::fs::read_dir(dir).ctx("reading directory", dir)? {
        names.push(e.ctx("reading directory", dir)?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for n in names {
        let host = dir.join(&n);
        let r = rel.join(&n);
        let meta = std::fs::symlink_metadata(&host).ctx("inspecting", &host)?;
        let path = format!("/{}", r.to_string_lossy());
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push(ChangeItem {
                path,
                kind: DELETED,
            });
            continue;
        }
        let kind = if in_lower(lowers, &r) {
            MODIFIED
        } else {
            ADDED
        };
        out.push(ChangeItem { path, kind });
        if meta.is_dir() {
            walk(&host, &r, lowers, out)?;
        }
    }
    Ok(())
}
