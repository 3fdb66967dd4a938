//! Restart policies: validation, the decision after an exit, and Docker's back-off.

use std::time::Duration;

use berth_spec::api::RestartPolicy;

use crate::error::{EngineError, Result};

/// First back-off delay.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest back-off delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A run at least this long resets the back-off.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);

/// Validate a restart policy as dockerd 20.10 does (the policy is kept as given).
pub fn validate(policy: &RestartPolicy) -> Result<()> {
    match policy.name.as_str() {
        "always" | "unless-stopped" | "no" => {
            if policy.maximum_retry_count != 0 {
                return Err(EngineError::invalid(format!(
                    "maximum retry count cannot be used with restart policy '{}'",
                    policy.name
                )));
            }
            Ok(())
        }
        "on-failure" => {
            if policy.maximum_retry_count < 0 {
                return Err(EngineError::invalid(
                    "maximum retry count cannot be negative",
                ));
            }
            Ok(())
        }
        "" => Ok(()),
        other => Err(EngineError::invalid(format!(
            "invalid restart policy '{other}'"
        ))),
    }
}

/// Whether a container that exited with `exit_code` should be restarted.
pub fn should_restart(
    policy: &RestartPolicy,
    exit_code: i64,
    restart_count: i64,
    manually_stopped: bool,
) -> bool {
    if manually_stopped {
        return false;
    }
    match policy.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            exit_code != 0
                && (policy.maximum_retry_count == 0 || restart_count < policy.maximum_retry_count)
        }
        _ => false,
    }
}

/// The next back-off delay: doubles from 100 ms up to a minute; resets after a long run.
pub fn next_delay(previous: Option<Duration>, ran_for: Duration) -> Duration {
    if ran_for >= BACKOFF_RESET_AFTER {
        return BACKOFF_START;
    }
    match previous {
        None => BACKOFF_START,
        Some(d) => (d * 2).min(BACKOFF_MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, n: i64) -> RestartPolicy {
        RestartPolicy {
            name: name.into(),
            maximum_retry_count: n,
        }
    }

    #[test]
    fn validates_policies() {
        assert!(validate(&p("", 0)).is_ok());
        assert!(validate(&p("no", 0)).is_ok());
        assert!(validate(&p("always", 0)).is_ok());
        assert!(validate(&p("on-failure", 3)).is_ok());
        assert!(validate(&p("sometimes", 0)).is_err());
        assert!(validate(&p("always", 2)).is_err());
        assert!(validate(&p("on-failure", -1)).is_err());
    }

    #[test]
    fn decides_restarts() {
        assert!(should_restart(&p("always", 0), 0, 5, false));
        assert!(!should_restart(&p("always", 0), 0, 5, true));
        assert!(should_restart(&p("unless-stopped", 0), 1, 0, false));
        assert!(!should_restart(&p("on-failure", 0), 0, 0, false));
        assert!(should_restart(&p("on-failure", 2), 1, 1, false));
        assert!(!should_restart(&p("on-failure", 2), 1, 2, false));
        assert!(should_restart(&p("on-failure", 0), 1, 100, false));
        assert!(!should_restart(&p("no", 0), 1, 0, false));
    }

    #[test]
    fn backoff_doubles_and_resets() {
        let short = Duration::from_millis(10);
        let d1 = next_delay(None, short);
        assert_eq!(d1, Duration::from_millis(100));
        let d2 = next_delay(Some(d1), short);
        assert_eq!(d2, Duration::from_millis(200));
        assert_eq!(
            next_delay(Some(Duration::from_secs(50)), short),
            BACKOFF_MAX
        );
        assert_eq!(next_delay(Some(d2), Duration::from_secs(11)), BACKOFF_START);
    }
}
