//! Table and `--format` output for list commands, as the docker CLI
//! renders them: Go templates, a `table` prefix that adds a header row,
//! `\t`/`\n` escapes, and Go's `text/tabwriter` alignment (minimum cell
//! width 10, padding 3).

use super::template::{Template, TemplateError, Val, HIDDEN};

/// Render `rows` with a user or default format. `header` maps each field
/// to its column title.
pub fn render(format: &str, header: &Val, rows: &[Val]) -> Result<String, TemplateError> {
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, format),
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    let tmpl = Template::parse(&body)?;
    let mut out = String::new();
    if table {
        out.push_str(&tmpl.execute(header)?);
        out.push('\n');
    }
    for row in rows {
        out.push_str(&tmpl.execute(row)?);
        out.push('\n');
    }
    Ok(if table { tabwrite(&out, 10, 3) } else { out })
}

/// Build a row value from `(field, value)` pairs (sorted by key, as
/// `{{json .}}` prints them) plus hidden method maps such as `Label`.
pub fn row(fields: Vec<(&str, String)>, methods: Vec<(&str, Val)>) -> Val {
    let mut entries: Vec<(String, Val)> = fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), Val::Str(v)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in methods {
        entries.push((format!("{HIDDEN}{k}"), v));
    }
    Val::Obj(entries)
}

/// Go's `text/tabwriter` with padding character ' ' and no flags: every
/// tab-terminated cell is padded to its column's width (widest cell plus
/// `padding`, at least `min_width`); the text after a line's last tab is
/// left as is. Columns are aligned over each block of consecutive lines
/// that have that column.
pub fn tabwrite(text: &str, min_width: usize, padding: usize) -> String {
    let had_trailing_newline = text.ends_with('\n');
    let lines: Vec<Vec<&str>> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|l| l.split('\t').collect())
        .collect();
    // widths[line][col] for terminated cells.
    let mut widths: Vec<Vec<usize>> = lines
        .iter()
        .map(|l| vec![0; l.len().saturating_sub(1)])
        .collect();
    let max_cols = widths.iter().map(Vec::len).max().unwrap_or(0);
    for col in 0..max_cols {
        let mut i = 0;
        while i < lines.len() {
            if widths[i].len() <= col {
                i += 1;
                continue;
            }
            let start = i;
            let mut w = min_width;
            while i < lines.len() && widths[i].len() > col {
                w = w.max(lines[i][col].chars().count() + padding);
                i += 1;
            }
            for row in widths.iter_mut().take(i).skip(start) {
                row[col] = w;
            }
        }
    }
    let mut out = String::with_capacity(text.len() * 2);
    for (cells, ws) in lines.iter().zip(&widths) {
        for (c, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = ws.get(c) {
                let n = cell.chars().count();
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(n)));
            }
        }
        out.push('\n');
    }
    if !had_trailing_newline {
        out.pop();
    }
    out
}

/// Shorten `s` to `max` characters, ending with `…` when cut (Docker's
/// `formatter.Ellipsis`).
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_matches_go() {
        let out = tabwrite("A\tBB\tC\nlonger cell\tx\tlast\n", 10, 3);
        assert_eq!(
            out,
            "A             BB        C\nlonger cell   x         last\n"
        );
    }

    #[test]
    fn table_has_header_and_aligned_rows() {
        let header = row(
            vec![("ID", "CONTAINER ID".into()), ("Names", "NAMES".into())],
            vec![],
        );
        let rows = vec![row(
            vec![("ID", "abc".into()), ("Names", "web".into())],
            vec![],
        )];
        let out = render("table {{.ID}}\\t{{.Names}}", &header, &rows).unwrap();
        assert_eq!(out, "CONTAINER ID   NAMES\nabc            web\n");
        let out = render("{{.ID}}: {{.Names}}", &header, &rows).unwrap();
        assert_eq!(out, "abc: web\n");
    }

    #[test]
    fn ellipsis_cuts_like_docker() {
        assert_eq!(
            ellipsis("\"sleep 1000000000000\"", 20),
            "\"sleep 100000000000…"
        );
        assert_eq!(ellipsis("\"sh\"", 20), "\"sh\"");
    }
}
