//! `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="...",
//! service="...",scope="..."` and `Basic realm="..."`.
//!
//! Hand-written: the grammar is small (a scheme, then comma-separated
//! `key=value` pairs whose values may be quoted strings with `\` escapes),
//! and the crates that parse it pull in a whole HTTP framework.

use std::collections::BTreeMap;

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower case (`bearer`, `basic`).
    pub scheme: String,
    /// Its parameters, keys in lower case.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter's value (`realm`, `service`, `scope`).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// Parse every challenge of one `WWW-Authenticate` header value.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // A token: either a new scheme or a parameter name.
        let end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..end];
        let after = rest[end..].trim_start();
        if let Some(value_part) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let (value, remaining) = parse_value(value_part.trim_start());
            if let Some(c) = out.last_mut() {
                c.params.insert(token.to_lowercase(), value);
            }
            rest = remaining.trim_start().trim_start_matches(',').trim_start();
        } else {
            if !token.is_empty() {
                out.push(Challenge {
                    scheme: token.to_lowercase(),
                    params: BTreeMap::new(),
                });
            }
            rest = after.trim_start_matches(',').trim_start();
            if token.is_empty() && after.is_empty() {
                break;
            }
            if token.is_empty() && !after.starts_with(',') {
                // Stray character: skip it so that parsing ends.
                let mut chars = after.chars();
                chars.next();
                rest = chars.as_str();
            }
        }
    }
    out
}

/// A parameter value: a quoted string (with `\` escapes) or a token.
/// Returns the value and the rest of the input.
fn parse_value(s: &str) -> (String, &str) {
    if let Some(body) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(n);
                    }
                }
                '"' => return (value, &body[i + 1..]),
                c => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = s.find(',').unwrap_or(s.len());
        (s[..end].trim().to_string(), &s[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_quoted_params() {
        let c = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:library/alpine:pull"));
    }

    #[test]
    fn basic_and_spaces_and_escapes() {
        let c = parse(r#"Basic realm = "Registry \"Realm\"" , charset="UTF-8""#);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some(r#"Registry "Realm""#));
        assert_eq!(c[0].param("charset"), Some("UTF-8"));
    }

    #[test]
    fn several_challenges_and_tokens() {
        let c = parse(r#"Basic realm="a", Bearer realm=https://x/token,service=reg"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("realm"), Some("https://x/token"));
        assert_eq!(c[1].param("service"), Some("reg"));
    }

    #[test]
    fn garbage_does_not_hang_or_panic() {
        for s in [
            "",
            ",,,",
            "=",
            "Bearer realm=\"unterminated",
            "= = =",
            "Bearer ,",
        ] {
            let _ = parse(s);
        }
        assert!(parse("").is_empty());
    }
}
