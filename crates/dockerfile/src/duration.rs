//! Go `time.ParseDuration` syntax for HEALTHCHECK flags, parsed by
//! [`berth_spec::goduration`] with errors quoted the way Go quotes them.

use berth_spec::goduration::{parse_go_duration, GoDurationError};

use crate::quote::go_quote;

/// Parse a Go duration into nanoseconds. Errors use Go's messages, e.g.
/// `time: unknown unit "x" in duration "1x"`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    parse_go_duration(s).map_err(|e| match e {
        GoDurationError::Invalid(input) => format!("time: invalid duration {}", go_quote(&input)),
        GoDurationError::MissingUnit(input) => {
            format!("time: missing unit in duration {}", go_quote(&input))
        }
        GoDurationError::UnknownUnit { unit, input } => format!(
            "time: unknown unit {} in duration {}",
            go_quote(&unit),
            go_quote(&input)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("-2ms"), Ok(-2_000_000));
        assert_eq!(parse_duration("100us"), Ok(100_000));
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_duration("1x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"1x\""
        );
        assert_eq!(
            parse_duration("1").unwrap_err(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("99999999999h").is_err());
    }
}
