//! Go's `time.ParseDuration`: a possibly signed sequence of decimal
//! numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`,
//! `μs`, `ms`, `s`, `m`, `h`), e.g. `30s`, `1m30s`, `1.5h`, `-2ms`; `0`
//! alone is valid. The value is computed exactly in integer nanoseconds
//! (fraction digits past nanosecond precision are dropped).

use thiserror::Error;

/// Why a string is not a Go duration; messages follow Go's wording, with
/// the inputs quoted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GoDurationError {
    /// Malformed, or out of the `i64` nanosecond range.
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit (`"10"`).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// An unknown unit (`"1x"`).
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
}

/// Most fraction digits taken into account (beyond 18 digits nothing
/// changes at nanosecond precision, and the product stays in `u128`).
const MAX_FRACTION_DIGITS: usize = 18;

/// Nanoseconds in one `unit`.
fn unit_ns(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parse a Go duration into nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<i64, GoDurationError> {
    let invalid = || GoDurationError::Invalid(s.to_string());
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let frac_len = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..frac_len];
            rest = &r[frac_len..];
            if int_len == 0 && frac_len == 0 {
                return Err(invalid());
            }
        } else if int_len == 0 {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(GoDurationError::MissingUnit(s.to_string()));
        }
        let Some(mult) = unit_ns(unit) else {
            return Err(GoDurationError::UnknownUnit {
                unit: unit.to_string(),
                input: s.to_string(),
            });
        };
        let int_val: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = int_val.checked_mul(mult).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let digits = &frac_part[..frac_part.len().min(MAX_FRACTION_DIGITS)];
            let f: u128 = digits.parse().map_err(|_| invalid())?;
            let scale = 10u128.pow(digits.len() as u32);
            v += f * mult / scale;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > i64::MAX as u128 + u128::from(neg) {
            return Err(invalid());
        }
    }
    let total = total as i128;
    let signed = if neg { -total } else { total };
    i64::try_from(signed).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_go_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("-2ms"), Ok(-2_000_000));
        assert_eq!(parse_go_duration("+300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("100us"), Ok(100_000));
        assert_eq!(parse_go_duration("100µs"), Ok(100_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1.s"), Ok(1_000_000_000));
        assert_eq!(parse_go_duration("1.0000000001s"), Ok(1_000_000_000));
        assert_eq!(
            parse_go_duration("0.123456789012345678901234567890h"),
            Ok(444_444_440_444)
        );
        assert_eq!(parse_go_duration("9223372036854775807ns"), Ok(i64::MAX));
        assert_eq!(parse_go_duration("-9223372036854775808ns"), Ok(i64::MIN));
    }

    #[test]
    fn errors_use_go_wording() {
        assert_eq!(
            parse_go_duration("1x").unwrap_err().to_string(),
            "time: unknown unit \"x\" in duration \"1x\""
        );
        assert_eq!(
            parse_go_duration("1").unwrap_err().to_string(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse_go_duration("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        for bad in ["s", "m", ".s", "-", "99999999999h", "9223372036854775808ns"] {
            assert!(
                matches!(parse_go_duration(bad), Err(GoDurationError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
