//! Per-instruction argument parsing of one logical line (buildkit's
//! `line_parsers.go` and `split_command.go`).

use crate::error::Error;
use crate::parser::{new_instruction_at, Instruction};

/// Deepest ONBUILD nesting accepted (guards the recursion).
const MAX_ONBUILD_DEPTH: usize = 8;

/// The outcome of parsing an instruction's arguments.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub args: Vec<String>,
    pub json: bool,
    pub env_pairs: Vec<(String, String, bool)>,
    pub sub: Option<Box<Instruction>>,
}

/// Go's `[\t\v\f\r ]` whitespace class used to split arguments.
fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Split on runs of [`is_ws`], like Go's `regexp.Split(s, n)` (n < 0: all).
fn split_ws(s: &str, n: isize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        if n > 0 && out.len() as isize == n - 1 {
            out.push(rest.to_string());
            return out;
        }
        match rest.find(is_ws) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start_matches(is_ws);
            }
            None => {
                out.push(rest.to_string());
                return out;
            }
        }
    }
}

/// Split a logical line into (command, flags, args rest).
pub(crate) fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let parts = split_ws(line.trim(), 2);
    let cmd = parts.first().cloned().unwrap_or_default();
    let (args, flags) = match parts.get(1) {
        Some(rest) => extract_builder_flags(rest, escape),
        None => (String::new(), Vec::new()),
    };
    (cmd, flags, args.trim().to_string())
}

/// Take leading `--flag` words off `line`; returns (rest, flags).
fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= n {
        let ch = if pos < n { chars[pos].1 } else { '\0' };
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            if ch != '-' || pos + 1 == n || chars[pos + 1].1 != '-' {
                return (line[chars[pos].0..].to_string(), words);
            }
            phase = Phase::Word;
        }
        if pos == n {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (line[chars[pos].0..].to_string(), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut c = ch;
            if ch == escape {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = chars[pos].1;
            }
            word.push(c);
            pos += 1;
            continue;
        }
        // in quote
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = ch;
        if ch == escape {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = chars[pos].1;
        }
        word.push(c);
        pos += 1;
    }
    (String::new(), words)
}

/// Split into words keeping quotes and escapes (expansion happens later).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut pos = 0;
    while pos <= n {
        let mut ch = if pos < n { chars[pos] } else { '\0' };
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if pos == n {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                word.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // in quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            word.push(ch);
            ch = chars[pos];
        }
        word.push(ch);
        pos += 1;
    }
    words
}

fn parse_name_val(rest: &str, key: &str, escape: char) -> Result<Parsed, Error> {
    let words = parse_words(rest, escape);
    if words.is_empty() {
        return Ok(Parsed::default());
    }
    let mut p = Parsed::default();
    if !words[0].contains('=') {
        let parts = split_ws(rest, 2);
        if parts.len() < 2 {
            return Err(Error::msg(format!("{key} must have two arguments")));
        }
        p.env_pairs
            .push((parts[0].clone(), parts[1].clone(), false));
    } else {
        for w in &words {
            let Some((k, v)) = w.split_once('=') else {
                return Err(Error::msg(format!(
                    "Syntax error - can't find = in {}. Must be of the form: name=value",
                    crate::quote::go_quote(w)
                )));
            };
            p.env_pairs.push((k.to_string(), v.to_string(), true));
        }
    }
    for (k, v, eq) in &p.env_pairs {
        p.args.push(k.clone());
        p.args.push(v.clone());
        p.args.push(if *eq { "=".into() } else { String::new() });
    }
    Ok(p)
}

fn parse_json(rest: &str) -> Result<Option<Vec<String>>, Error> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        match v {
            serde_json::Value::String(s) => out.push(s),
            _ => {
                return Err(Error::msg(
                    "when using JSON array syntax, arrays must be comprised of strings only",
                ))
            }
        }
    }
    Ok(Some(out))
}

fn maybe_json(rest: &str) -> Result<Parsed, Error> {
    if rest.is_empty() {
        return Ok(Parsed::default());
    }
    if let Some(args) = parse_json(rest)? {
        return Ok(Parsed {
            args,
            json: true,
            ..Parsed::default()
        });
    }
    Ok(Parsed {
        args: vec![rest.to_string()],
        ..Parsed::default()
    })
}

