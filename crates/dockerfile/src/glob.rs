//! Go `filepath.Match` semantics (Unix): `*` matches any run of non-`/`
//! characters, `?` one non-`/` character, `[...]` / `[^...]` a character
//! class with ranges, and `\` escapes the next character.

use crate::error::Error;

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A literal character.
    Lit(char),
    /// `*`: any run of characters other than `/`.
    Star,
    /// `?`: one character other than `/`.
    Any,
    /// `[...]`: (negated, ranges).
    Class(bool, Vec<(char, char)>),
    /// `**/` in .dockerignore: empty or anything ending with `/`.
    DoubleStarSlash,
    /// `**` at the end in .dockerignore: anything.
    DoubleStarEnd,
}

pub(crate) fn bad_pattern() -> Error {
    Error::msg("syntax error in pattern")
}

/// Parse a character class body starting after `[`; returns the token and
/// the index just after `]`.
pub(crate) fn parse_class(p: &[char], mut i: usize) -> Result<(Tok, usize), Error> {
    let mut negated = false;
    if p.get(i) == Some(&'^') {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        match p.get(i) {
            None => return Err(bad_pattern()),
            Some(']') if !ranges.is_empty() => return Ok((Tok::Class(negated, ranges), i + 1)),
            _ => {}
        }
        let (lo, ni) = get_esc(p, i)?;
        i = ni;
        let mut hi = lo;
        if p.get(i) == Some(&'-') {
            let (h, ni) = get_esc(p, i + 1)?;
            hi = h;
            i = ni;
        }
        ranges.push((lo, hi));
    }
}

fn get_esc(p: &[char], i: usize) -> Result<(char, usize), Error> {
    match p.get(i) {
        None | Some('-') | Some(']') => Err(bad_pattern()),
        Some('\\') => match p.get(i + 1) {
            Some(&c) => Ok((c, i + 2)),
            None => Err(bad_pattern()),
        },
        Some(&c) => Ok((c, i + 1)),
    }
}

/// Compile a `filepath.Match` pattern. With `double_star` (.dockerignore
/// patterns, as moby/patternmatcher reads them) `**` is a token of its own:
/// [`Tok::DoubleStarSlash`] (`**/`, or `**` before more pattern) or
/// [`Tok::DoubleStarEnd`] (`**` at the end).
pub(crate) fn compile(pattern: &str, double_star: bool) -> Result<Vec<Tok>, Error> {
    let p: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' if double_star && p.get(i + 1) == Some(&'*') => {
                i += 2;
                if p.get(i) == Some(&'/') {
                    i += 1;
                }
                let tok = if i >= p.len() {
                    Tok::DoubleStarEnd
                } else {
                    Tok::DoubleStarSlash
                };
                // `**/**/` matches what `**/` matches (and `**/**` what
                // `**` does): keep one, so that a pattern of thousands of
                // them costs no more than one (found by fuzzing).
                if toks.last() == Some(&Tok::DoubleStarSlash) {
                    toks.pop();
                }
                toks.push(tok);
            }
            '*' => {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
                i += 1;
            }
            '?' => {
                toks.push(Tok::Any);
                i += 1;
            }
            '[' => {
                let (t, ni) = parse_class(&p, i + 1)?;
                toks.push(t);
                i = ni;
            }
            '\\' => match p.get(i + 1) {
                Some(&c) => {
                    toks.push(Tok::Lit(c));
                    i += 2;
                }
                None => return Err(bad_pattern()),
            },
            c => {
                toks.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Ok(toks)
}

fn class_matches(negated: bool, ranges: &[(char, char)], c: char) -> bool {
    let hit = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
    hit != negated
}

/// Full match of compiled tokens against `text`: a bottom-up table over
/// (token, position), so it costs O(tokens x text) and never recurses.
pub(crate) fn match_toks(toks: &[Tok], text: &[char]) -> bool {
    let n = text.len();
    // Each of these tokens consumes one character: more of them than
    // characters cannot match (and a huge pattern then costs nothing).
    let consuming = toks
        .iter()
        .filter(|t| matches!(t, Tok::Lit(_) | Tok::Any | Tok::Class(..)))
        .count();
    if consuming > n {
        return false;
    }
    // next[si]: do toks[ti+1..] match text[si..]?
    let mut next = vec![false; n + 1];
    next[n] = true;
    for tok in toks.iter().rev() {
        let mut cur = vec![false; n + 1];
        // For `**/`: is there a k >= si with text[k] == '/' and next[k + 1]?
        let mut slash_then_rest = false;
        for si in (0..=n).rev() {
            if si < n && text[si] == '/' && next[si + 1] {
                slash_then_rest = true;
            }
            let c = text.get(si).copied();
            cur[si] = match tok {
                Tok::Lit(l) => c == Some(*l) && next[si + 1],
                Tok::Any => matches!(c, Some(c) if c != '/') && next[si + 1],
                Tok::Class(neg, ranges) => {
                    matches!(c, Some(c) if class_matches(*neg, ranges, c)) && next[si + 1]
                }
                // empty, or one non-'/' char then Star again
                Tok::Star => next[si] || (matches!(c, Some(c) if c != '/') && cur[si + 1]),
                Tok::DoubleStarEnd => next[si] || (c.is_some() && cur[si + 1]),
                // empty, or any run ending with '/'
                Tok::DoubleStarSlash => next[si] || slash_then_rest,
            };
        }
        next = cur;
    }
    next[0]
}

