//! Conformance tests against buildkit's parser and shell-lexer vectors in
//! /work/shared/conformance/dockerfile (see its README).

use std::fs;
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/dockerfile"
    ))
}

fn case_dirs(sub: &str) -> Vec<(String, PathBuf)> {
    let dir = data_dir().join(sub);
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("conformance directory {} missing: {e}", dir.display()));
    let mut out: Vec<(String, PathBuf)> = entries
        .map(|e| {
            let e = e.expect("read_dir entry");
            (e.file_name().to_string_lossy().into_owned(), e.path())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no cases in {}", dir.display());
    out
}

#[test]
fn testfiles_dump_to_result() {
    let cases = case_dirs("testfiles");
    let mut failures = Vec::new();
    for (name, path) in &cases {
        let src = fs::read_to_string(path.join("Dockerfile")).expect("Dockerfile");
        let want = fs::read_to_string(path.join("result")).expect("result");
        match berth_dockerfile::parse(&src) {
            Ok(df) => {
                let got = berth_dockerfile::dump(&df);
                if got != want {
                    failures.push(format!("{name}:\n--- want\n{want}--- got\n{got}"));
                }
            }
            Err(e) => failures.push(format!("{name}: parse error {e:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(cases.len(), 33, "expected 33 positive cases");
}

#[test]
fn negative_testfiles_are_rejected() {
    let cases = case_dirs("testfiles-negative");
    let mut failures = Vec::new();
    for (name, path) in &cases {
        let src = fs::read_to_string(path.join("Dockerfile")).expect("Dockerfile");
        match berth_dockerfile::parse(&src) {
            Ok(df) => failures.push(format!("{name}: accepted: {}", berth_dockerfile::dump(&df))),
            Err(e) => assert!(!e.message.is_empty(), "{name}: empty error message"),
        }
    }
    assert!(
        failures.is_empty(),
        "not rejected:\n{}",
        failures.join("\n")
    );
    assert_eq!(cases.len(), 4, "expected 4 negative cases");
}

fn env_var_test_env(name: &str) -> Option<String> {
    match name {
        "PWD" => Some("/home".into()),
        "SHELL" => Some("bash".into()),
        "KOREAN" => Some("한국어".into()),
        "NULL" => Some(String::new()),
        _ => None,
    }
}

#[test]
fn env_var_test() {
    let text = fs::read_to_string(data_dir().join("envVarTest")).expect("envVarTest");
    let mut failures = Vec::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts.len(), 3, "line {}: bad format {line:?}", i + 1);
        let platform = parts[0].trim();
        let source = parts[1].trim();
        let expected = parts[2].trim();
        if platform == "W" {
            continue;
        }
        assert!(
            platform == "A" || platform == "U",
            "line {}: platform",
            i + 1
        );
        count += 1;
        let got = berth_dockerfile::expand_word(source, '\\', &env_var_test_env);
        match (expected, got) {
            ("error", Ok(v)) => failures.push(format!(
                "line {}: {source:?} expected error, got {v:?}",
                i + 1
            )),
            ("error", Err(_)) => {}
            (want, Ok(v)) if v == want => {}
            (want, got) => failures.push(format!(
                "line {}: {source:?} expected {want:?}, got {got:?}",
                i + 1
            )),
        }
    }
    assert!(count > 100, "too few envVarTest cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn words_test() {
    let text = fs::read_to_string(data_dir().join("wordsTest")).expect("wordsTest");
    let mut envs: Vec<(String, String)> = Vec::new();
    let mut failures = Vec::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            let rest = rest.trim_start_matches(' ');
            let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
            envs.push((k.to_string(), v.to_string()));
            continue;
        }
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts.len(), 2, "line {}: bad format {line:?}", i + 1);
        let test = parts[0].trim();
        let expected: Vec<&str> = parts[1].trim_start_matches(' ').split(',').collect();
        count += 1;
        let lookup = |name: &str| {
            envs.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let got = berth_dockerfile::expand_words(test, '\\', &lookup)
            .unwrap_or_else(|_| vec!["error".to_string()]);
        if got != expected {
            failures.push(format!(
                "line {}: {test:?} expected {expected:?}, got {got:?}",
                i + 1
            ));
        }
    }
    assert!(count > 20, "too few wordsTest cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