fn whitespace_delimited(rest: &str) -> Parsed {
    if rest.is_empty() {
        return Parsed::default();
    }
    Parsed {
        args: split_ws(rest, -1),
        ..Parsed::default()
    }
}

fn maybe_json_to_list(rest: &str) -> Result<Parsed, Error> {
    if let Some(args) = parse_json(rest)? {
        return Ok(Parsed {
            args,
            json: true,
            ..Parsed::default()
        });
    }
    Ok(whitespace_delimited(rest))
}

fn health_config(rest: &str) -> Result<Parsed, Error> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok(Parsed::default());
    }
    let typ = rest[..sep].to_string();
    let next = rest[sep..].trim_start();
    let mut p = maybe_json(next)?;
    p.args.insert(0, typ);
    Ok(p)
}

fn string_arg(rest: &str) -> Parsed {
    if rest.is_empty() {
        return Parsed::default();
    }
    Parsed {
        args: vec![rest.to_string()],
        ..Parsed::default()
    }
}

/// Parse the arguments of instruction `keyword` (lower case).
pub(crate) fn dispatch(
    keyword: &str,
    rest: &str,
    escape: char,
    depth: usize,
) -> Result<Parsed, Error> {
    match keyword {
        "add" | "copy" | "volume" => maybe_json_to_list(rest),
        "arg" => {
            let words = parse_words(rest, escape);
            let env_pairs = words
                .iter()
                .map(|w| match w.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string(), true),
                    None => (w.clone(), String::new(), false),
                })
                .collect();
            Ok(Parsed {
                args: words,
                env_pairs,
                ..Parsed::default()
            })
        }
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest),
        "env" => parse_name_val(rest, "ENV", escape),
        "label" => parse_name_val(rest, "LABEL", escape),
        "expose" | "from" => Ok(whitespace_delimited(rest)),
        "healthcheck" => health_config(rest),
        "maintainer" | "stopsignal" | "user" | "workdir" => Ok(string_arg(rest)),
        "onbuild" => {
            if rest.is_empty() {
                return Ok(Parsed::default());
            }
            if depth >= MAX_ONBUILD_DEPTH {
                return Err(Error::msg("ONBUILD instructions nested too deeply"));
            }
            let sub = new_instruction_at(rest, escape, depth + 1)?;
            let mut args = vec![sub.keyword_raw.clone()];
            args.extend(sub.args.iter().cloned());
            Ok(Parsed {
                args,
                sub: Some(Box::new(sub)),
                ..Parsed::default()
            })
        }
        // Unknown instructions parse (and are rejected later, by command()).
        _ => Ok(Parsed {
            args: vec![String::new()],
            ..Parsed::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let (cmd, flags, args) = split_command("COPY --from=a --chown=\"x y\" src dst", '\\');
        assert_eq!(cmd, "COPY");
        assert_eq!(flags, vec!["--from=a", "--chown=x y"]);
        assert_eq!(args, "src dst");
        let (_, flags, args) = split_command("CMD --doit -- [ ]", '\\');
        assert_eq!(flags, vec!["--doit"]);
        assert_eq!(args, "[ ]");
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words("a=\"b c\" d='e f' g\\ h", '\\'),
            vec!["a=\"b c\"", "d='e f'", "g\\ h"]
        );
    }

    #[test]
    fn json_fallback() {
        let p = maybe_json("[\"a\", \"b\"]").unwrap();
        assert!(p.json);
        assert_eq!(p.args, vec!["a", "b"]);
        let p = maybe_json("['a']").unwrap();
        assert!(!p.json);
        assert_eq!(p.args, vec!["['a']"]);
        assert!(maybe_json("[\"a\", 1]").is_err());
    }

    #[test]
    fn split() {
        assert_eq!(split_ws("a  b\tc", -1), vec!["a", "b", "c"]);
        assert_eq!(split_ws("a  b c", 2), vec!["a", "b c"]);
    }
}