/// Go `filepath.Match` (for COPY/ADD source globs); Err on a bad pattern
/// (`syntax error in pattern`).
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, Error> {
    let toks = compile(pattern, false)?;
    let text: Vec<char> = name.chars().collect();
    Ok(match_toks(&toks, &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_star_is_a_token_only_when_asked() {
        assert_eq!(
            compile("a/**", false).unwrap(),
            compile("a/*", false).unwrap()
        );
        assert_eq!(
            compile("**/b", true).unwrap(),
            [Tok::DoubleStarSlash, Tok::Lit('b')]
        );
        assert_eq!(
            compile("a/**", true).unwrap(),
            [Tok::Lit('a'), Tok::Lit('/'), Tok::DoubleStarEnd]
        );
        assert_eq!(compile("*", true).unwrap(), [Tok::Star]);
        for double_star in [false, true] {
            assert!(compile("a\\", double_star).is_err());
            assert!(compile("[a", double_star).is_err());
        }
    }

    #[test]
    fn repeated_double_stars_collapse_and_long_patterns_stay_cheap() {
        // Found by fuzzing: 50,000 `**/` against a long path took minutes.
        let many = "**/".repeat(50_000);
        assert_eq!(
            compile(&format!("{many}b"), true).unwrap(),
            [Tok::DoubleStarSlash, Tok::Lit('b')]
        );
        assert_eq!(
            compile(&format!("{many}**"), true).unwrap(),
            [Tok::DoubleStarEnd]
        );
        let path: Vec<char> = "a/".repeat(2_000).chars().chain("b".chars()).collect();
        assert!(match_toks(
            &compile(&format!("{many}b"), true).unwrap(),
            &path
        ));
        assert!(!match_toks(
            &compile(&format!("{many}c"), true).unwrap(),
            &path
        ));
        // More characters to match than the path has: no match, at once.
        let long = "a*".repeat(100_000);
        assert!(!match_toks(&compile(&long, true).unwrap(), &path));
        assert!(match_toks(&compile("a/**/a/b", true).unwrap(), &path));
    }

    #[test]
    fn go_match_cases() {
        let ok = |p: &str, n: &str| glob_match(p, n).unwrap();
        assert!(ok("abc", "abc"));
        assert!(ok("*", "abc"));
        assert!(ok("*c", "abc"));
        assert!(!ok("a*", "ab/c"));
        assert!(ok("a*/b", "abc/b"));
        assert!(ok("a*b*c*d*e*/f", "axbxcxdxe/f"));
        assert!(!ok("a*b*c*d*e*/f", "axbxcxdxe/xxx/f"));
        assert!(ok("ab[c]", "abc"));
        assert!(ok("ab[b-d]", "abc"));
        assert!(!ok("ab[e-g]", "abc"));
        assert!(!ok("ab[^c]", "abc"));
        assert!(ok("ab[^e-g]", "abc"));
        assert!(ok("a\\*b", "a*b"));
        assert!(!ok("a\\*b", "ab"));
        assert!(ok("a?b", "a☺b"));
        assert!(!ok("a?b", "a/b"));
        assert!(ok("[\\-]", "-"));
        assert!(ok("*.txt", "notes.txt"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let name = "a".repeat(200);
        let pattern = format!("{}b", "*a".repeat(30));
        assert!(!glob_match(&pattern, &name).unwrap());
    }

    #[test]
    fn bad_patterns() {
        assert!(glob_match("[", "a").is_err());
        assert!(glob_match("[^", "a").is_err());
        assert!(glob_match("[]a]", "]").is_err());
        assert!(glob_match("[-]", "-").is_err());
        assert!(glob_match("a[", "a").is_err());
        assert!(glob_match("\\", "a").is_err());
        assert_eq!(
            glob_match("[", "a").unwrap_err().message,
            "syntax error in pattern"
        );
    }
}
