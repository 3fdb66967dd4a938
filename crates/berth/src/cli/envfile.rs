//! `--env-file` and `-e` values with the docker CLI's rules: comments and
//! blank lines skipped, no quote stripping, `KEY` alone takes the host's
//! value (and is dropped from env files when the host has none).

/// Parse an env file's text. `lookup` reads the host environment.
pub fn parse_env_file(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = if i == 0 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (var, value) = match trimmed.split_once('=') {
            Some((k, v)) => (k.trim_start(), Some(v)),
            None => (trimmed, None),
        };
        if var.contains([' ', '\t']) {
            return Err(format!(
                "poorly formatted environment: variable '{var}' contains whitespaces"
            ));
        }
        if var.is_empty() {
            return Err(format!(
                "poorly formatted environment: no variable name on line '{line}'"
            ));
        }
        match value {
            Some(v) => out.push(format!("{var}={v}")),
            None => {
                if let Some(v) = lookup(line.trim()) {
                    out.push(format!("{var}={v}"));
                }
            }
        }
    }
    Ok(out)
}

/// Docker's `ValidateEnv` for `-e`: `KEY` alone takes the host's value
/// when set, else is passed as is.
pub fn resolve_env_flag(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let key = value.split('=').next().unwrap_or("");
    if key.is_empty() {
        return Err(format!("invalid environment variable: {value}"));
    }
    if value.contains('=') {
        return Ok(value.to_string());
    }
    Ok(match lookup(value) {
        Some(v) => format!("{value}={v}"),
        None => value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(k: &str) -> Option<String> {
        (k == "HOME").then(|| "/root".to_string())
    }

    #[test]
    fn env_file_rules() {
        let text = "\u{feff}# comment\n\nA=1\n  B=\"quoted\" \nHOME\nUNSET\nC=\n  # indented comment\nD=x=y\n";
        let env = parse_env_file(text, host).unwrap();
        assert_eq!(env, ["A=1", "B=\"quoted\" ", "HOME=/root", "C=", "D=x=y"]);
    }

    #[test]
    fn env_file_rejects_spaces_in_names() {
        let err = parse_env_file("A B=1\n", host).unwrap_err();
        assert_eq!(
            err,
            "poorly formatted environment: variable 'A B' contains whitespaces"
        );
        let err = parse_env_file("=1\n", host).unwrap_err();
        assert!(err.contains("no variable name"), "{err}");
    }

    #[test]
    fn env_flag_rules() {
        assert_eq!(resolve_env_flag("A=1", host).unwrap(), "A=1");
        assert_eq!(resolve_env_flag("HOME", host).unwrap(), "HOME=/root");
        assert_eq!(resolve_env_flag("NOPE", host).unwrap(), "NOPE");
        assert!(resolve_env_flag("=x", host).is_err());
    }
}
