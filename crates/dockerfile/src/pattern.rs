//! Shell patterns used by `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}`:
//! `*` any string, `?` any character, `\` escapes `*`, `?` and `\`
//! (and is dropped before `}` and `/`). Like the regular expressions buildkit
//! compiles them to, `*` and `?` do not match a newline.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Star,
    Any,
    Lit(char),
}

fn compile(pattern: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Any),
            '\\' => {
                if matches!(chars.get(i), Some('}') | Some('/')) {
                    continue;
                }
                match chars.get(i) {
                    Some(&n) if n == '*' || n == '?' || n == '\\' => {
                        toks.push(Tok::Lit(n));
                        i += 1;
                    }
                    Some(&n) => return Err(format!("invalid escape '\\{n}'")),
                    None => return Err("invalid escape '\\'".into()),
                }
            }
            c => toks.push(Tok::Lit(c)),
        }
    }
    Ok(toks)
}

/// Match of `toks` starting at `text[start..]`; returns the end of the
/// first match in regexp preference order (stars greedy or lazy). Computed
/// bottom-up over (token, position), without recursion.
fn match_at(toks: &[Tok], text: &[char], start: usize, greedy: bool) -> Option<usize> {
    let n = text.len();
    // next[si]: preferred end when toks[ti+1..] is matched from si.
    let mut next: Vec<Option<usize>> = (0..=n).map(Some).collect();
    for tok in toks.iter().rev() {
        let mut cur = vec![None; n + 1];
        for si in start..=n {
            cur[si] = match tok {
                Tok::Lit(c) => match text.get(si) {
                    Some(t) if t == c => next[si + 1],
                    _ => None,
                },
                Tok::Any => match text.get(si) {
                    Some(&t) if t != '\n' => next[si + 1],
                    _ => None,
                },
                Tok::Star => {
                    let mut max = si;
                    while max < n && text[max] != '\n' {
                        max += 1;
                    }
                    if greedy {
                        (si..=max).rev().find_map(|e| next[e])
                    } else {
                        (si..=max).find_map(|e| next[e])
                    }
                }
            };
        }
        next = cur;
    }
    next[start]
}

fn invalid(pattern: &str, e: String) -> String {
    format!("invalid pattern ({pattern}) in substitution: {e}")
}

/// `${value#pattern}` / `${value##pattern}` (greedy).
pub(crate) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let toks = compile(pattern).map_err(|e| invalid(pattern, e))?;
    let text: Vec<char> = value.chars().collect();
    Ok(match match_at(&toks, &text, 0, greedy) {
        Some(end) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let n = p.len();
    let mut out = vec![' '; n];
    let mut i = 0;
    while i < n {
        let out_idx = n - 1 - i;
        if p[i] == '\\' && i != n - 1 {
            out[out_idx - 1] = '\\';
            out[out_idx] = p[i + 1];
            i += 2;
        } else {
            out[out_idx] = p[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// `${value%pattern}` / `${value%%pattern}` (greedy).
pub(crate) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let rp = reverse_pattern(pattern);
    let rv: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&rp, &rv, greedy).map_err(|_| {
        // report the pattern as written
        compile(pattern)
            .err()
            .map(|e| invalid(pattern, e))
            .unwrap_or_else(|| invalid(pattern, "invalid pattern".into()))
    })?;
    Ok(trimmed.chars().rev().collect())
}

/// `${value/pattern/replacement}` and `${value//pattern/replacement}`.
pub(crate) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, String> {
    let toks = compile(pattern).map_err(|e| invalid(pattern, e))?;
    let text: Vec<char> = value.chars().collect();
    let n = text.len();
    let find =
        |from: usize| (from..=n).find_map(|s| match_at(&toks, &text, s, true).map(|e| (s, e)));
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    let mut prev_end: Option<usize> = None;
    while search <= n {
        let Some((s, e)) = find(search) else { break };
        if e == s && prev_end == Some(s) {
            // empty match abutting the previous match is ignored
            search = s + 1;
            continue;
        }
        out.extend(&text[copied..s]);
        out.push_str(replacement);
        copied = e;
        prev_end = Some(e);
        if !all {
            break;
        }
        search = if e > s { e } else { e + 1 };
    }
    out.extend(&text[copied..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_suffix() {
        assert_eq!(trim_prefix("a*", "abcabc", false).unwrap(), "bcabc");
        assert_eq!(trim_prefix("a*", "abcabc", true).unwrap(), "");
        assert_eq!(trim_suffix("c*", "abcabc", false).unwrap(), "abcab");
        assert_eq!(trim_suffix("b*", "abcabc", true).unwrap(), "a");
        assert_eq!(trim_prefix("x", "abc", true).unwrap(), "abc");
        assert!(trim_prefix("\\x", "abc", true).is_err());
    }

    #[test]
    fn replace_first_and_all() {
        assert_eq!(replace("b", "abcb", "X", false).unwrap(), "aXcb");
        assert_eq!(replace("b", "abcb", "X", true).unwrap(), "aXcX");
        assert_eq!(replace("b*", "abcb", "X", false).unwrap(), "aX");
        assert_eq!(reverse_pattern("a\\*c"), "c\\*a");
    }
}
