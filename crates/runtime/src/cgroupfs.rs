//! `/sys/fs/cgroup` inside a container on cgroup v1 and hybrid hosts, as Docker lays it out.
//!
//! libcontainer's own v1 cgroup mount ignores the spec's `ro` option: it binds every hierarchy
//! read-write, and the named `systemd` hierarchy at the host's root, so a container could raise
//! its own memory limit or write into any cgroup of the host. berth therefore describes the
//! mounts itself: a tmpfs at `/sys/fs/cgroup` (`nosuid,nodev,noexec,mode=755`) and, for every
//! v1 hierarchy the host mounts there, a read-only bind (`ro,nosuid,nodev,noexec`) of the
//! container's own cgroup directory in that hierarchy, which is what dockerd 20.10 (runc, no
//! cgroup namespace) shows on such a host. The cgroup2 hierarchy of a hybrid host is not
//! mounted (Docker does not either). Pure v2 hosts keep the `cgroup` mount type, which
//! libcontainer mounts read-only in a cgroup namespace.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A cgroup v1 hierarchy mounted under `/sys/fs/cgroup` on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Its directory name under `/sys/fs/cgroup` (`memory`, `cpu,cpuacct`, `systemd`).
    pub dir: String,
    /// Whether it is a named hierarchy (`name=systemd`) with no controller, which
    /// libcgroups does not manage: berth creates and joins the container's cgroup there.
    pub named: bool,
}

/// The v1 hierarchies of `mountinfo` (the text of `/proc/self/mountinfo`) mounted directly
/// under `/sys/fs/cgroup`, in mount order.
pub fn parse_v1_hierarchies(mountinfo: &str) -> Vec<V1Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut rfields = right.split(' ');
        if rfields.next() != Some("cgroup") {
            continue;
        }
        let super_opts = rfields.nth(1).unwrap_or_default();
        let Some(mount_point) = left.split(' ').nth(4) else {
            continue;
        };
        let Some(dir) = mount_point.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if dir.is_empty() || dir.contains('/') || out.iter().any(|h: &V1Hierarchy| h.dir == dir) {
            continue;
        }
        // A named hierarchy has `name=X` and no controller among its options.
        let named = super_opts.split(',').find_map(|o| o.strip_prefix("name=")) == Some(dir);
        out.push(V1Hierarchy {
            dir: dir.to_string(),
            named,
        });
    }
    out
}

/// The v1 hierarchies of this host (empty on a pure cgroup v2 host).
pub fn v1_hierarchies() -> Vec<V1Hierarchy> {
    if crate::cgroup::is_unified() {
        return Vec::new();
    }
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_v1_hierarchies(&t))
        .unwrap_or_default()
}

/// The container's cgroup directory in hierarchy `h` on the host, for cgroup `path`.
fn host_dir(h: &V1Hierarchy, path: &str) -> PathBuf {
    Path::new(CGROUP_ROOT)
        .join(&h.dir)
        .join(path.trim_start_matches('/'))
}

/// The OCI mounts that make `/sys/fs/cgroup` of a container in cgroup `path`: a tmpfs and a
/// read-only bind of the container's directory in every hierarchy of `hierarchies`.
pub fn oci_mounts(hierarchies: &[V1Hierarchy], path: &str) -> Vec<Value> {
    let mut m = vec![
        json!({"destination": CGROUP_ROOT, "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "noexec", "nodev", "mode=755"]}),
    ];
    for h in hierarchies {
        m.push(json!({
            "destination": format!("{CGROUP_ROOT}/{}", h.dir),
            "type": "bind",
            "source": host_dir(h, path),
            "options": ["rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"],
        }));
    }
    m
}

/// Creates the container's directory in every hierarchy (the bind sources must exist when the
/// container's mounts are made; libcgroups creates those of the controllers it manages only
/// when it places the init process, which happens before, but not those of named hierarchies).
pub fn prepare(hierarchies: &[V1Hierarchy], path: &str) -> std::io::Result<()> {
    for h in hierarchies {
        std::fs::create_dir_all(host_dir(h, path))?;
    }
    Ok(())
}

/// Moves process `pid` (the container's init, before it starts the user's program) into the
/// container's cgroup of every named hierarchy, so that what the container sees there is its
/// own processes, as with Docker. Best effort: a hierarchy that refuses is left as it is.
pub fn join_named(hierarchies: &[V1Hierarchy], path: &str, pid: i32) {
    for h in hierarchies.iter().filter(|h| h.named) {
        // Failure only leaves the init in the shim's cgroup of that (read-only) hierarchy.
        let _ = std::fs::write(host_dir(h, path).join("cgroup.procs"), pid.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 23 0:39 / /mnt/elsewhere rw,relatime - cgroup cgroup rw,pids
";

    #[test]
    fn hierarchies_of_a_hybrid_host() {
        let h = parse_v1_hierarchies(HYBRID);
        let dirs: Vec<&str> = h.iter().map(|h| h.dir.as_str()).collect();
        assert_eq!(dirs, ["cpu", "memory", "cpu,cpuacct", "systemd"]);
        assert_eq!(
            h.iter()
                .filter(|h| h.named)
                .map(|h| &h.dir)
                .collect::<Vec<_>>(),
            ["systemd"]
        );
    }

    #[test]
    fn mounts_are_read_only_binds_of_the_container_cgroup() {
        let h = parse_v1_hierarchies(HYBRID);
        let m = oci_mounts(&h, "/berth/abc");
        assert_eq!(m[0]["destination"], "/sys/fs/cgroup");
        assert_eq!(m[0]["type"], "tmpfs");
        assert_eq!(m.len(), 5);
        let mem = &m[2];
        assert_eq!(mem["destination"], "/sys/fs/cgroup/memory");
        assert_eq!(mem["source"], "/sys/fs/cgroup/memory/berth/abc");
        let opts: Vec<&str> = mem["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert!(opts.contains(&"ro") && opts.contains(&"noexec") && opts.contains(&"nosuid"));
        assert_eq!(m[4]["source"], "/sys/fs/cgroup/systemd/berth/abc");
    }
}
