//! Watch the container's cgroup for OOM kills and append each to `oom.jsonl`
//! ([`crate::oom`]). v1: an eventfd registered through `cgroup.event_control`
//! on `memory.oom_control`; v2: inotify on `memory.events`. Either way the
//! descriptor joins the relay's poll loop; on each wake-up the `oom_kill`
//! counter is read and compared with what was recorded.
//!
//! An event is written shortly after it is seen ([`SETTLE`]) or as soon as
//! the init exits, so that `init_died` tells whether the init was the victim.
//! The decision does not rest on the timer: the kernel queues the victim's
//! SIGKILL before it counts the kill, so when the counter has grown and the
//! init has a SIGKILL pending, is exiting or is a zombie, the event is held
//! back until the init is reaped and then recorded with `init_died`.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::cgroup;
use crate::oom::{append_event, OomEvent};

/// How long after an OOM notification the event is recorded (the killed
/// process needs a moment to die).
const SETTLE: Duration = Duration::from_millis(100);
/// How many times to look for the kill after one notification.
const LOOKS: u8 = 10;

/// The watch of one cgroup.
pub struct OomWatch {
    fd: OwnedFd,
    /// v1: `memory.oom_control`, kept open for the registration's lifetime.
    _control: Option<File>,
    cgroup_path: String,
    container_dir: PathBuf,
    recorded: u64,
    /// A notification not yet recorded: when to look again, when it came,
    /// how many more looks.
    pending: Option<(Instant, DateTime<Utc>, u8)>,
    init_dead: bool,
    /// The container's init (host pid), to tell whether it is the victim.
    init_pid: Option<i32>,
    /// Events recorded but not yet told in the container's log.
    untold: Vec<OomEvent>,
}

impl OomWatch {
    /// Start watching cgroup `cgroup_path`; `None` (with a message on the
    /// shim's stderr) when the host offers no way to.
    pub fn new(
        cgroup_path: &str,
        container_dir: &std::path::Path,
        init_pid: Option<i32>,
    ) -> Option<OomWatch> {
        let dir = cgroup::controller_dir("memory", cgroup_path)?;
        let (fd, control) = if cgroup::is_unified() {
            (watch_v2(&dir.join("memory.events"))?, None)
        } else {
            let (fd, control) = watch_v1(&dir)?;
            (fd, Some(control))
        };
        Some(OomWatch {
            fd,
            _control: control,
            cgroup_path: cgroup_path.to_string(),
            container_dir: container_dir.to_path_buf(),
            recorded: cgroup::oom_kill_count(cgroup_path),
            pending: None,
            init_dead: false,
            init_pid,
            untold: Vec::new(),
        })
    }

    /// The descriptor to poll for `POLLIN`.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// When [`OomWatch::tick`] has something to write.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.map(|(at, _, _)| at)
    }

    /// The descriptor is readable: consume the notification and look at the
    /// counter shortly (v1 notifies when the cgroup goes under OOM, before
    /// the kill is counted).
    pub fn on_event(&mut self) {
        let mut buf = [0u8; 4096];
        let _ = nix::unistd::read(self.fd.as_raw_fd(), &mut buf);
        if self.pending.is_none() {
            self.pending = Some((Instant::now() + SETTLE, Utc::now(), LOOKS));
        }
    }

    /// The init exited: record a pending event now.
    pub fn init_exited(&mut self) {
        self.init_dead = true;
        if let Some((_, time, _)) = self.pending.take() {
            self.record(time);
        }
    }

    /// Record a pending event whose settle time has passed.
    pub fn tick(&mut self) {
        if let Some((at, time, looks)) = self.pending {
            if Instant::now() >= at {
                self.pending = None;
                if !self.init_dead && self.init_pid.is_some_and(init_dying) {
                    // The init is the victim (or dying anyway): record when
                    // it is reaped, with `init_died`.
                    if cgroup::oom_kill_count(&self.cgroup_path) > self.recorded {
                        self.pending = Some((Instant::now() + SETTLE, time, looks));
                        return;
                    }
                }
                if !self.record(time) && looks > 1 {
                    // Not counted yet (or no kill after all): look again.
                    self.pending = Some((Instant::now() + SETTLE, time, looks - 1));
                }
            }
        }
    }

    /// After the init was reaped: record any kill not yet recorded; returns
    /// whether the cgroup saw any OOM kill at all.
    pub fn finish(&mut self) -> bool {
        self.init_dead = true;
        let time = self
            .pending
            .take()
            .map(|(_, t, _)| t)
            .unwrap_or_else(Utc::now);
        self.record(time);
        self.recorded > 0
    }

    /// Append an event if the counter grew; returns whether it did.
    fn record(&mut self, time: DateTime<Utc>) -> bool {
        let count = cgroup::oom_kill_count(&self.cgroup_path);
        if count <= self.recorded {
            return false;
        }
        self.recorded = count;
        let event = OomEvent {
            time,
            oom_kill: count,
            memory_limit: cgroup::memory_limit(&self.cgroup_path),
            memory_peak: cgroup::memory_peak(&self.cgroup_path),
            init_died: self.init_dead,
        };
        if let Err(e) = append_event(&self.container_dir, &event) {
            eprintln!("berth shim: {e}");
        }
        self.untold.push(event);
        true
    }

    /// The lines to write into the container's log (as stderr) about the
    /// kills recorded since the last call, e.g. `berth: container nb was
    /// killed: memory limit 512MiB reached (peak 511.8MiB). Raise it with
    /// --memory.` The name is read from `spec.json` now, so a rename shows.
    pub fn take_notices(&mut self) -> Vec<String> {
        if self.untold.is_empty() {
            return Vec::new();
        }
        let name = crate::spec::ContainerSpec::load(&self.container_dir)
            .ok()
            .map(|s| s.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                let id = self.cgroup_path.rsplit('/').next().unwrap_or_default();
                id.chars().take(12).collect()
            });
        self.untold.drain(..).map(|e| notice(&name, &e)).collect()
    }
}

