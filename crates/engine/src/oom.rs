//! OOM kills made visible as `oom` events. The shim records every OOM kill
//! in the container's cgroup in `oom.jsonl` (and writes a line about it
//! into the container's log); this module watches that file while the
//! container runs and publishes one `oom` event per kill, the last ones
//! before the container's `die`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::container::Container;
use crate::Engine;

/// How often the watch looks at `oom.jsonl` (a `stat`).
const POLL: Duration = Duration::from_millis(250);

/// A running watch: stop it (with a final look) once the shim exited.
pub(crate) struct OomWatch {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl OomWatch {
    /// Stop the watch after publishing any event not yet published.
    pub(crate) async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// What was already looked at.
struct Seen {
    dir: PathBuf,
    since: DateTime<Utc>,
    len: u64,
    published: usize,
}

impl Seen {
    /// The events of this run not yet published (reads the file only when it grew).
    fn new_events(&mut self) -> usize {
        let len = std::fs::metadata(self.dir.join(berth_runtime::oom::OOM_FILE))
            .map(|m| m.len())
            .unwrap_or(0);
        if len == self.len {
            return 0;
        }
        self.len = len;
        let count = berth_runtime::oom::read_events(&self.dir)
            .unwrap_or_default()
            .iter()
            .filter(|e| e.time >= self.since)
            .count();
        let new = count.saturating_sub(self.published);
        self.published = self.published.max(count);
        new
    }
}

impl Engine {
    /// Watch `c` (which just started, or runs after a daemon restart) for
    /// OOM kills. With `restored` (the container outlived the previous
    /// daemon), the kills already recorded were published by that daemon:
    /// only later ones are.
    pub(crate) fn spawn_oom_watch(
        self: &Arc<Self>,
        c: &Arc<Container>,
        restored: bool,
    ) -> OomWatch {
        let since = c
            .rec()
            .state
            .started_at
            .unwrap_or_else(Utc::now)
            // The shim stamps an event when it sees it; allow for clock steps.
            - chrono::Duration::milliseconds(10);
        let mut seen = Seen {
            dir: c.dir.clone(),
            since,
            len: 0,
            published: 0,
        };
        let (stop, mut stopped) = oneshot::channel();
        let engine = Arc::clone(self);
        let id = c.id.clone();
        let task = tokio::spawn(async move {
            if restored {
                seen = match tokio::task::spawn_blocking(move || {
                    let _already_published = seen.new_events();
                    seen
                })
                .await
                {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
            loop {
                let done = tokio::select! {
                    _ = &mut stopped => true,
                    _ = tokio::time::sleep(POLL) => false,
                };
                let (n, s) = match tokio::task::spawn_blocking(move || {
                    let n = seen.new_events();
                    (n, seen)
                })
                .await
                {
                    Ok(r) => r,
                    Err(_) => return,
                };
                seen = s;
                for _ in 0..n {
                    tracing::info!(id = %id, "container OOM kill");
                    if engine.log_oom(&id).is_err() {
                        return;
                    }
                }
                if done {
                    return;
                }
            }
        });
        OomWatch { stop, task }
    }
}

/// Record a container's new name in its runtime spec (if it has one), where
/// the shim reads it for its OOM notices. Best effort.
pub(crate) fn rename_in_spec(dir: &std::path::Path, name: &str) {
    if let Ok(mut spec) = berth_runtime::ContainerSpec::load(dir) {
        spec.name = name.to_string();
        if let Err(e) = spec.save(dir) {
            tracing::warn!("recording the new name in {}: {e}", dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_runtime::oom::{append_event, OomEvent};

    #[test]
    fn a_first_look_marks_recorded_kills_published() {
        let d = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let ev = OomEvent {
            time: now,
            oom_kill: 1,
            memory_limit: None,
            memory_peak: None,
            init_died: false,
        };
        append_event(d.path(), &ev).unwrap();
        let mut seen = Seen {
            dir: d.path().to_path_buf(),
            since: now - chrono::Duration::seconds(1),
            len: 0,
            published: 0,
        };
        // What a restored watch does first: nothing is left to publish.
        assert_eq!(seen.new_events(), 1);
        assert_eq!(seen.new_events(), 0);
        append_event(d.path(), &ev).unwrap();
        assert_eq!(seen.new_events(), 1);
    }

    #[test]
    fn counts_new_events_of_this_run() {
        let d = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let ev = |t: DateTime<Utc>| OomEvent {
            time: t,
            oom_kill: 1,
            memory_limit: None,
            memory_peak: None,
            init_died: false,
        };
        // An event of an earlier run is not reported.
        append_event(d.path(), &ev(now - chrono::Duration::seconds(60))).unwrap();
        let mut seen = Seen {
            dir: d.path().to_path_buf(),
            since: now,
            len: 0,
            published: 0,
        };
        assert_eq!(seen.new_events(), 0);
        append_event(d.path(), &ev(now)).unwrap();
        append_event(d.path(), &ev(now)).unwrap();
        assert_eq!(seen.new_events(), 2);
        assert_eq!(seen.new_events(), 0);
        append_event(d.path(), &ev(now)).unwrap();
        assert_eq!(seen.new_events(), 1);
    }
}
