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

/// Docker's `sortorder.NaturalLess` as an ordering: runs of digits compare
/// by value (fewer leading zeros first), digits sort before other bytes,
/// other bytes compare bytewise.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        let (c1, c2) = (x[i], y[j]);
        let (d1, d2) = (c1.is_ascii_digit(), c2.is_ascii_digit());
        if d1 != d2 {
            return if d1 {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !d1 {
            if c1 != c2 {
                return c1.cmp(&c2);
            }
            i += 1;
            j += 1;
            continue;
        }
        while i < x.len() && x[i] == b'0' {
            i += 1;
        }
        while j < y.len() && y[j] == b'0' {
            j += 1;
        }
        let (nz1, nz2) = (i, j);
        while i < x.len() && x[i].is_ascii_digit() {
            i += 1;
        }
        while j < y.len() && y[j].is_ascii_digit() {
            j += 1;
        }
        let by_len = (i - nz1).cmp(&(j - nz2));
        if by_len != Ordering::Equal {
            return by_len;
        }
        let by_digits = x[nz1..i].cmp(&y[nz2..j]);
        if by_digits != Ordering::Equal {
            return by_digits;
        }
        if nz1 != nz2 {
            return nz1.cmp(&nz2);
        }
    }
    x.len().cmp(&y.len())
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
    fn natural_order_like_docker() {
        use std::cmp::Ordering::*;
        assert_eq!(natural_cmp("80/tcp", "8000/tcp"), Less);
        assert_eq!(natural_cmp("90/udp", "8000/tcp"), Less);
        assert_eq!(natural_cmp("net10", "net9"), Greater);
        assert_eq!(natural_cmp("a", "ab"), Less);
        assert_eq!(natural_cmp("bridge", "bridge"), Equal);
        assert_eq!(natural_cmp("80/tcp -> 0.0.0.0:1", "80/tcp -> [::]:1"), Less);
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
