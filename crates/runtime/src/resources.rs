//! Resource limits: their mapping to the OCI spec (`linux.resources`), the
//! `--ulimit` rlimits, and [`update_resources`] for a running container
//! (`docker update`), through libcgroups (cgroup v1, v2 and hybrid hosts).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::RuntimeError;
use crate::spec::{ContainerSpec, Ulimit};

/// CFS period used with `--cpus` (Docker's).
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// Cgroup resource settings. For a new container 0 / `""` means unset; for
/// [`update_resources`] it means "leave unchanged".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: i64,
    /// Memory + swap limit in bytes (-1 unlimited; 0 with `memory` set: twice `memory`).
    pub memory_swap: i64,
    /// Soft memory limit in bytes.
    pub memory_reservation: i64,
    /// CPU quota in 1e-9 CPUs (`--cpus`); wins over `cpu_quota`/`cpu_period`.
    pub nano_cpus: i64,
    /// Relative CPU weight (`--cpu-shares`).
    pub cpu_shares: u64,
    /// CFS quota in microseconds (-1 unlimited).
    pub cpu_quota: i64,
    /// CFS period in microseconds.
    pub cpu_period: u64,
    /// Allowed CPUs (`0-3,5`).
    pub cpuset_cpus: String,
    /// Allowed memory nodes.
    pub cpuset_mems: String,
    /// Max number of pids (negative: unlimited).
    pub pids_limit: i64,
}

impl Resources {
    /// The resource settings of a container spec.
    pub fn of(spec: &ContainerSpec) -> Resources {
        Resources {
            memory: spec.memory,
            memory_swap: spec.memory_swap,
            memory_reservation: spec.memory_reservation,
            nano_cpus: spec.nano_cpus,
            cpu_shares: spec.cpu_shares,
            cpu_quota: spec.cpu_quota,
            cpu_period: spec.cpu_period,
            cpuset_cpus: spec.cpuset_cpus.clone(),
            cpuset_mems: spec.cpuset_mems.clone(),
            pids_limit: spec.pids_limit,
        }
    }

    /// Copy the set (non-zero) fields into `spec`.
    pub fn merge_into(&self, spec: &mut ContainerSpec) {
        if self.memory != 0 {
            // Like `docker update`, a new memory limit without a swap limit
            // keeps the swap limit in force: when it was the default
            // (0 = twice the old limit), that value is kept explicitly.
            if self.memory_swap == 0 && spec.memory_swap == 0 && spec.memory > 0 {
                spec.memory_swap = spec.memory.saturating_mul(2);
            }
            spec.memory = self.memory;
        }
        if self.memory_swap != 0 {
            spec.memory_swap = self.memory_swap;
        }
        if self.memory_reservation != 0 {
            spec.memory_reservation = self.memory_reservation;
        }
        if self.nano_cpus != 0 {
            spec.nano_cpus = self.nano_cpus;
            spec.cpu_quota = 0;
            spec.cpu_period = 0;
        }
        if self.cpu_shares != 0 {
            spec.cpu_shares = self.cpu_shares;
        }
        if self.cpu_quota != 0 {
            spec.cpu_quota = self.cpu_quota;
            spec.nano_cpus = 0;
        }
        if self.cpu_period != 0 {
            spec.cpu_period = self.cpu_period;
            spec.nano_cpus = 0;
        }
        if !self.cpuset_cpus.is_empty() {
            spec.cpuset_cpus = self.cpuset_cpus.clone();
        }
        if !self.cpuset_mems.is_empty() {
            spec.cpuset_mems = self.cpuset_mems.clone();
        }
        if self.pids_limit != 0 {
            spec.pids_limit = self.pids_limit;
        }
    }

