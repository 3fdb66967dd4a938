//! Version ordering, to tell upgrades from downgrades.
//!
//! Hand-written: Debian's algorithm (deb-version(7)) is short and exact for
//! dpkg; the same algorithm orders the dotted numeric versions of apk, npm,
//! conda and R well. For Python, PEP 440 pre-release and dev markers are
//! first turned into Debian's `~` (sorts before the release), which gives
//! PEP 440's order for the common forms without pulling a full PEP 440
//! implementation in for one comparison.

use std::cmp::Ordering;

use crate::model::Ecosystem;

/// Compare two versions of a package of `eco`.
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Ordering {
    match eco {
        Ecosystem::Pip => deb_compare(&pep440_as_deb(a), &pep440_as_deb(b)),
        _ => deb_compare(a, b),
    }
}

/// `1.0rc1` → `1.0~rc1`, `2.0.dev3` → `2.0~~dev3`, `1.0.post1` stays.
fn pep440_as_deb(v: &str) -> String {
    let v = v.to_ascii_lowercase();
    let mut out = String::with_capacity(v.len() + 2);
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &v[i..];
        let after_digit = i > 0 && bytes[i - 1].is_ascii_digit();
        let dot_dev = rest.starts_with(".dev") || rest.starts_with("-dev");
        if dot_dev || (after_digit && rest.starts_with("dev")) {
            out.push_str("~~");
            i += if dot_dev { 1 } else { 0 };
            out.push_str("dev");
            i += 3;
            continue;
        }
        if after_digit {
            if let Some(tag) = ["rc", "alpha", "beta", "a", "b", "c", "pre"]
                .iter()
                .find(|t| rest.starts_with(**t))
            {
                out.push('~');
                out.push_str(tag);
                i += tag.len();
                continue;
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

/// Debian's version comparison: `[epoch:]upstream[-revision]`.
pub fn deb_compare(a: &str, b: &str) -> Ordering {
    let (ea, ra) = split_epoch(a);
    let (eb, rb) = split_epoch(b);
    if ea != eb {
        return ea.cmp(&eb);
    }
    let (ua, va) = ra.rsplit_once('-').unwrap_or((ra, ""));
    let (ub, vb) = rb.rsplit_once('-').unwrap_or((rb, ""));
    verrevcmp(ua, ub).then_with(|| verrevcmp(va, vb))
}

fn split_epoch(v: &str) -> (u64, &str) {
    match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), r)
        }
        _ => (0, v),
    }
}

/// The weight of a character in the non-digit parts: `~` before the end,
/// the end before letters, letters before other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Digit run, compared numerically (leading zeros ignored).
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        let sj = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (da, db) = (&a[si..i], &b[sj..j]);
        let c = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn debian_order() {
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1:0.1", "2.0", Greater),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
            ("2.36-9+deb12u4", "2.36-9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0-1", "1.0.1-1", Less),
        ] {
            assert_eq!(deb_compare(a, b), o, "{a} vs {b}");
        }
    }

    #[test]
    fn python_order() {
        for (a, b, o) in [
            ("1.0rc1", "1.0", Less),
            ("1.0.dev1", "1.0a1", Less),
            ("1.0a1", "1.0b1", Less),
            ("1.0", "1.0.post1", Less),
            ("2.31.0", "2.32.3", Less),
            ("24.0", "23.0.1", Greater),
        ] {
            assert_eq!(compare(Ecosystem::Pip, a, b), o, "{a} vs {b}");
        }
    }
}
