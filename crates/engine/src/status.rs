//! The human `Status` column of `docker ps` (`Up 3 seconds`, `Exited (0) 2 minutes ago`).

use berth_spec::units::human_duration;
use chrono::{DateTime, Utc};

use crate::record::{RunState, Status};

/// Docker's `Status` string for a container in `state`, seen at `now`.
pub fn status_string(state: &RunState, now: DateTime<Utc>) -> String {
    let since = |t: &Option<DateTime<Utc>>| -> f64 {
        t.map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0)
    };
    match state.status {
        Status::Created => "Created".to_string(),
        Status::Running if state.paused => {
            format!("Up {} (Paused)", human_duration(since(&state.started_at)))
        }
        Status::Running => match &state.health {
            Some(h) => format!(
                "Up {} ({})",
                human_duration(since(&state.started_at)),
                h.status.ps_str()
            ),
            None => format!("Up {}", human_duration(since(&state.started_at))),
        },
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            state.exit_code,
            human_duration(since(&state.finished_at))
        ),
        Status::Exited => {
            if state.finished_at.is_none() {
                // Started never finished record (e.g. a failed start): Docker shows Created-like text.
                return "Created".to_string();
            }
            format!(
                "Exited ({}) {} ago",
                state.exit_code,
                human_duration(since(&state.finished_at))
            )
        }
        Status::Removing => "Removal In Progress".to_string(),
        Status::Dead => "Dead".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn status_strings_match_docker() {
        let now = Utc::now();
        let mut st = RunState::default();
        assert_eq!(status_string(&st, now), "Created");
        st.status = Status::Running;
        st.started_at = Some(now - Duration::seconds(3));
        assert_eq!(status_string(&st, now), "Up 3 seconds");
        let mut h = crate::health::HealthState::default();
        st.health = Some(h.clone());
        assert_eq!(status_string(&st, now), "Up 3 seconds (health: starting)");
        h.status = crate::health::HealthStatus::Healthy;
        st.health = Some(h.clone());
        assert_eq!(status_string(&st, now), "Up 3 seconds (healthy)");
        h.status = crate::health::HealthStatus::Unhealthy;
        st.health = Some(h);
        assert_eq!(status_string(&st, now), "Up 3 seconds (unhealthy)");
        st.paused = true;
        assert_eq!(status_string(&st, now), "Up 3 seconds (Paused)");
        st.paused = false;
        st.status = Status::Exited;
        st.exit_code = 0;
        st.finished_at = Some(now - Duration::seconds(150));
        assert_eq!(status_string(&st, now), "Exited (0) 2 minutes ago");
        st.status = Status::Restarting;
        st.exit_code = 1;
        st.finished_at = Some(now);
        assert_eq!(
            status_string(&st, now),
            "Restarting (1) Less than a second ago"
        );
    }
}
