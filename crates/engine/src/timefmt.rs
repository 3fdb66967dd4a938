//! Times as Docker prints them: Go's RFC3339Nano (trailing zeros trimmed),
//! `0001-01-01T00:00:00Z` for "never".

use chrono::{DateTime, Datelike, Timelike, Utc};

/// The zero time as Go prints it.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Format like Go's `time.RFC3339Nano` in UTC.
pub fn rfc3339_nano(t: &DateTime<Utc>) -> String {
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos == 0 {
        format!("{base}Z")
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{}Z", frac.trim_end_matches('0'))
    }
}

/// Format an optional time, `ZERO_TIME` when absent.
pub fn opt_rfc3339_nano(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref()
        .map(rfc3339_nano)
        .unwrap_or_else(|| ZERO_TIME.to_string())
}

/// Parse a Docker API time filter (`since`/`until` of logs): unix seconds
/// with an optional fraction (`1700000000.5`, `1700000000.000000001`), or RFC 3339.
pub fn parse_api_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let (secs, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let secs: i64 = secs.parse().ok()?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut f = frac.to_string();
        f.truncate(9);
        while f.len() < 9 {
            f.push('0');
        }
        f.parse().ok()?
    };
    DateTime::from_timestamp(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_rfc3339nano() {
        let t = DateTime::from_timestamp(1_700_000_000, 120_000_000).unwrap();
        assert_eq!(rfc3339_nano(&t), "2023-11-14T22:13:20.12Z");
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(rfc3339_nano(&t), "2023-11-14T22:13:20Z");
        assert_eq!(opt_rfc3339_nano(&None), ZERO_TIME);
    }

    #[test]
    fn parses_api_times() {
        let t = parse_api_time("1700000000.5").unwrap();
        assert_eq!(t.timestamp(), 1_700_000_000);
        assert_eq!(t.timestamp_subsec_nanos(), 500_000_000);
        assert_eq!(parse_api_time("12").unwrap().timestamp(), 12);
        assert!(parse_api_time("abc").is_none());
        assert!(parse_api_time("1.x").is_none());
        assert!(parse_api_time("2023-11-14T22:13:20Z").is_some());
    }
}
