//! `.env` and `env_file` syntax as Compose reads it: `KEY=VALUE` lines,
//! optional `export `, `#` comments (whole-line, or after a space in an
//! unquoted value), single quotes (literal), double quotes (escapes and
//! `${VAR}` expansion, may span lines), and `KEY` alone (take it from the
//! environment when set).
//!
//! Hand-written: Compose's dialect differs from the `dotenvy` crate's
//! (interpolation rules, `KEY` without `=`, error wording).

use indexmap::IndexMap;

use crate::interp::interpolate;

/// A parse failure: the 1-based line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parse `text`. `lookup` resolves `${VAR}` in values and bare `KEY` lines
/// (earlier keys of the same file are seen first). A bare `KEY` that
/// `lookup` does not know is left out.
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, String>, DotenvError> {
    let mut out: IndexMap<String, String> = IndexMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let (key, rest) = match line.find('=') {
            Some(eq) => (line[..eq].trim(), Some(&line[eq + 1..])),
            None => (line.trim(), None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(DotenvError {
                line: lineno,
                message: format!("unexpected character in variable name {key:?}"),
            });
        }
        let Some(rest) = rest else {
            let found = out.get(key).cloned().or_else(|| lookup(key));
            if let Some(v) = found {
                out.insert(key.to_string(), v);
            }
            continue;
        };
        let rest = rest.trim_start();
        let known = |k: &str| out.get(k).cloned().or_else(|| lookup(k));
        let value = if let Some(body) = rest.strip_prefix('\'') {
            let (v, consumed) = quoted(body, '\'', &lines, &mut i, lineno)?;
            let _ = consumed;
            v
        } else if let Some(body) = rest.strip_prefix('"') {
            let (raw, _) = quoted(body, '"', &lines, &mut i, lineno)?;
            let unescaped = unescape(&raw);
            interpolate(&unescaped, &known, &mut |_| {}).map_err(|_| DotenvError {
                line: lineno,
                message: format!("invalid interpolation in value of {key}"),
            })?
        } else {
            let v = match rest.find(" #") {
                Some(c) => &rest[..c],
                None => rest,
            };
            interpolate(v.trim(), &known, &mut |_| {}).map_err(|_| DotenvError {
                line: lineno,
                message: format!("invalid interpolation in value of {key}"),
            })?
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

/// The body of a quoted value up to its closing quote, which may be on a
/// later line (then `i` moves past the lines consumed).
fn quoted(
    first: &str,
    quote: char,
    lines: &[&str],
    i: &mut usize,
    lineno: usize,
) -> Result<(String, usize), DotenvError> {
    let mut acc = String::new();
    let mut current = first.to_string();
    loop {
        if let Some(end) = find_close(&current, quote) {
            acc.push_str(&current[..end]);
            return Ok((acc, *i));
        }
        acc.push_str(&current);
        if *i >= lines.len() {
            return Err(DotenvError {
                line: lineno,
                message: format!("unterminated quoted value (missing {quote})"),
            });
        }
        acc.push('\n');
        current = lines[*i].to_string();
        *i += 1;
    }
}

fn find_close(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if quote == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == quote && !escaped {
            return Some(i);
        }
        escaped = false;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IndexMap<String, String> {
        parse(s, &|k| (k == "HOME").then(|| "/home/u".to_string())).unwrap()
    }

    #[test]
    fn syntax() {
        let m = p("# c\n\nA=1\nexport B = two \nC='lit $A # x'\nD=\"q\\n$A\"\nE=v # comment\nF=a#b\nHOME\nG=${A}x\nH=\nI=\"multi\nline\"\nUNSET\n");
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two");
        assert_eq!(m["C"], "lit $A # x");
        assert_eq!(m["D"], "q\n1");
        assert_eq!(m["E"], "v");
        assert_eq!(m["F"], "a#b");
        assert_eq!(m["HOME"], "/home/u");
        assert_eq!(m["G"], "1x");
        assert_eq!(m["H"], "");
        assert_eq!(m["I"], "multi\nline");
        assert!(!m.contains_key("UNSET"));
    }

    #[test]
    fn errors_have_lines() {
        let e = parse("A=1\nB=\"open\n", &|_| None).unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("A B=1\n", &|_| None).unwrap_err();
        assert_eq!(e.line, 1);
    }
}
