//! Durations (Go syntax: `1m30s`, `500ms`, `1.5h`) and sizes (`512m`,
//! `1gb`, bytes), as Compose accepts them.
//!
//! Hand-written: Compose's formats are Go's `time.ParseDuration` and
//! docker's `RAMInBytes`; the Rust crates for either (humantime, bytesize)
//! accept different spellings and print differently.

use serde::{Serialize, Serializer};

/// A duration in nanoseconds, printed the way Go prints `time.Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub u64);

impl Duration {
    /// Nanoseconds.
    pub fn nanos(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parse a Go duration (`1h2m3.5s`, `300ms`, `0`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration(0));
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let mult = UNITS.iter().find(|(u, _)| *u == unit)?.1;
        total += n * mult as f64;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total < 0.0 || total > u64::MAX as f64 {
        return None;
    }
    Some(Duration(total.round() as u64))
}

/// Print nanoseconds as Go's `time.Duration.String()` does.
pub fn format_duration(ns: u64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 {
            ("ns", 1)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(ns, div));
    }
    let h = ns / 3_600_000_000_000;
    let m = (ns / 60_000_000_000) % 60;
    let rem = ns % 60_000_000_000;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", trim_fraction(rem, 1_000_000_000)));
    out
}

fn trim_fraction(v: u64, div: u64) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Parse a size: bytes, or a number with `b`, `k`, `m`, `g`, `t`, `p`
/// (optionally followed by `b` or `ib`, any case), binary multiples.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    if num_end == 0 {
        return None;
    }
    let n: f64 = t[..num_end].parse().ok()?;
    let unit = t[num_end..].trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let v = n * mult as f64;
    if !v.is_finite() || v > u64::MAX as f64 {
        return None;
    }
    Some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Some(Duration(90_000_000_000)));
        assert_eq!(parse_duration("1.5s"), Some(Duration(1_500_000_000)));
        assert_eq!(parse_duration("300ms"), Some(Duration(300_000_000)));
        assert_eq!(parse_duration("2h"), Some(Duration(7_200_000_000_000)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(format_duration(90_000_000_000), "1m30s");
        assert_eq!(format_duration(7_200_000_000_000), "2h0m0s");
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(format_duration(300_000_000), "300ms");
        assert_eq!(format_duration(10_000_000_000), "10s");
        for s in ["1m30s", "2h0m0s", "1.5s", "300ms", "10s", "0s"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(format_duration(d.0), s);
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("1gb"), Some(1 << 30));
        assert_eq!(parse_bytes("1.5G"), Some(3 << 29));
        assert_eq!(parse_bytes("64MiB"), Some(64 << 20));
        assert_eq!(parse_bytes("12x"), None);
        assert_eq!(parse_bytes("m"), None);
    }
}