    /// The OCI `linux.resources` object (without devices) for the set fields.
    pub fn to_oci(&self) -> Value {
        let mut r = json!({});
        let mut memory = serde_json::Map::new();
        if self.memory > 0 {
            memory.insert("limit".into(), json!(self.memory));
            let swap = match self.memory_swap {
                0 => self.memory.saturating_mul(2),
                s => s,
            };
            memory.insert("swap".into(), json!(swap));
        } else if self.memory_swap != 0 {
            memory.insert("swap".into(), json!(self.memory_swap));
        }
        if self.memory_reservation > 0 {
            memory.insert("reservation".into(), json!(self.memory_reservation));
        }
        if !memory.is_empty() {
            r["memory"] = Value::Object(memory);
        }
        let mut cpu = serde_json::Map::new();
        if self.nano_cpus > 0 {
            let period = DEFAULT_CPU_PERIOD as i64;
            let quota = self.nano_cpus.saturating_mul(period) / 1_000_000_000;
            cpu.insert("quota".into(), json!(quota.max(1000)));
            cpu.insert("period".into(), json!(period));
        } else {
            if self.cpu_quota != 0 {
                cpu.insert("quota".into(), json!(self.cpu_quota));
            }
            if self.cpu_period != 0 {
                cpu.insert("period".into(), json!(self.cpu_period));
            }
        }
        if self.cpu_shares > 0 {
            cpu.insert("shares".into(), json!(self.cpu_shares));
        }
        if !self.cpuset_cpus.is_empty() {
            cpu.insert("cpus".into(), json!(self.cpuset_cpus));
        }
        if !self.cpuset_mems.is_empty() {
            cpu.insert("mems".into(), json!(self.cpuset_mems));
        }
        if !cpu.is_empty() {
            r["cpu"] = Value::Object(cpu);
        }
        if self.pids_limit != 0 {
            let limit = if self.pids_limit < 0 {
                -1
            } else {
                self.pids_limit
            };
            r["pids"] = json!({ "limit": limit });
        }
        r
    }
}

/// Apply `update` to the running container of `container_dir` (its cgroup,
/// through libcgroups) and record it in its `spec.json` so that a restart
/// keeps it. Fields left at 0 / `""` are unchanged. Safe to call from a
/// multi-threaded process (file writes only).
pub fn update_resources(container_dir: &Path, update: &Resources) -> Result<(), RuntimeError> {
    use libcgroups::common::{CgroupManager, ControllerOpt};
    let (manager, spec, path) = crate::cgroup::manager_for(container_dir)?;
    // Without a new swap limit, the one in force is kept (as Docker does),
    // rather than reset to twice the new memory limit.
    let mut merged = spec;
    update.merge_into(&mut merged);
    let mut effective = update.clone();
    if effective.memory != 0 && effective.memory_swap == 0 {
        effective.memory_swap = merged.memory_swap;
    }
    let resources: oci_spec::runtime::LinuxResources =
        serde_json::from_value(effective.to_oci())
            .map_err(|e| RuntimeError::Resources(format!("invalid resources: {e}")))?;
    manager
        .apply(&ControllerOpt {
            resources: &resources,
            disable_oom_killer: false,
            oom_score_adj: None,
            freezer_state: None,
        })
        .map_err(|e| RuntimeError::Resources(format!("update cgroup {path}: {e}")))?;
    merged.save(container_dir)
}

/// The OCI `process.rlimits` for `ulimits` (plus Docker's default
/// `RLIMIT_NOFILE` of `nofile_default` when no `nofile` ulimit is given and
/// the host allows it). A hard limit above what this process may grant (its
/// own hard limit, as it may lack CAP_SYS_RESOURCE) is an error.
pub fn rlimits(
    ulimits: &[Ulimit],
    nofile_default: Option<u64>,
) -> Result<Vec<Value>, RuntimeError> {
    let mut out = Vec::new();
    for u in ulimits {
        let name = u.name.trim().to_ascii_lowercase();
        let resource = resource_of(&name)
            .ok_or_else(|| RuntimeError::Resources(format!("invalid ulimit type: {}", u.name)))?;
        let soft = limit_value(u.soft);
        let hard = limit_value(u.hard);
        if soft > hard {
            return Err(RuntimeError::Resources(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                u.soft, u.hard
            )));
        }
        let (_, max) = nix::sys::resource::getrlimit(resource)
            .map_err(|e| RuntimeError::sys(format!("getrlimit {name}"), e))?;
        if max != libc::RLIM_INFINITY && hard > max {
            return Err(RuntimeError::Resources(format!(
                "ulimit {name}: hard limit {} above the maximum this daemon may grant ({max})",
                u.hard
            )));
        }
        out.push(json!({
            "type": format!("RLIMIT_{}", name.to_ascii_uppercase()),
            "soft": soft,
            "hard": hard,
        }));
    }
    if let Some(n) = nofile_default {
        if !ulimits
            .iter()
            .any(|u| u.name.eq_ignore_ascii_case("nofile"))
        {
            out.push(json!({"type": "RLIMIT_NOFILE", "soft": n, "hard": n}));
        }
    }
    Ok(out)
}

fn limit_value(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(libc::RLIM_INFINITY)
}

