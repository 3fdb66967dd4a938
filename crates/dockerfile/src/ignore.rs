//! `.dockerignore` matching with Docker's rules (moby/patternmatcher):
//! Go `filepath.Match` syntax plus `**` (any number of directories),
//! `!` exceptions, later patterns win, patterns are cleaned (`./a` = `a`,
//! leading `/` removed), a pattern matching a parent directory excludes
//! everything below it, `#` comment lines and blank lines are ignored.

use berth_spec::mounts::clean_path;

use crate::error::Error;
use crate::glob::{compile, match_toks, Tok};
use crate::quote::go_quote;

#[derive(Debug, Clone)]
struct Pattern {
    /// Cleaned pattern text without the `!`.
    text: String,
    toks: Vec<Tok>,
    exclusion: bool,
    dirs: usize,
}

/// A compiled `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct IgnoreMatcher {
    patterns: Vec<Pattern>,
}

fn matches(p: &Pattern, path: &str) -> bool {
    let text: Vec<char> = path.chars().collect();
    match_toks(&p.toks, &text)
}

/// Normalise a context-relative path: cleaned, no leading `/` or `./`.
fn normalize(rel: &str) -> String {
    let c = clean_path(rel);
    c.trim_start_matches('/').to_string()
}

impl IgnoreMatcher {
    /// Parse the text of a `.dockerignore` file. Errors on a bad pattern
    /// (`syntax error in pattern`) or a lone `!`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let mut pattern = line.trim();
            if pattern.is_empty() {
                continue;
            }
            let exclusion = pattern.starts_with('!');
            if exclusion {
                pattern = pattern[1..].trim();
            }
            let mut cleaned = String::new();
            if !pattern.is_empty() {
                cleaned = clean_path(pattern);
                if cleaned.len() > 1 && cleaned.starts_with('/') {
                    cleaned.remove(0);
                }
            }
            if exclusion && cleaned.is_empty() {
                return Err(Error::at(
                    n + 1,
                    format!("illegal exclusion pattern: {}", go_quote("!")),
                ));
            }
            let toks = compile(&cleaned, true).map_err(|e| e.with_line(n + 1))?;
            let dirs = cleaned.split('/').count();
            patterns.push(Pattern {
                text: cleaned,
                toks,
                exclusion,
                dirs,
            });
        }
        Ok(IgnoreMatcher { patterns })
    }

    /// Whether `rel_path` (slash-separated, relative to the context root) is
    /// excluded from the build context.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let file = normalize(rel_path);
        let parent = match file.rfind('/') {
            Some(i) => clean_path(&file[..i]),
            None => ".".to_string(),
        };
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = matches(p, &file);
            if !m && parent != "." && p.dirs <= parent_dirs.len() {
                m = matches(p, &parent_dirs[..p.dirs].join("/"));
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether an exception pattern could re-include something below the
    /// (excluded) directory `rel_dir`, so a walker must still descend into it
    /// (Docker's rule: an exception pattern that starts with `rel_dir/`).
    pub fn may_include_below(&self, rel_dir: &str) -> bool {
        let dir_slash = format!("{}/", normalize(rel_dir));
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| format!("{}/", p.text).starts_with(&dir_slash))
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is an exception (`!pattern`).
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> IgnoreMatcher {
        IgnoreMatcher::parse(text).unwrap()
    }

    #[test]
    fn clean() {
        assert_eq!(clean_path("./a"), "a");
        assert_eq!(clean_path("/a/../b/"), "/b");
        assert_eq!(clean_path("a//b/./c/.."), "a/b");
        assert_eq!(clean_path("../a"), "../a");
        assert_eq!(clean_path("./"), ".");
    }

    #[test]
    fn simple_and_parent_dirs() {
        let ig = m("# comment\n\nnode_modules\n*.pyc\n/data\n./build/\n");
        assert!(ig.is_excluded("node_modules"));
        assert!(ig.is_excluded("node_modules/x/y.js"));
        assert!(ig.is_excluded("a.pyc"));
        assert!(!ig.is_excluded("sub/a.pyc"));
        assert!(ig.is_excluded("data/big.csv"));
        assert!(ig.is_excluded("build/out"));
        assert!(!ig.is_excluded("src/main.py"));
        assert!(!ig.is_excluded("# comment"));
        assert!(!ig.is_empty());
        assert!(m("# c\n\n").is_empty());
    }

    #[test]
    fn exceptions_later_wins() {
        let ig = m("*.md\n!README.md\n");
        assert!(ig.is_excluded("CHANGES.md"));
        assert!(!ig.is_excluded("README.md"));
        let ig = m("!README.md\n*.md\n");
        assert!(ig.is_excluded("README.md"));
        let ig = m("data\n!data/keep.csv\n");
        assert!(ig.is_excluded("data/other.csv"));
        assert!(!ig.is_excluded("data/keep.csv"));
        assert!(ig.may_include_below("data"));
        assert!(!ig.may_include_below("other"));
        assert!(ig.has_exclusions());
    }

    #[test]
    fn double_star() {
        let ig = m("**/*.log\n");
        assert!(ig.is_excluded("a.log"));
        assert!(ig.is_excluded("x/y/z.log"));
        assert!(!ig.is_excluded("x/y/z.txt"));
        let ig = m("a/**/b\n");
        assert!(ig.is_excluded("a/b"));
        assert!(ig.is_excluded("a/x/y/b"));
        assert!(ig.is_excluded("a/x/b/c"));
        let ig = m("dir/**\n");
        assert!(ig.is_excluded("dir/x"));
        assert!(!ig.is_excluded("dir"));
        let ig = m("**\n!keep\n");
        assert!(ig.is_excluded("anything/at/all"));
        assert!(!ig.is_excluded("keep"));
    }

    #[test]
    fn wildcards_and_errors() {
        let ig = m("temp?\n*/temp*\n[ab].txt\n");
        assert!(ig.is_excluded("temp1"));
        assert!(ig.is_excluded("sub/temporary"));
        assert!(!ig.is_excluded("sub/sub/temporary"));
        assert!(ig.is_excluded("a.txt"));
        assert!(!ig.is_excluded("c.txt"));
        assert!(IgnoreMatcher::parse("[\n").is_err());
        let e = IgnoreMatcher::parse("ok\n!\n").unwrap_err();
        assert_eq!(e.message, "illegal exclusion pattern: \"!\"");
        assert_eq!(e.line, Some(2));
    }
}
