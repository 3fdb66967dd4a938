//! A container's healthcheck settings: dockerd's validation at create, its
//! merge of the image's HEALTHCHECK with `Config.Healthcheck`, and the probe
//! it makes of them (command and timings, with dockerd's defaults).

use std::time::Duration;

use berth_spec::api::{ContainerConfig, HealthConfig};

use crate::error::{EngineError, Result};

/// dockerd's `MinimumDuration`: the smallest non-zero interval, timeout and start period.
const MINIMUM_NS: i64 = 1_000_000;
/// Default time between the end of a probe and the start of the next.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default time a probe may run.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default consecutive failures that make a container unhealthy.
const DEFAULT_RETRIES: i64 = 3;

/// Check `Config.Healthcheck` of a create request as dockerd does (before
/// the image's settings are merged in), with its messages.
pub(crate) fn validate(h: Option<&HealthConfig>) -> Result<()> {
    let Some(h) = h else { return Ok(()) };
    let too_small = |v: i64| v != 0 && v < MINIMUM_NS;
    if too_small(h.interval) {
        return Err(EngineError::invalid(
            "Interval in Healthcheck cannot be less than 1ms",
        ));
    }
    if too_small(h.timeout) {
        return Err(EngineError::invalid(
            "Timeout in Healthcheck cannot be less than 1ms",
        ));
    }
    if h.retries < 0 {
        return Err(EngineError::invalid(
            "Retries in Healthcheck cannot be negative",
        ));
    }
    if too_small(h.start_period) {
        return Err(EngineError::invalid(
            "StartPeriod in Healthcheck cannot be less than 1ms",
        ));
    }
    Ok(())
}

/// Merge the image's healthcheck into the user's as dockerd does: no user
/// healthcheck takes the image's; otherwise each unset (empty or zero) user
/// field takes the image's value.
pub(crate) fn merge(user: &mut Option<HealthConfig>, image: Option<&HealthConfig>) {
    let Some(image) = image else { return };
    let Some(u) = user else {
        *user = Some(image.clone());
        return;
    };
    if u.test.as_ref().is_none_or(|t| t.is_empty()) {
        u.test = image.test.clone();
    }
    for (mine, theirs) in [
        (&mut u.interval, image.interval),
        (&mut u.timeout, image.timeout),
        (&mut u.start_period, image.start_period),
        (&mut u.retries, image.retries),
    ] {
        if *mine == 0 {
            *mine = theirs;
        }
    }
}

/// What the monitor runs, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    /// The command run in the container (may be empty for a bare `["CMD"]`,
    /// which then fails every probe).
    pub cmd: Vec<String>,
    /// From the end of one probe to the start of the next (and from the start).
    pub interval: Duration,
    /// How long a probe may run before it is killed and counts as failed.
    pub timeout: Duration,
    /// Failures during this time after the start do not count.
    pub start_period: Duration,
    /// Consecutive failures that make the container unhealthy.
    pub retries: i64,
}

fn or_default(ns: i64, default: Duration) -> Duration {
    if ns > 0 {
        Duration::from_nanos(ns.unsigned_abs())
    } else {
        default
    }
}

