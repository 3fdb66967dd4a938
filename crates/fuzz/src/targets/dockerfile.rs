//! Dockerfiles, shell-word expansion and `.dockerignore` (`berth_dockerfile`).

use berth_dockerfile::{expand_word, expand_words, parse, IgnoreMatcher};

/// Variables in scope for expansion: a few set, everything else unset.
fn env(name: &str) -> Option<String> {
    match name {
        "A" => Some("a b".to_string()),
        "EMPTY" => Some(String::new()),
        "PATH" => Some("/usr/bin:/bin".to_string()),
        "HOME" => Some("/root".to_string()),
        _ => None,
    }
}

/// `parse` (the whole Dockerfile), then every instruction through
/// `Instruction::command` (flags, JSON forms, variable expansion), the way
/// the builder does.
pub fn target_dockerfile(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let Ok(df) = parse(&src) else {
        return;
    };
    for ins in &df.instructions {
        let _ = ins.command(df.escape, &env);
    }
    let _ = berth_dockerfile::dump(&df);
}

/// `expand_word` / `expand_words` with both escape characters.
pub fn target_shell_words(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    for escape in ['\\', '`'] {
        let _ = expand_word(&s, escape, &env);
        let _ = expand_words(&s, escape, &env);
    }
}

/// `IgnoreMatcher::parse`, then matching: each input line is also used as
/// a path to match, so patterns meet paths that look like them.
pub fn target_dockerignore(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(m) = IgnoreMatcher::parse(&text) else {
        return;
    };
    let _ = m.is_empty();
    let _ = m.has_exclusions();
    let fixed = ["a", "a/b", "Dockerfile", ".git/config", "x/y/z.txt"];
    // Paths are at most PATH_MAX (4096) bytes long; longer lines are not paths.
    let lines = text
        .lines()
        .take(16)
        .map(|l| l.trim_start_matches('!'))
        .filter(|l| l.len() <= 4096);
    for p in fixed.into_iter().chain(lines) {
        let _ = m.is_excluded(p);
        let _ = m.may_include_below(p);
    }
}
