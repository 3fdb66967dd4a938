//! Go's `fmt` verbs as dockerd's classic builder uses them in the history
//! lines of metadata steps (`CMD ["sh" "-c" "x"]`, `VOLUME [/data]`,
//! `HEALTHCHECK &{["CMD" "true"] "30s" "0s" "0s" '\x00'}`).

use berth_dockerfile::go_quote as quote;
/// `%q` of a `[]string`: `["a" "b"]`.
pub(crate) use berth_dockerfile::go_quote_list as quote_slice;
use berth_spec::api::HealthConfig;

/// The escape of `c` inside a Go literal quoted with `quote`, as
/// `strconv.QuoteRune` writes it (strings go through
/// [`berth_dockerfile::go_quote`]).
fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push(c),
    }
}

/// `%v` of a `[]string`: `[a b]`.
pub(crate) fn v_slice(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// `%q` of an int: a quoted rune (`'\x00'`, `'A'`).
fn quote_rune(n: i64) -> String {
    match u32::try_from(n).ok().and_then(char::from_u32) {
        Some(c) => {
            let mut out = String::from("'");
            push_escaped(&mut out, c, '\'');
            out.push('\'');
            out
        }
        None => "'\u{fffd}'".into(),
    }
}

/// Go's `time.Duration.String()` of `ns` nanoseconds.
pub(crate) fn duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if u < 1_000_000_000 {
        // Sub-second: ns, µs or ms with a fraction.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", frac(u, div));
    }
    let secs_total = u / 1_000_000_000;
    let nanos = u % 1_000_000_000;
    let h = secs_total / 3600;
    let m = (secs_total / 60) % 60;
    let s = secs_total % 60;
    let sec = frac(s * 1_000_000_000 + nanos, 1_000_000_000);
    if h > 0 {
        format!("{sign}{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{sign}{m}m{sec}s")
    } else {
        format!("{sign}{sec}s")
    }
}

/// `v / div` with the fraction's trailing zeros trimmed.
fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let rest = v % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{rest:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// `%q` of a `*container.HealthConfig`, as in `HEALTHCHECK &{...}`.
pub(crate) fn healthcheck(h: &HealthConfig) -> String {
    format!(
        "&{{{} {} {} {} {}}}",
        quote_slice(h.test.as_deref().unwrap_or_default()),
        quote(&duration(h.interval)),
        quote(&duration(h.timeout)),
        quote(&duration(h.start_period)),
        quote_rune(h.retries)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_like_go() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(
            quote_slice(&["/bin/sh".into(), "-c".into(), "echo hi".into()]),
            r#"["/bin/sh" "-c" "echo hi"]"#
        );
        assert_eq!(v_slice(&["/data".into(), "/x".into()]), "[/data /x]");
        assert_eq!(quote_rune(0), r"'\x00'");
        assert_eq!(quote_rune(3), r"'\x03'");
        assert_eq!(quote_rune(65), "'A'");
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(30_000_000_000), "30s");
        assert_eq!(duration(300_000_000_000), "5m0s");
        assert_eq!(duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration(1_500_000_000), "1.5s");
        assert_eq!(duration(500_000_000), "500ms");
        assert_eq!(duration(90_000_000_000), "1m30s");
    }

    #[test]
    fn healthcheck_line() {
        let h = HealthConfig {
            test: Some(vec!["CMD-SHELL".into(), "true".into()]),
            interval: 5_000_000_000,
            ..Default::default()
        };
        assert_eq!(
            healthcheck(&h),
            r#"&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\x00'}"#
        );
    }
}