/// The probe of a container's merged config, `None` when it has none
/// (no healthcheck, `["NONE"]`, an empty or unknown test type), as dockerd's
/// `getProbe`. `CMD-SHELL` runs through the config's `Shell` (the image's
/// SHELL) or `/bin/sh -c`.
pub(crate) fn probe_of(config: &ContainerConfig) -> Option<Probe> {
    let h = config.healthcheck.as_ref()?;
    let test = h.test.as_deref()?;
    let (kind, args) = test.split_first()?;
    let cmd = match kind.as_str() {
        "CMD" => args.to_vec(),
        "CMD-SHELL" => {
            let mut cmd = match config.shell.as_deref() {
                Some(s) if !s.is_empty() => s.to_vec(),
                _ => vec!["/bin/sh".to_string(), "-c".to_string()],
            };
            cmd.extend(args.iter().cloned());
            cmd
        }
        _ => return None,
    };
    Some(Probe {
        cmd,
        interval: or_default(h.interval, DEFAULT_INTERVAL),
        timeout: or_default(h.timeout, DEFAULT_TIMEOUT),
        start_period: or_default(h.start_period, Duration::ZERO),
        retries: if h.retries > 0 {
            h.retries
        } else {
            DEFAULT_RETRIES
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(test: &[&str]) -> HealthConfig {
        HealthConfig {
            test: Some(test.iter().map(|s| s.to_string()).collect()),
            ..HealthConfig::default()
        }
    }

    #[test]
    fn validation_messages_are_dockerds() {
        assert!(validate(None).is_ok());
        assert!(validate(Some(&HealthConfig::default())).is_ok());
        let bad = |f: fn(&mut HealthConfig)| {
            let mut h = hc(&["CMD", "true"]);
            f(&mut h);
            validate(Some(&h)).unwrap_err().message
        };
        assert_eq!(
            bad(|h| h.interval = 999_999),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            bad(|h| h.interval = -5),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            bad(|h| h.timeout = 5),
            "Timeout in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            bad(|h| h.retries = -1),
            "Retries in Healthcheck cannot be negative"
        );
        assert_eq!(
            bad(|h| h.start_period = 1),
            "StartPeriod in Healthcheck cannot be less than 1ms"
        );
        let mut ok = hc(&["CMD", "true"]);
        ok.interval = MINIMUM_NS;
        assert!(validate(Some(&ok)).is_ok());
    }

    #[test]
    fn merge_fills_unset_fields_from_the_image() {
        let mut image = hc(&["CMD-SHELL", "test -f /ready"]);
        image.interval = 1_000_000_000;
        image.retries = 5;
        let mut user = None;
        merge(&mut user, Some(&image));
        assert_eq!(user.as_ref(), Some(&image));

        let mut user = Some(HealthConfig {
            test: Some(vec![]),
            retries: 1,
            ..HealthConfig::default()
        });
        merge(&mut user, Some(&image));
        let u = user.unwrap();
        assert_eq!(u.test, image.test);
        assert_eq!((u.interval, u.retries), (1_000_000_000, 1));

        let mut user = Some(hc(&["NONE"]));
        merge(&mut user, Some(&image));
        let u = user.unwrap();
        assert_eq!(u.test, Some(vec!["NONE".to_string()]));
        assert_eq!(u.interval, 1_000_000_000);

        let mut user = Some(hc(&["CMD", "true"]));
        merge(&mut user, None);
        assert_eq!(user, Some(hc(&["CMD", "true"])));
    }

    #[test]
    fn probes_as_dockerd_makes_them() {
        let mut c = ContainerConfig::default();
        assert_eq!(probe_of(&c), None);
        for none in [&["NONE"][..], &[], &["BOGUS", "x"]] {
            c.healthcheck = Some(hc(none));
            assert_eq!(probe_of(&c), None, "{none:?}");
        }
        c.healthcheck = Some(hc(&["CMD-SHELL", "exit 1"]));
        let p = probe_of(&c).unwrap();
        assert_eq!(p.cmd, vec!["/bin/sh", "-c", "exit 1"]);
        assert_eq!(
            (p.interval, p.timeout, p.start_period, p.retries),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, Duration::ZERO, 3)
        );
        c.shell = Some(vec!["/bin/bash".into(), "-ec".into()]);
        assert_eq!(
            probe_of(&c).unwrap().cmd,
            vec!["/bin/bash", "-ec", "exit 1"]
        );
        let mut h = hc(&["CMD", "true", "x"]);
        h.interval = 200_000_000;
        h.timeout = 1_000_000_000;
        h.start_period = 5_000_000_000;
        h.retries = 2;
        c.healthcheck = Some(h);
        let p = probe_of(&c).unwrap();
        assert_eq!(p.cmd, vec!["true", "x"]);
        assert_eq!(p.interval, Duration::from_millis(200));
        assert_eq!(p.timeout, Duration::from_secs(1));
        assert_eq!(p.start_period, Duration::from_secs(5));
        assert_eq!(p.retries, 2);
        c.healthcheck = Some(hc(&["CMD"]));
        assert_eq!(probe_of(&c).unwrap().cmd, Vec::<String>::new());
    }
}