pub(crate) fn resource_of(name: &str) -> Option<nix::sys::resource::Resource> {
    use nix::sys::resource::Resource as R;
    Some(match name {
        "as" => R::RLIMIT_AS,
        "core" => R::RLIMIT_CORE,
        "cpu" => R::RLIMIT_CPU,
        "data" => R::RLIMIT_DATA,
        "fsize" => R::RLIMIT_FSIZE,
        "locks" => R::RLIMIT_LOCKS,
        "memlock" => R::RLIMIT_MEMLOCK,
        "msgqueue" => R::RLIMIT_MSGQUEUE,
        "nice" => R::RLIMIT_NICE,
        "nofile" => R::RLIMIT_NOFILE,
        "nproc" => R::RLIMIT_NPROC,
        "rss" => R::RLIMIT_RSS,
        "rtprio" => R::RLIMIT_RTPRIO,
        "rttime" => R::RLIMIT_RTTIME,
        "sigpending" => R::RLIMIT_SIGPENDING,
        "stack" => R::RLIMIT_STACK,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_mapping() {
        let r = Resources {
            memory: 64 << 20,
            memory_reservation: 32 << 20,
            cpu_shares: 512,
            cpu_quota: 50_000,
            cpu_period: 200_000,
            cpuset_cpus: "0".into(),
            pids_limit: -5,
            ..Resources::default()
        };
        let v = r.to_oci();
        assert_eq!(
            v["memory"],
            json!({"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20})
        );
        assert_eq!(
            v["cpu"],
            json!({"quota": 50_000, "period": 200_000, "shares": 512, "cpus": "0"})
        );
        assert_eq!(v["pids"], json!({"limit": -1}));
        let v = Resources {
            nano_cpus: 500_000_000,
            cpu_quota: 1,
            memory: 1 << 20,
            memory_swap: -1,
            ..Resources::default()
        }
        .to_oci();
        assert_eq!(v["cpu"], json!({"quota": 50_000, "period": 100_000}));
        assert_eq!(v["memory"]["swap"], -1);
        assert_eq!(Resources::default().to_oci(), json!({}));
        let _: oci_spec::runtime::LinuxResources = serde_json::from_value(r.to_oci()).unwrap();
    }

    #[test]
    fn merge_keeps_unset_fields() {
        let mut s = ContainerSpec {
            memory: 10,
            memory_swap: 30,
            cpu_shares: 100,
            nano_cpus: 5,
            ..ContainerSpec::default()
        };
        Resources {
            cpu_quota: 1000,
            ..Resources::default()
        }
        .merge_into(&mut s);
        assert_eq!((s.memory, s.memory_swap, s.cpu_shares), (10, 30, 100));
        assert_eq!((s.nano_cpus, s.cpu_quota), (0, 1000));
        Resources {
            memory: 20,
            ..Resources::default()
        }
        .merge_into(&mut s);
        // Swap is kept, as `docker update --memory` does.
        assert_eq!((s.memory, s.memory_swap), (20, 30));
        // A default swap (twice the memory) stays what it was: -m 200m then
        // update --memory 300m shows MemorySwap 400m in Docker.
        let mut d = ContainerSpec {
            memory: 200,
            ..ContainerSpec::default()
        };
        Resources {
            memory: 300,
            ..Resources::default()
        }
        .merge_into(&mut d);
        assert_eq!((d.memory, d.memory_swap), (300, 400));
        Resources {
            memory: 100,
            memory_swap: -1,
            ..Resources::default()
        }
        .merge_into(&mut d);
        assert_eq!((d.memory, d.memory_swap), (100, -1));
    }

    #[test]
    fn ulimits() {
        let (_, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        let ok = vec![Ulimit {
            name: "nofile".into(),
            soft: 100,
            hard: 200,
        }];
        let v = rlimits(&ok, Some(1 << 20)).unwrap();
        assert_eq!(
            v,
            vec![json!({"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200})]
        );
        let v = rlimits(&[], Some(7)).unwrap();
        assert_eq!(
            v,
            vec![json!({"type": "RLIMIT_NOFILE", "soft": 7, "hard": 7})]
        );
        let bad = |name: &str, soft, hard| {
            rlimits(
                &[Ulimit {
                    name: name.into(),
                    soft,
                    hard,
                }],
                None,
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(bad("nosuch", 1, 1), "invalid ulimit type: nosuch");
        assert!(bad("core", 5, 1).contains("less than or equal"));
        if hard != libc::RLIM_INFINITY {
            let e = bad("nofile", 1, hard as i64 + 1);
            assert!(e.contains("above the maximum"), "{e}");
        }
        let v = rlimits(
            &[Ulimit {
                name: "core".into(),
                soft: -1,
                hard: -1,
            }],
            None,
        );
        // Unlimited core: allowed only when our own hard limit is unlimited.
        let (_, core_hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE).unwrap();
        assert_eq!(v.is_ok(), core_hard == libc::RLIM_INFINITY);
    }
}
