//! Replay every corpus file (and every saved finding) of each target
//! through it, deterministically: a parser change that panics, hangs or
//! escapes on any of them fails here, in the normal test run.

use std::fs;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["corpus", "findings"] {
        if let Ok(rd) = fs::read_dir(root.join(dir).join(target)) {
            out.extend(
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.file_name().is_some_and(|n| n != "NOTES.txt")),
            );
        }
    }
    out.sort();
    out
}

fn replay(target: &str) {
    let run = berth_fuzz::target(target).expect("target exists");
    let files = inputs(target);
    assert!(
        files.len() >= 10,
        "{target}: corpus too small ({} files)",
        files.len()
    );
    for f in files {
        let data = fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{target}: {} panics", f.display());
        }
    }
}

#[test]
fn every_target_has_a_test_here() {
    let src = include_str!("replay.rs");
    for (name, _) in berth_fuzz::TARGETS {
        assert!(
            src.contains(&format!("fn {name}()")),
            "no replay test for {name}"
        );
    }
}

#[test]
fn reference() {
    replay("reference");
}
#[test]
fn digest() {
    replay("digest");
}
#[test]
fn dockerfile() {
    replay("dockerfile");
}
#[test]
fn shell_words() {
    replay("shell_words");
}
#[test]
fn dockerignore() {
    replay("dockerignore");
}
#[test]
fn layer_tar() {
    replay("layer_tar");
}
#[test]
fn load() {
    replay("load");
}
#[test]
fn api_json() {
    replay("api_json");
}
#[test]
fn spec_strings() {
    replay("spec_strings");
}
#[test]
fn go_template() {
    replay("go_template");
}
