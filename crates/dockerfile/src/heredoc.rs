//! Heredoc detection in an instruction line (`<<EOF`, `<<-EOF`, `<<"EOF"`).

use crate::lex::Lex;
use crate::parser::Heredoc;

fn no_env(_: &str) -> Option<String> {
    None
}

/// Parse one word as a heredoc start: `^(\d*)<<(-?)\s*([^<]*)$`.
pub(crate) fn parse_heredoc(src: &str) -> Result<Option<Heredoc>, String> {
    let digits_end = src
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map(|(i, _)| i)
        .unwrap_or(src.len());
    let Some(rest) = src[digits_end..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }

    let mut lex = Lex::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &no_env).map_err(|e| e.message)?;
    if words.len() != 1 {
        return Ok(None);
    }
    lex.raw_quotes = true;
    let raw_words = lex.process_words(rest, &no_env).map_err(|e| e.message)?;
    if raw_words.len() != words.len() {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let count = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    let expand = count(&words[0]) == count(&raw_words[0]);
    Ok(Some(Heredoc {
        name: words[0].clone(),
        content: String::new(),
        expand,
        chomp,
    }))
}

/// All heredocs started on `line`, in order.
pub(crate) fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, String> {
    let mut lex = Lex::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    lex.heredoc_words = true;
    let words = lex.process_words(line, &no_env).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(doc) = parse_heredoc(&w)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects() {
        let d = heredocs_from_line("RUN 3<<-'EOT' cat <<EOF2 x").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].name.as_str(), d[0].expand, d[0].chomp),
            ("EOT", false, true)
        );
        assert_eq!(
            (d[1].name.as_str(), d[1].expand, d[1].chomp),
            ("EOF2", true, false)
        );
        let d = heredocs_from_line("RUN cat << EOF").unwrap();
        assert_eq!(d[0].name, "EOF");
        assert!(heredocs_from_line("RUN echo a<b").unwrap().is_empty());
        assert!(parse_heredoc("<<").unwrap().is_none());
    }
}
