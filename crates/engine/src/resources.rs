//! Container resources (`HostConfig` memory, CPU, pids, shm, ulimits):
//! dockerd's validation and defaults, and their mapping to the runtime's
//! [`ContainerSpec`] / [`Resources`].

use berth_runtime::{ContainerSpec, Resources, Ulimit};
use berth_spec::api::HostConfig;
use serde_json::Value;

use crate::error::{EngineError, Result};

/// dockerd's smallest memory limit and reservation (6 MiB).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// Docker's default `/dev/shm` size (64 MiB).
const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// Number of CPUs the daemon may use (dockerd's `runtime.NumCPU()`).
pub(crate) fn online_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Validate the resource fields of `hc` as dockerd does at create (and,
/// with `update`, at `docker update`, where memory-swap without memory is
/// allowed). The messages are dockerd's.
pub(crate) fn validate(hc: &HostConfig, update: bool) -> Result<()> {
    let bad = |m: String| Err(EngineError::invalid(m));
    if hc.memory != 0 && hc.memory < MIN_MEMORY {
        return bad("Minimum memory limit allowed is 6MB".into());
    }
    if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return bad(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    if !update && hc.memory == 0 && hc.memory_swap > 0 {
        return bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        );
    }
    if let Some(s) = hc.memory_swappiness {
        if s != -1 && !(0..=100).contains(&s) {
            return bad(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            ));
        }
    }
    if hc.memory_reservation != 0 && hc.memory_reservation < MIN_MEMORY {
        return bad("Minimum memory reservation allowed is 6MB".into());
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        );
    }
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
    }
    let ncpu = online_cpus();
    if hc.nano_cpus < 0 || hc.nano_cpus > (ncpu as i64).saturating_mul(1_000_000_000) {
        return bad(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        ));
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return bad(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        );
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
    }
    check_cpuset(&hc.cpuset_cpus, ncpu, "cpus")?;
    if !(-1000..=1000).contains(&hc.oom_score_adj) {
        return bad(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            hc.oom_score_adj
        ));
    }
    if hc.shm_size < 0 {
        return bad("SHM size can not be less than 0".into());
    }
    ulimits(hc)?;
    Ok(())
}

