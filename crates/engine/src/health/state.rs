//! A container's health (`State.Health`): its status, failing streak and
//! last probe results, and how a probe result changes them (dockerd's
//! `handleProbeResult`).

use std::time::Duration;

use berth_spec::api::{Health, HealthcheckResult};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::timefmt::rfc3339_nano;

/// Probe results kept (dockerd's `maxLogEntries`).
const MAX_LOG_ENTRIES: usize = 5;

/// Docker's health statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No probe succeeded yet since the start, and not enough failed.
    #[default]
    Starting,
    /// The last probe succeeded.
    Healthy,
    /// `retries` probes failed in a row (or monitoring stopped).
    Unhealthy,
}

impl HealthStatus {
    /// Docker's word (`State.Health.Status`, `ps --filter health=`).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// The suffix of `ps`'s `Up 3 minutes (...)`.
    pub fn ps_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "health: starting",
            other => other.as_str(),
        }
    }
}

/// One probe's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// When it started.
    pub start: DateTime<Utc>,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// Its exit code; -1 when it could not run or timed out.
    pub exit_code: i64,
    /// Its output (already limited), or why it failed.
    pub output: String,
}

/// The persisted health of a container (in its record's run state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthState {
    /// Current status.
    pub status: HealthStatus,
    /// Consecutive failures counted.
    pub failing_streak: i64,
    /// The last results, oldest first.
    pub log: Vec<ProbeResult>,
}

impl HealthState {
    /// A start: status `starting`, streak 0; the log of earlier runs is kept
    /// (as dockerd keeps it).
    pub fn reset(&mut self) {
        self.status = HealthStatus::Starting;
        self.failing_streak = 0;
    }

    /// Apply a probe result; returns the new status when it changed.
    /// A failure while `starting` and within `start_period` of `started_at`
    /// is logged but not counted; `retries` counted failures in a row make
    /// the container unhealthy; a success makes it healthy.
    pub fn apply(
        &mut self,
        result: ProbeResult,
        retries: i64,
        start_period: Duration,
        started_at: Option<DateTime<Utc>>,
    ) -> Option<HealthStatus> {
        let old = self.status;
        let success = result.exit_code == 0;
        let probe_start = result.start;
        if self.log.len() >= MAX_LOG_ENTRIES {
            let excess = self.log.len() + 1 - MAX_LOG_ENTRIES;
            self.log.drain(..excess);
        }
        self.log.push(result);
        if success {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else {
            let in_start_period = self.status == HealthStatus::Starting
                && started_at.is_some_and(|s| {
                    (probe_start - s)
                        .to_std()
                        .map(|since| since < start_period)
                        // A probe that started before the container: within.
                        .unwrap_or(true)
                });
            if !in_start_period {
                self.failing_streak += 1;
                if self.failing_streak >= retries {
                    self.status = HealthStatus::Unhealthy;
                }
            }
        }
        (self.status != old).then_some(self.status)
    }

    /// `State.Health` as inspect shows it.
    pub fn to_api(&self) -> Health {
        Health {
            status: self.status.as_str().to_string(),
            failing_streak: self.failing_streak,
            log: self
                .log
                .iter()
                .map(|r| HealthcheckResult {
                    start: rfc3339_nano(&r.start),
                    end: rfc3339_nano(&r.end),
                    exit_code: r.exit_code,
                    output: r.output.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(at: DateTime<Utc>, code: i64) -> ProbeResult {
        ProbeResult {
            start: at,
            end: at,
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn failures_then_success() {
        let t0 = Utc::now();
        let mut h = HealthState::default();
        let later = |s: i64| t0 + chrono::Duration::seconds(s);
        assert_eq!(
            h.apply(result(later(1), 1), 3, Duration::ZERO, Some(t0)),
            None
        );
        assert_eq!(
            h.apply(result(later(2), 1), 3, Duration::ZERO, Some(t0)),
            None
        );
        assert_eq!(h.failing_streak, 2);
        assert_eq!(
            h.apply(result(later(3), 1), 3, Duration::ZERO, Some(t0)),
            Some(HealthStatus::Unhealthy)
        );
        assert_eq!(
            h.apply(result(later(4), 1), 3, Duration::ZERO, Some(t0)),
            None
        );
        assert_eq!(h.failing_streak, 4);
        assert_eq!(
            h.apply(result(later(5), 0), 3, Duration::ZERO, Some(t0)),
            Some(HealthStatus::Healthy)
        );
        assert_eq!(h.failing_streak, 0);
        h.apply(result(later(6), 0), 3, Duration::ZERO, Some(t0));
        assert_eq!(h.log.len(), MAX_LOG_ENTRIES);
        assert_eq!(h.log[0].start, later(2));
        assert_eq!(h.log[4].start, later(6));
    }

    #[test]
    fn start_period_failures_do_not_count_until_a_success() {
        let t0 = Utc::now();
        let later = |s: i64| t0 + chrono::Duration::seconds(s);
        let period = Duration::from_secs(10);
        let mut h = HealthState::default();
        for s in 1..5 {
            assert_eq!(h.apply(result(later(s), 1), 1, period, Some(t0)), None);
        }
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        assert_eq!(
            h.apply(result(later(11), 1), 1, period, Some(t0)),
            Some(HealthStatus::Unhealthy)
        );
        let mut h = HealthState::default();
        h.apply(result(later(1), 0), 1, period, Some(t0));
        // Healthy: the start period is over, failures count.
        assert_eq!(
            h.apply(result(later(2), 1), 1, period, Some(t0)),
            Some(HealthStatus::Unhealthy)
        );
    }

    #[test]
    fn reset_keeps_the_log_and_api_shape() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-08T00:12:31.5432Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HealthState::default();
        h.apply(result(t0, 2), 1, Duration::ZERO, Some(t0));
        h.reset();
        assert_eq!(
            (h.status, h.failing_streak, h.log.len()),
            (HealthStatus::Starting, 0, 1)
        );
        let v = serde_json::to_string(&h.to_api()).unwrap();
        assert_eq!(
            v,
            r#"{"Status":"starting","FailingStreak":0,"Log":[{"Start":"2026-12-08T00:12:31.5432Z","End":"2026-12-08T00:12:31.5432Z","ExitCode":2,"Output":""}]}"#
        );
    }
}
