//! Layer tarballs and `docker load` archives (`berth_store`).
//!
//! Both targets work in a fresh temporary directory that holds the
//! destination and a sibling `outside/` directory with one file in it; after
//! the call, the temporary directory must still hold exactly those two
//! entries and `outside/` must be untouched: a write outside the
//! destination is a finding even when the parser reports an error.

use std::fs;
use std::path::Path;

use berth_store::fs::extract_layer;
use berth_store::Store;

const SENTINEL: &[u8] = b"must not change\n";

/// A scratch directory with `outside/keep`; `None` if the system refuses
/// (the fuzzer then has nothing to check, which is not a finding).
fn scratch() -> Option<tempfile::TempDir> {
    let tmp = tempfile::Builder::new()
        .prefix("berth-fuzz-")
        .tempdir()
        .ok()?;
    fs::create_dir(tmp.path().join("outside")).ok()?;
    fs::write(tmp.path().join("outside/keep"), SENTINEL).ok()?;
    Some(tmp)
}

/// Panic if anything but `dest_name` and `outside/keep` exists in `tmp`.
fn assert_contained(tmp: &Path, dest_name: &str) {
    let mut names: Vec<String> = match fs::read_dir(tmp) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => panic!("scratch directory unreadable after extraction: {e}"),
    };
    names.sort();
    let mut expected = vec![dest_name.to_string(), "outside".to_string()];
    expected.sort();
    if names != expected && names != ["outside"] {
        panic!("write outside the destination: scratch holds {names:?}");
    }
    let outside: Vec<String> = fs::read_dir(tmp.join("outside"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(outside, ["keep"], "write outside the destination");
    let meta = fs::symlink_metadata(tmp.join("outside/keep"));
    assert!(
        meta.map(|m| m.file_type().is_file()).unwrap_or(false),
        "outside/keep replaced"
    );
    assert_eq!(
        fs::read(tmp.join("outside/keep")).ok().as_deref(),
        Some(SENTINEL),
        "outside/keep modified through the destination"
    );
}

/// `extract_layer` of the bytes as a layer tar into a fresh directory.
pub fn target_layer_tar(data: &[u8]) {
    let Some(tmp) = scratch() else {
        return;
    };
    let dest = tmp.path().join("dest");
    let _ = extract_layer(data, &dest);
    assert_contained(tmp.path(), "dest");
}

/// `Store::load` (docker-archive or OCI layout) into a fresh store; every
/// image it reports loaded must then be inspectable.
pub fn target_load(data: &[u8]) {
    let Some(tmp) = scratch() else {
        return;
    };
    let root = tmp.path().join("store");
    let Ok(store) = Store::open(&root) else {
        return;
    };
    if let Ok(ids) = store.load(data, &mut |_| {}) {
        for id in ids {
            if let Err(e) = store.inspect(&id) {
                panic!("load reported {id} loaded but inspect fails: {e}");
            }
        }
        let _ = store.list(true);
    }
    assert_contained(tmp.path(), "store");
}
