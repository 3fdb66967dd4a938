//! Parser of RFC 822-style stanzas ("Key: value", continuation lines start
//! with whitespace, stanzas separated by blank lines): dpkg's status file,
//! Python's METADATA/PKG-INFO headers, R's DESCRIPTION, apk's database
//! (whose "K:value" lines are the same shape without the space).

/// One stanza: fields in order of appearance (keys as written).
pub type Stanza = Vec<(String, String)>;

/// Look a field up, case-insensitively.
pub fn field<'a>(stanza: &'a Stanza, key: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Parse all stanzas of `text`.
pub fn stanzas(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur: Stanza = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The header stanza only (Python metadata: the body after the first blank
/// line is the long description).
pub fn headers(text: &str) -> Stanza {
    let end = text
        .find("\n\n")
        .or_else(|| text.find("\r\n\r\n"))
        .unwrap_or(text.len());
    stanzas(&text[..end]).into_iter().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_stanzas() {
        let s = stanzas("Package: a\nDescription: x\n more\n\n\nPackage: b\nVersion: 1\n");
        assert_eq!(s.len(), 2);
        assert_eq!(field(&s[0], "description"), Some("x\nmore"));
        assert_eq!(field(&s[1], "Version"), Some("1"));
    }

    #[test]
    fn headers_stop_at_body() {
        let h = headers("Name: x\nVersion: 2\n\nName: not-me\n");
        assert_eq!(field(&h, "name"), Some("x"));
        assert_eq!(h.len(), 2);
    }
}
