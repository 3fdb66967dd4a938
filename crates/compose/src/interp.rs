//! Variable interpolation in values, as Compose does it: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
//! `${VAR:+alt}`, `${VAR+alt}`, nested inside defaults, and `$$` for a
//! literal `$`.
//!
//! Hand-written: the syntax is Compose's own (a subset of POSIX sh with
//! Compose's error messages); no crate implements exactly this.

use crate::node::{Node, Value};

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    /// Bad syntax.
    Invalid,
    /// `${VAR:?msg}` or `${VAR?msg}` on a missing variable.
    Required {
        /// The variable.
        name: String,
        /// The message given after `?`.
        message: String,
    },
}

/// Interpolate `input`, looking variables up with `lookup`. Variables that
/// are unset and have no default are reported to `unset` and become "".
pub fn interpolate(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut dyn FnMut(&str),
) -> Result<String, InterpError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let end = closing_brace(&chars, i + 2).ok_or(InterpError::Invalid)?;
                let inner: String = chars[i + 2..end].iter().collect();
                out.push_str(&braced(&inner, lookup, unset)?);
                i = end + 1;
            }
            Some(&c2) if c2 == '_' || c2.is_ascii_alphabetic() => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && (chars[j] == '_' || chars[j].is_ascii_alphanumeric()) {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                match lookup(&name) {
                    Some(v) => out.push_str(&v),
                    None => unset(&name),
                }
                i = j;
            }
            _ => return Err(InterpError::Invalid),
        }
    }
    Ok(out)
}

/// Index of the `}` closing a `${` whose content starts at `from`.
fn closing_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 1;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'$') => i += 1,
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut dyn FnMut(&str),
) -> Result<String, InterpError> {
    let name_end = inner
        .char_indices()
        .find(|(_, c)| !(*c == '_' || c.is_ascii_alphanumeric()))
        .map(|(i, _)| i)
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(InterpError::Invalid);
    }
    let rest = &inner[name_end..];
    let value = lookup(name);
    if rest.is_empty() {
        return Ok(value.unwrap_or_else(|| {
            unset(name);
            String::new()
        }));
    }
    let (op, word) = if let Some(w) = rest.strip_prefix(":-") {
        (":-", w)
    } else if let Some(w) = rest.strip_prefix(":?") {
        (":?", w)
    } else if let Some(w) = rest.strip_prefix(":+") {
        (":+", w)
    } else if let Some(w) = rest.strip_prefix('-') {
        ("-", w)
    } else if let Some(w) = rest.strip_prefix('?') {
        ("?", w)
    } else if let Some(w) = rest.strip_prefix('+') {
        ("+", w)
    } else {
        return Err(InterpError::Invalid);
    };
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let present = if op.starts_with(':') {
        set_nonempty
    } else {
        value.is_some()
    };
    match op.trim_start_matches(':') {
        "-" => {
            if present {
                Ok(value.unwrap_or_default())
            } else {
                interpolate(word, lookup, unset)
            }
        }
        "+" => {
            if present {
                interpolate(word, lookup, unset)
            } else {
                Ok(String::new())
            }
        }
        _ => {
            if present {
                Ok(value.unwrap_or_default())
            } else {
                Err(InterpError::Required {
                    name: name.to_string(),
                    message: interpolate(word, lookup, unset)?,
                })
            }
        }
    }
}

/// Interpolate every scalar value (not keys) of a tree in place. `path` is
/// the key path of `node`, for messages.
pub fn interpolate_tree(
    node: &mut Node,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<(), crate::LoadError> {
    match &mut node.value {
        Value::Scalar(s) => {
            if !s.text.contains('$') {
                return Ok(());
            }
            let mut unset = |name: &str| {
                let w =
                    format!("The \"{name}\" variable is not set. Defaulting to a blank string.");
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            };
            match interpolate(&s.text, lookup, &mut unset) {
                Ok(v) => {
                    s.text = v;
                    // An interpolated plain scalar is typed by its result.
                    if s.plain && s.text.is_empty() {
                        node.value = Value::Null;
                    }
                    Ok(())
                }
                Err(InterpError::Invalid) => Err(crate::LoadError::at(
                    node.pos.clone(),
                    path,
                    format!(
                        "invalid interpolation format for {path}: {:?}; you may need to escape any $ with another $",
                        s.text
                    ),
                )),
                Err(InterpError::Required { name, message }) => {
                    let msg = if message.is_empty() {
                        format!("required variable {name} is missing a value")
                    } else {
                        format!("required variable {name} is missing a value: {message}")
                    };
                    Err(crate::LoadError::at(node.pos.clone(), path, msg))
                }
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{path}[{i}]"), lookup, warnings)?;
            }
            Ok(())
        }
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                interpolate_tree(v, &p, lookup, warnings)?;
            }
            Ok(())
        }
        Value::Null => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(s: &str) -> Result<String, InterpError> {
        let env: HashMap<&str, &str> = [("A", "a"), ("EMPTY", ""), ("N", "5")]
            .into_iter()
            .collect();
        let lookup = |k: &str| env.get(k).map(|v| v.to_string());
        interpolate(s, &lookup, &mut |_| {})
    }

    #[test]
    fn forms() {
        assert_eq!(run("$A-${A}").unwrap(), "a-a");
        assert_eq!(
            run("${B:-d}|${EMPTY:-d}|${EMPTY-d}|${B-d}").unwrap(),
            "d|d||d"
        );
        assert_eq!(
            run("${A:+x}|${EMPTY:+x}|${EMPTY+x}|${B+x}").unwrap(),
            "x||x|"
        );
        assert_eq!(run("$$A $${A}").unwrap(), "$A ${A}");
        assert_eq!(run("${B:-${C:-${A}}}").unwrap(), "a");
        assert_eq!(run("${B:-x$N}y").unwrap(), "x5y");
        assert_eq!(run("$B.").unwrap(), ".");
        assert_eq!(run("${A}_x$A_x").unwrap(), "a_x");
    }

    #[test]
    fn required() {
        assert_eq!(
            run("${B:?give B}").unwrap_err(),
            InterpError::Required {
                name: "B".into(),
                message: "give B".into()
            }
        );
        assert!(run("${EMPTY:?e}").is_err());
        assert_eq!(run("${EMPTY?e}").unwrap(), "");
        assert_eq!(run("${A:?e}").unwrap(), "a");
    }

    #[test]
    fn invalid() {
        for s in ["${", "$", "a $ b", "${}", "${A:x}", "${1A}", "${A"] {
            assert_eq!(run(s), Err(InterpError::Invalid), "{s}");
        }
    }

    #[test]
    fn unset_is_reported() {
        let mut seen = Vec::new();
        let r = interpolate("${X}$Y${Z:-1}", &|_| None, &mut |n| {
            seen.push(n.to_string())
        });
        assert_eq!(r.unwrap(), "1");
        assert_eq!(seen, ["X", "Y"]);
    }
}