/// Whether process `pid` is on its way out: gone, a zombie, exiting
/// (`PF_EXITING`), or with a SIGKILL pending (the OOM killer's signal is
/// queued before the kill is counted, and stays in the shared pending set
/// until the process is released).
fn init_dying(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    if stat_dying(&stat) {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| sigkill_pending(&s))
        .unwrap_or(true)
}

/// `/proc/<pid>/stat` says zombie/dead or `PF_EXITING`.
fn stat_dying(stat: &str) -> bool {
    const PF_EXITING: u64 = 0x4;
    // Fields after the command (which may hold spaces and parentheses).
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return false;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] = state (field 3), fields[6] = flags (field 9).
    let state_dead = fields
        .first()
        .is_some_and(|s| matches!(*s, "Z" | "X" | "x"));
    let exiting = fields
        .get(6)
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|f| f & PF_EXITING != 0);
    state_dead || exiting
}

/// `/proc/<pid>/status` shows SIGKILL in `SigPnd` or `ShdPnd`.
fn sigkill_pending(status: &str) -> bool {
    const SIGKILL_BIT: u64 = 1 << (9 - 1);
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("SigPnd:")
                .or_else(|| l.strip_prefix("ShdPnd:"))
        })
        .filter_map(|v| u64::from_str_radix(v.trim(), 16).ok())
        .any(|mask| mask & SIGKILL_BIT != 0)
}

/// The log line about OOM kill `e` in container `name`.
pub fn notice(name: &str, e: &OomEvent) -> String {
    let size = |b: u64| berth_spec::units::human_size_binary(b, 4);
    let what = match e.memory_limit {
        Some(limit) => format!("memory limit {} reached", size(limit)),
        None => "out of memory".to_string(),
    };
    let peak = e
        .memory_peak
        .map(|p| format!(" (peak {})", size(p)))
        .unwrap_or_default();
    if e.init_died {
        format!("berth: container {name} was killed: {what}{peak}. Raise it with --memory.")
    } else {
        format!(
            "berth: a process in container {name} was killed: {what}{peak}. The container is still running. Raise it with --memory."
        )
    }
}

fn watch_v1(dir: &std::path::Path) -> Option<(OwnedFd, File)> {
    use nix::sys::eventfd::{EfdFlags, EventFd};
    let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .map_err(|e| eprintln!("berth shim: eventfd: {e}"))
        .ok()?;
    let control = File::open(dir.join("memory.oom_control"))
        .map_err(|e| eprintln!("berth shim: open memory.oom_control: {e}"))
        .ok()?;
    let line = format!("{} {}", efd.as_fd().as_raw_fd(), control.as_raw_fd());
    std::fs::write(dir.join("cgroup.event_control"), line)
        .map_err(|e| eprintln!("berth shim: cgroup.event_control: {e}"))
        .ok()?;
    Some((OwnedFd::from(efd), control))
}

fn watch_v2(events: &std::path::Path) -> Option<OwnedFd> {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
        .map_err(|e| eprintln!("berth shim: inotify: {e}"))
        .ok()?;
    ino.add_watch(events, AddWatchFlags::IN_MODIFY)
        .map_err(|e| eprintln!("berth shim: watch {}: {e}", events.display()))
        .ok()?;
    // Keep a duplicate: the Inotify value closes its own descriptor on drop.
    ino.as_fd()
        .try_clone_to_owned()
        .map_err(|e| eprintln!("berth shim: dup inotify: {e}"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dying_is_read_from_proc() {
        let alive = "12 (a (b) c) S 1 12 12 0 -1 4194560 100 0 0 0";
        assert!(!stat_dying(alive));
        assert!(stat_dying("12 (sh) Z 1 12 12 0 -1 4194560 100"));
        assert!(stat_dying("12 (sh) R 1 12 12 0 -1 4194564 100"));
        assert!(sigkill_pending(
            "Name:\tsh\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\n"
        ));
        assert!(!sigkill_pending(
            "SigPnd:\t0000000000000000\nShdPnd:\t0000000000004000\n"
        ));
        assert!(!init_dying(std::process::id() as i32));
        assert!(init_dying(i32::MAX));
    }

    #[test]
    fn notices_read_like_the_issue() {
        let e = OomEvent {
            time: Utc::now(),
            oom_kill: 1,
            memory_limit: Some(512 << 20),
            memory_peak: Some((511.8 * 1024.0 * 1024.0) as u64),
            init_died: true,
        };
        assert_eq!(
            notice("my_nb", &e),
            "berth: container my_nb was killed: memory limit 512MiB reached (peak 511.8MiB). Raise it with --memory."
        );
        let child = OomEvent {
            init_died: false,
            memory_peak: None,
            ..e
        };
        assert_eq!(
            notice("my_nb", &child),
            "berth: a process in container my_nb was killed: memory limit 512MiB reached. The container is still running. Raise it with --memory."
        );
    }
}
