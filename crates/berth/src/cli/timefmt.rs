//! Times as the docker CLI prints and parses them: `2 minutes ago`, and
//! `--since`/`--until` values (Go durations such as `10m` or `1h30m`,
//! RFC 3339 times, dates, or unix timestamps).

use berth_spec::units::human_duration;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// `now - then` in Docker's words plus ` ago`.
pub fn ago(then_unix: i64, now: DateTime<Utc>) -> String {
    let secs = (now.timestamp() - then_unix).max(0) as f64;
    format!("{} ago", human_duration(secs))
}

/// Go's `time.Time.String()` of a UTC time
/// (`2024-01-02 03:04:05.123 +0000 UTC`; no fraction on whole seconds).
pub fn go_time_string(t: DateTime<Utc>) -> String {
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

/// A Go duration (`300ms`, `1.5h`, `2h45m`) in nanoseconds (see
/// [`berth_spec::goduration::parse_go_duration`]).
pub fn parse_go_duration(s: &str) -> Option<i128> {
    berth_spec::goduration::parse_go_duration(s)
        .ok()
        .map(i128::from)
}

/// Docker's `GetTimestamp`: turn a `--since`/`--until` value into the
/// `seconds.nanoseconds` string the API takes. Durations count back from
/// `now`; bare numbers are unix times and pass through.
pub fn api_timestamp(value: &str, now: DateTime<Utc>) -> Result<String, String> {
    if let Some(ns) = parse_go_duration(value) {
        let now_ns = now.timestamp() as i128 * 1_000_000_000 + now.timestamp_subsec_nanos() as i128;
        let t = now_ns - ns;
        return Ok(format!(
            "{}.{:09}",
            t.div_euclid(1_000_000_000),
            t.rem_euclid(1_000_000_000)
        ));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(format!(
            "{}.{:09}",
            t.timestamp(),
            t.timestamp_subsec_nanos()
        ));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, fmt) {
            let t = Utc.from_utc_datetime(&t);
            return Ok(format!(
                "{}.{:09}",
                t.timestamp(),
                t.timestamp_subsec_nanos()
            ));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let t = Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        return Ok(format!("{}.{:09}", t.timestamp(), 0));
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    if !secs.is_empty()
        && secs.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit())
        && frac.len() <= 9
    {
        return Ok(value.to_string());
    }
    Err(format!(
        "failed to parse value as time or duration: \"{value}\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 500).unwrap()
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("10x"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn api_timestamps() {
        assert_eq!(api_timestamp("10m", now()).unwrap(), "1699999400.000000500");
        assert_eq!(
            api_timestamp("2023-11-14T22:13:20Z", now()).unwrap(),
            "1700000000.000000000"
        );
        assert_eq!(
            api_timestamp("2023-11-14", now()).unwrap(),
            "1699920000.000000000"
        );
        assert_eq!(api_timestamp("1700000000", now()).unwrap(), "1700000000");
        assert_eq!(
            api_timestamp("1700000000.5", now()).unwrap(),
            "1700000000.5"
        );
        assert!(api_timestamp("yesterday", now()).is_err());
    }

    #[test]
    fn ago_wording() {
        assert_eq!(ago(1_700_000_000 - 125, now()), "2 minutes ago");
        assert_eq!(ago(1_700_000_000, now()), "Less than a second ago");
    }
}
