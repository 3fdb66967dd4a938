//! Parser directives (`# escape=`, `# syntax=`, `# check=`): only recognised
//! in the comment lines at the very top of the file.

/// Directive parsing state.
#[derive(Debug, Clone)]
pub(crate) struct Directives {
    /// Current escape token.
    pub escape: char,
    /// The `syntax` directive value.
    pub syntax: Option<String>,
    done: bool,
    seen: Vec<String>,
}

fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// Match `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn match_directive(line: &str) -> Option<(String, String)> {
    let mut chars = line.char_indices();
    let (_, first) = chars.next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let key_end = line
        .char_indices()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    let key = &line[..key_end];
    let rest = line[key_end..].trim_start_matches(is_go_space);
    let rest = rest.strip_prefix('=')?;
    let value = rest.trim_matches(is_go_space);
    if value.is_empty() {
        return None;
    }
    Some((key.to_string(), value.to_string()))
}

impl Directives {
    /// Default state: escape `\`, no directives seen.
    pub(crate) fn new() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            done: false,
            seen: Vec::new(),
        }
    }

    /// Look at one line (newline removed); records a directive if it is one.
    pub(crate) fn possible_directive(&mut self, line: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(());
        };
        let Some((key, value)) = match_directive(rest.trim_start()) else {
            self.done = true;
            return Ok(());
        };
        let key = key.to_lowercase();
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "escape" => {
                if value != "`" && value != "\\" {
                    return Err(format!(
                        "invalid escape token '{value}' does not match ` or \\"
                    ));
                }
                self.escape = value.chars().next().unwrap_or('\\');
            }
            "syntax" => self.syntax = Some(value),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches() {
        assert_eq!(
            match_directive("escape = `  "),
            Some(("escape".into(), "`".into()))
        );
        assert_eq!(match_directive("escape="), None);
        assert_eq!(match_directive("1escape=x"), None);
    }
}
