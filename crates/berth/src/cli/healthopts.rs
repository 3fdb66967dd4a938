//! `--health-*` and `--no-healthcheck` of `create`/`run`, as the docker CLI
//! turns them into `Config.Healthcheck` (with its errors).

use berth_spec::api::HealthConfig;
use berth_spec::goduration::parse_go_duration;

/// The healthcheck flags as given.
#[derive(Debug, Default)]
pub struct HealthFlags<'a> {
    /// `--health-cmd`.
    pub cmd: Option<&'a str>,
    /// `--health-interval`.
    pub interval: Option<&'a str>,
    /// `--health-timeout`.
    pub timeout: Option<&'a str>,
    /// `--health-start-period`.
    pub start_period: Option<&'a str>,
    /// `--health-retries`.
    pub retries: Option<&'a str>,
    /// `--no-healthcheck`.
    pub disabled: bool,
}

fn duration(flag: &str, value: Option<&str>) -> Result<i64, String> {
    match value {
        None => Ok(0),
        Some(v) => parse_go_duration(v)
            .map_err(|e| format!("invalid argument \"{v}\" for \"{flag}\" flag: {e}")),
    }
}

/// `Config.Healthcheck` from the flags: `None` without any, `["NONE"]`
/// for `--no-healthcheck`, else `["CMD-SHELL", cmd]` (no test when only
/// timings are given: the image's test is kept) and the timings in
/// nanoseconds. Zero values count as not given, as in the docker CLI.
pub fn health_config(f: &HealthFlags<'_>) -> Result<Option<HealthConfig>, String> {
    let interval = duration("--health-interval", f.interval)?;
    let timeout = duration("--health-timeout", f.timeout)?;
    let start_period = duration("--health-start-period", f.start_period)?;
    let retries = match f.retries {
        None => 0,
        Some(v) => v.parse::<i64>().map_err(|_| {
            format!(
                "invalid argument \"{v}\" for \"--health-retries\" flag: strconv.ParseInt: parsing \"{v}\": invalid syntax"
            )
        })?,
    };
    let cmd = f.cmd.unwrap_or_default();
    let any = !cmd.is_empty() || interval != 0 || timeout != 0 || start_period != 0 || retries != 0;
    if f.disabled {
        if any {
            return Err("--no-healthcheck conflicts with --health-* options".into());
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..HealthConfig::default()
        }));
    }
    if !any {
        return Ok(None);
    }
    for (name, v) in [
        ("--health-interval", interval),
        ("--health-timeout", timeout),
        ("--health-retries", retries),
        ("--health-start-period", start_period),
    ] {
        if v < 0 {
            return Err(format!("{name} cannot be negative"));
        }
    }
    Ok(Some(HealthConfig {
        test: (!cmd.is_empty()).then(|| vec!["CMD-SHELL".into(), cmd.to_string()]),
        interval,
        timeout,
        start_period,
        retries,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_docker_configs() {
        assert_eq!(health_config(&HealthFlags::default()), Ok(None));
        let h = health_config(&HealthFlags {
            cmd: Some("test -f /ready"),
            interval: Some("200ms"),
            retries: Some("2"),
            ..HealthFlags::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            h.test,
            Some(vec!["CMD-SHELL".to_string(), "test -f /ready".to_string()])
        );
        assert_eq!((h.interval, h.timeout, h.retries), (200_000_000, 0, 2));
        let only_timing = health_config(&HealthFlags {
            timeout: Some("1s"),
            ..HealthFlags::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(only_timing.test, None);
        let none = health_config(&HealthFlags {
            disabled: true,
            ..HealthFlags::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(none.test, Some(vec!["NONE".to_string()]));
        // Zero values are "not given", as in the docker CLI.
        assert_eq!(
            health_config(&HealthFlags {
                interval: Some("0s"),
                ..HealthFlags::default()
            }),
            Ok(None)
        );
    }

    #[test]
    fn errors_are_the_docker_clis() {
        let err = |f: HealthFlags<'_>| health_config(&f).unwrap_err();
        assert_eq!(
            err(HealthFlags {
                disabled: true,
                retries: Some("2"),
                ..HealthFlags::default()
            }),
            "--no-healthcheck conflicts with --health-* options"
        );
        assert_eq!(
            err(HealthFlags {
                interval: Some("1"),
                ..HealthFlags::default()
            }),
            "invalid argument \"1\" for \"--health-interval\" flag: time: missing unit in duration \"1\""
        );
        assert_eq!(
            err(HealthFlags {
                retries: Some("x"),
                ..HealthFlags::default()
            }),
            "invalid argument \"x\" for \"--health-retries\" flag: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            err(HealthFlags {
                start_period: Some("-1s"),
                retries: Some("-1"),
                ..HealthFlags::default()
            }),
            "--health-retries cannot be negative"
        );
        assert_eq!(
            err(HealthFlags {
                retries: Some("-1"),
                timeout: Some("-1s"),
                ..HealthFlags::default()
            }),
            "--health-timeout cannot be negative"
        );
    }
}