/// Parse a cpuset list (`0-3,5`) into its members.
fn parse_cpuset(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.parse().ok()?;
                let b: usize = b.parse().ok()?;
                if b < a {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// dockerd's cpuset checks: the syntax, then whether the CPUs exist.
fn check_cpuset(s: &str, ncpu: usize, what: &str) -> Result<()> {
    if s.is_empty() {
        return Ok(());
    }
    let Some(cpus) = parse_cpuset(s) else {
        return Err(EngineError::invalid(format!(
            "Invalid value {s} for cpuset {what}: invalid format: {s}"
        )));
    };
    if cpus.iter().any(|c| *c >= ncpu) {
        let available = if ncpu == 1 {
            "0".to_string()
        } else {
            format!("0-{}", ncpu - 1)
        };
        return Err(EngineError::invalid(format!(
            "Requested CPUs are not available - requested {s}, available: {available}"
        )));
    }
    Ok(())
}

/// The `HostConfig.Ulimits` entries (`[{Name, Soft, Hard}]`).
pub(crate) fn ulimits(hc: &HostConfig) -> Result<Vec<Ulimit>> {
    let mut out = Vec::new();
    for v in hc.ulimits.iter().flatten() {
        let num = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
        let name = v.get("Name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            return Err(EngineError::invalid(format!("invalid ulimit: {v}")));
        }
        let (soft, hard) = (num("Soft"), num("Hard"));
        if soft > hard && hard >= 0 {
            return Err(EngineError::invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        out.push(Ulimit {
            name: name.to_string(),
            soft,
            hard,
        });
    }
    Ok(out)
}

/// dockerd's defaults applied at create: `/dev/shm` of 64 MiB, memory-swap
/// twice the memory limit when only the memory limit is given.
pub(crate) fn apply_defaults(hc: &mut HostConfig) {
    if hc.shm_size == 0 {
        hc.shm_size = DEFAULT_SHM_SIZE;
    }
    if hc.memory > 0 && hc.memory_swap == 0 {
        hc.memory_swap = hc.memory.saturating_mul(2);
    }
    if hc.ulimits.is_none() {
        hc.ulimits = Some(Vec::new());
    }
    if hc.oom_kill_disable.is_none() {
        hc.oom_kill_disable = Some(false);
    }
}

/// The runtime's resource settings for `hc`.
pub(crate) fn runtime_resources(hc: &HostConfig) -> Resources {
    Resources {
        memory: hc.memory,
        memory_swap: hc.memory_swap,
        memory_reservation: hc.memory_reservation,
        nano_cpus: hc.nano_cpus,
        cpu_shares: u64::try_from(hc.cpu_shares).unwrap_or(0),
        cpu_quota: hc.cpu_quota,
        cpu_period: u64::try_from(hc.cpu_period).unwrap_or(0),
        cpuset_cpus: hc.cpuset_cpus.clone(),
        cpuset_mems: hc.cpuset_mems.clone(),
        pids_limit: hc.pids_limit.unwrap_or(0),
    }
}

/// Copy the resources of `hc` into the runtime spec of a starting container.
pub(crate) fn apply_to_spec(hc: &HostConfig, spec: &mut ContainerSpec) {
    let r = runtime_resources(hc);
    spec.memory = r.memory;
    spec.memory_swap = r.memory_swap;
    spec.memory_reservation = r.memory_reservation;
    spec.nano_cpus = r.nano_cpus;
    spec.cpu_shares = r.cpu_shares;
    spec.cpu_quota = r.cpu_quota;
    spec.cpu_period = r.cpu_period;
    spec.cpuset_cpus = r.cpuset_cpus;
    spec.cpuset_mems = r.cpuset_mems;
    spec.pids_limit = r.pids_limit;
    if hc.shm_size > 0 {
        spec.shm_size = hc.shm_size as u64;
    }
    spec.oom_score_adj = hc.oom_score_adj;
    // Validated at create; a record written before that keeps what parses.
    spec.ulimits = ulimits(hc).unwrap_or_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(hc: &HostConfig) -> String {
        validate(hc, false).unwrap_err().message
    }

    #[test]
    fn dockerd_messages() {
        let hc = HostConfig {
            memory: 4 << 20,
            ..Default::default()
        };
        assert_eq!(msg(&hc), "Minimum memory limit allowed is 6MB");
        let hc = HostConfig {
            memory: 64 << 20,
            memory_swap: 32 << 20,
            ..Default::default()
        };
        assert!(msg(&hc).starts_with("Minimum memoryswap limit"));
        let hc = HostConfig {
            memory_swap: 64 << 20,
            ..Default::default()
        };
        assert!(msg(&hc).starts_with("You should always set the Memory limit"));
        assert!(validate(&hc, true).is_ok());
        let n = online_cpus();
        let hc = HostConfig {
            nano_cpus: (n as i64 + 1) * 1_000_000_000,
            ..Default::default()
        };
        assert_eq!(
            msg(&hc),
            format!("Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available")
        );
        let hc = HostConfig {
            nano_cpus: 500_000_000,
            cpu_quota: 5000,
            ..Default::default()
        };
        assert!(msg(&hc).contains("Nano CPUs and CPU Quota"));
        let hc = HostConfig {
            cpuset_cpus: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            msg(&hc),
            "Invalid value x for cpuset cpus: invalid format: x"
        );
        let hc = HostConfig {
            cpuset_cpus: format!("{n}"),
            ..Default::default()
        };
        assert!(msg(&hc).starts_with("Requested CPUs are not available"));
        let hc = HostConfig {
            oom_score_adj: 2000,
            ..Default::default()
        };
        assert_eq!(
            msg(&hc),
            "Invalid value 2000, range for oom score adj is [-1000, 1000]"
        );
        assert!(validate(&HostConfig::default(), false).is_ok());
    }

    #[test]
    fn defaults_and_mapping() {
        let mut hc = HostConfig {
            memory: 256 << 20,
            cpu_shares: 512,
            pids_limit: Some(50),
            ulimits: Some(vec![
                serde_json::json!({"Name": "nofile", "Soft": 100, "Hard": 200}),
            ]),
            ..Default::default()
        };
        apply_defaults(&mut hc);
        assert_eq!(hc.memory_swap, 512 << 20);
        assert_eq!(hc.shm_size, 64 << 20);
        let mut spec = ContainerSpec::default();
        apply_to_spec(&hc, &mut spec);
        assert_eq!(spec.memory, 256 << 20);
        assert_eq!(spec.memory_swap, 512 << 20);
        assert_eq!(spec.cpu_shares, 512);
        assert_eq!(spec.pids_limit, 50);
        assert_eq!(spec.ulimits.len(), 1);
        assert_eq!(spec.ulimits[0].hard, 200);
    }
}
