//! Instruction flag parsing (`--name=value`) with the Docker 20.10 classic
//! builder's error messages.

use crate::error::Error;

/// The kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagType {
    /// `--x` or `--x=true|false`.
    Bool,
    /// `--x=value`, at most once.
    String,
    /// `--x=value`, repeatable.
    Strings,
}

/// Parsed flag values.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: Vec<(String, Vec<String>)>,
}

impl Flags {
    /// Parse raw flags against the allowed `(name, type)` list.
    pub(crate) fn parse(raw: &[String], allowed: &[(&str, FlagType)]) -> Result<Flags, Error> {
        let mut out = Flags::default();
        for arg in raw {
            let Some(body) = arg.strip_prefix("--") else {
                return Err(Error::msg(format!("Arg should start with -- : {arg}")));
            };
            if body.is_empty() {
                return Ok(out);
            }
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(_, ty)) = allowed.iter().find(|(n, _)| *n == name) else {
                return Err(Error::msg(format!("Unknown flag: {name}")));
            };
            let used = out.values.iter().position(|(n, _)| n == name);
            if used.is_some() && ty != FlagType::Strings {
                return Err(Error::msg(format!("Duplicate flag specified: {name}")));
            }
            let v = match ty {
                FlagType::Bool => match value {
                    Some("") => return Err(Error::msg(format!("Missing a value on flag: {name}"))),
                    None => "true".to_string(),
                    Some(v) if v.eq_ignore_ascii_case("true") => "true".into(),
                    Some(v) if v.eq_ignore_ascii_case("false") => "false".into(),
                    Some(v) => {
                        return Err(Error::msg(format!(
                            "Expecting boolean value for flag {name}, not: {v}"
                        )))
                    }
                },
                FlagType::String | FlagType::Strings => match value {
                    Some(v) => v.to_string(),
                    None => return Err(Error::msg(format!("Missing a value on flag: {name}"))),
                },
            };
            match used {
                Some(i) => out.values[i].1.push(v),
                None => out.values.push((name.to_string(), vec![v])),
            }
        }
        Ok(out)
    }

    /// The value of a string flag, if given.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.last().cloned())
    }

    /// All values of a repeatable flag.
    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// The value of a bool flag (false when absent).
    pub(crate) fn bool(&self, name: &str) -> bool {
        self.string(name).as_deref() == Some("true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parse_flags() {
        let allowed = [
            ("from", FlagType::String),
            ("link", FlagType::Bool),
            ("mount", FlagType::Strings),
        ];
        let f = Flags::parse(
            &s(&["--from=a", "--link", "--mount=x", "--mount=y"]),
            &allowed,
        )
        .unwrap();
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert!(f.bool("link"));
        assert_eq!(f.strings("mount"), vec!["x", "y"]);
        let e = |r: &[&str]| Flags::parse(&s(r), &allowed).unwrap_err().message;
        assert_eq!(e(&["--foo=1"]), "Unknown flag: foo");
        assert_eq!(e(&["--from"]), "Missing a value on flag: from");
        assert_eq!(
            e(&["--from=a", "--from=b"]),
            "Duplicate flag specified: from"
        );
        assert_eq!(
            e(&["--link=maybe"]),
            "Expecting boolean value for flag link, not: maybe"
        );
        assert_eq!(e(&["--link="]), "Missing a value on flag: link");
    }
}
