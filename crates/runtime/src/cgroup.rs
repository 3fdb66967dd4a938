//! Cgroup paths and the few cgroup files the runtime reads itself
//! (OOM-kill counters, cleanup of leftovers). Works on v1, v2 and hybrid hosts.

use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The container's cgroups path: `/<cgroup_parent>/<id>` (`""` parent means `berth`).
pub fn cgroup_path(cgroup_parent: &str, id: &str) -> String {
    let parent = cgroup_parent.trim_matches('/');
    let parent = if parent.is_empty() { "berth" } else { parent };
    format!("/{parent}/{id}")
}

/// A libcgroups manager for the cgroup of the container in `container_dir`
/// (per its `spec.json`), with that spec and the cgroup path for messages.
pub fn manager_for(
    container_dir: &Path,
) -> Result<
    (
        libcgroups::common::AnyCgroupManager,
        crate::spec::ContainerSpec,
        String,
    ),
    crate::error::RuntimeError,
> {
    let spec = crate::spec::ContainerSpec::load(container_dir)?;
    let path = cgroup_path(&spec.cgroup_parent, &spec.id);
    let manager = libcgroups::common::create_cgroup_manager(libcgroups::common::CgroupConfig {
        cgroup_path: path.clone().into(),
        systemd_cgroup: false,
        container_name: spec.id.clone(),
    })
    .map_err(|e| crate::error::RuntimeError::Resources(format!("cgroup {path}: {e}")))?;
    Ok((manager, spec, path))
}

/// Whether the host uses the unified (pure v2) hierarchy.
pub fn is_unified() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

/// Candidate directories of a cgroup path in every mounted hierarchy.
fn hierarchy_dirs(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    if is_unified() {
        return vec![Path::new(CGROUP_ROOT).join(rel)];
    }
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(CGROUP_ROOT) {
        for entry in rd.flatten() {
            let dir = entry.path().join(rel);
            if dir.is_dir() {
                out.push(dir);
            }
        }
    }
    out
}

/// Parse the `oom_kill N` counter from `memory.oom_control` (v1) or `memory.events` (v2).
pub fn parse_oom_kill(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .filter_map(|v| v.trim().parse().ok())
        .next()
        .unwrap_or(0)
}

/// Whether the kernel OOM killer killed a process in the cgroup `path`.
pub fn oom_killed(path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    let root = Path::new(CGROUP_ROOT);
    let candidates = if is_unified() {
        vec![root.join(rel).join("memory.events")]
    } else {
        vec![
            root.join("memory").join(rel).join("memory.oom_control"),
            root.join("unified").join(rel).join("memory.events"),
        ]
    };
    candidates
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .any(|t| parse_oom_kill(&t) > 0)
}

/// The directory of cgroup `path` for `controller` (`memory`, `cpu`, `cpuacct`,
/// `pids`, `blkio`, `cpuset`, `freezer`): `<root>/<path>` on a unified host,
/// else `<root>/<controller>/<path>`; `None` when it does not exist.
pub fn controller_dir(controller: &str, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    let dir = if is_unified() {
        Path::new(CGROUP_ROOT).join(rel)
    } else {
        Path::new(CGROUP_ROOT).join(controller).join(rel)
    };
    dir.is_dir().then_some(dir)
}

/// Read a cgroup file holding one number (`max` and v1's "unlimited"
/// values, above 2^62, read as `None`).
pub(crate) fn read_number(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: u64 = text.trim().parse().ok()?;
    (v < (1 << 62)).then_some(v)
}

/// The memory limit of cgroup `path` in bytes (`None`: unlimited or unknown).
pub fn memory_limit(path: &str) -> Option<u64> {
    let dir = controller_dir("memory", path)?;
    if is_unified() {
        read_number(&dir.join("memory.max"))
    } else {
        read_number(&dir.join("memory.limit_in_bytes"))
    }
}

/// Peak memory usage of cgroup `path` in bytes (v2 `memory.peak`, v1
/// `memory.max_usage_in_bytes`; `None` when the kernel does not keep it).
pub fn memory_peak(path: &str) -> Option<u64> {
    let dir = controller_dir("memory", path)?;
    if is_unified() {
        read_number(&dir.join("memory.peak"))
    } else {
        read_number(&dir.join("memory.max_usage_in_bytes"))
    }
}

/// The OOM-kill counter of cgroup `path` (0 when unknown).
pub fn oom_kill_count(path: &str) -> u64 {
    let Some(dir) = controller_dir("memory", path) else {
        return 0;
    };
    let file = if is_unified() {
        dir.join("memory.events")
    } else {
        dir.join("memory.oom_control")
    };
    std::fs::read_to_string(file)
        .map(|t| parse_oom_kill(&t))
        .unwrap_or(0)
}

/// Remove the (empty) cgroup directories `dirs` (best effort).
fn remove_dirs(dirs: &[PathBuf]) {
    for dir in dirs {
        let _ = std::fs::remove_dir(dir);
    }
}

/// PIDs of the processes in the cgroup `path` (from any hierarchy that has it).
pub fn procs(path: &str) -> Vec<i32> {
    procs_in(&hierarchy_dirs(path))
}

/// PIDs of the processes in the cgroup directories `dirs`.
fn procs_in(dirs: &[PathBuf]) -> Vec<i32> {
    let mut pids: Vec<i32> = Vec::new();
    for dir in dirs {
        if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            for pid in text.lines().filter_map(|l| l.trim().parse().ok()) {
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
        }
    }
    pids
}

/// SIGKILL every process left in the cgroup `path`, wait (up to about a
/// second) for them to disappear, then remove the cgroup. Best effort.
/// The hierarchies are looked up once (on the shim's exit path).
pub fn kill_and_remove(path: &str) {
    let dirs = hierarchy_dirs(path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let pids = procs_in(&dirs);
        if pids.is_empty() || std::time::Instant::now() > deadline {
            break;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    remove_dirs(&dirs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(cgroup_path("", "abc"), "/berth/abc");
        assert_eq!(cgroup_path("berth", "abc"), "/berth/abc");
        assert_eq!(cgroup_path("/my/parent/", "abc"), "/my/parent/abc");
    }

    #[test]
    fn oom_counter() {
        assert_eq!(
            parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            2
        );
        assert_eq!(
            parse_oom_kill("low 0\nhigh 0\nmax 1\noom 1\noom_kill 0\n"),
            0
        );
        assert_eq!(parse_oom_kill(""), 0);
    }
}
