//! `POST /containers/{id}/update` (`docker update`): change the resources
//! (and restart policy) of a container, live when it runs.

use std::sync::Arc;

use berth_spec::api::HostConfig;

use crate::error::{EngineError, Result};
use crate::record::Status;
use crate::{blocking, Engine};

/// dockerd's conflicts between the update and what the container has set.
fn check_conflicts(cur: &HostConfig, upd: &HostConfig) -> std::result::Result<(), String> {
    let nano_msg = |what: &str| {
        format!("Conflicting options: {what} cannot be updated as NanoCPUs has already been set")
    };
    if upd.nano_cpus > 0 && cur.cpu_period > 0 {
        return Err(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"
                .into(),
        );
    }
    if upd.nano_cpus > 0 && cur.cpu_quota > 0 {
        return Err(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"
                .into(),
        );
    }
    if upd.cpu_period > 0 && cur.nano_cpus > 0 {
        return Err(nano_msg("CPU Period"));
    }
    if upd.cpu_quota > 0 && cur.nano_cpus > 0 {
        return Err(nano_msg("CPU Quota"));
    }
    if upd.memory != 0 && upd.memory > cur.memory_swap && upd.memory_swap == 0 {
        return Err("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into());
    }
    Ok(())
}

/// Apply the set fields of `upd` to `hc` (as dockerd's `UpdateContainer`).
fn merge(hc: &mut HostConfig, upd: &HostConfig) {
    if upd.blkio_weight != 0 {
        hc.blkio_weight = upd.blkio_weight;
    }
    if upd.cpu_shares != 0 {
        hc.cpu_shares = upd.cpu_shares;
    }
    if upd.nano_cpus != 0 {
        hc.nano_cpus = upd.nano_cpus;
    }
    if upd.cpu_period != 0 {
        hc.cpu_period = upd.cpu_period;
    }
    if upd.cpu_quota != 0 {
        hc.cpu_quota = upd.cpu_quota;
    }
    if !upd.cpuset_cpus.is_empty() {
        hc.cpuset_cpus = upd.cpuset_cpus.clone();
    }
    if !upd.cpuset_mems.is_empty() {
        hc.cpuset_mems = upd.cpuset_mems.clone();
    }
    if upd.memory != 0 {
        hc.memory = upd.memory;
    }
    if upd.memory_swap != 0 {
        hc.memory_swap = upd.memory_swap;
    }
    if upd.memory_reservation != 0 {
        hc.memory_reservation = upd.memory_reservation;
    }
    if let Some(p) = upd.pids_limit {
        hc.pids_limit = if p == 0 { None } else { Some(p) };
    }
    if !upd.restart_policy.name.is_empty() {
        hc.restart_policy = upd.restart_policy.clone();
    }
}

impl Engine {
    /// Update a container's resources and restart policy (`docker update`);
    /// returns dockerd's warnings (none).
    pub async fn update(self: &Arc<Self>, name: &str, upd: HostConfig) -> Result<Vec<String>> {
        let c = self.lookup(name)?;
        let _op = c.op.lock().await;
        self.ensure_registered(&c, name)?;
        crate::resources::validate(&upd, true)?;
        if !upd.restart_policy.name.is_empty() {
            crate::restart::validate(&upd.restart_policy)?;
        }
        let rec = c.snapshot();
        let cannot =
            |m: String| EngineError::conflict(format!("Cannot update container {}: {m}", c.id));
        if !upd.restart_policy.name.is_empty()
            && upd.restart_policy.name != "no"
            && rec.host_config.auto_remove
        {
            return Err(cannot(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
                    .into(),
            ));
        }
        check_conflicts(&rec.host_config, &upd).map_err(cannot)?;
        let mut hc = rec.host_config.clone();
        merge(&mut hc, &upd);
        if rec.state.status == Status::Running {
            let mut res = crate::resources::runtime_resources(&hc);
            if hc.pids_limit.is_none() && upd.pids_limit.is_some() {
                // `--pids-limit 0|-1`: back to unlimited.
                res.pids_limit = -1;
            }
            let dir = c.dir.clone();
            blocking(move || {
                Ok(berth_runtime::update_resources(&dir, &res).map_err(|e| e.to_string()))
            })
            .await?
            .map_err(cannot)?;
        }
        c.update(|r| r.host_config = hc)?;
        tracing::info!(id = %c.id, "container updated");
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_above_swap_needs_swap() {
        let cur = HostConfig {
            memory: 256 << 20,
            memory_swap: 512 << 20,
            ..Default::default()
        };
        let upd = HostConfig {
            memory: 600 << 20,
            ..Default::default()
        };
        assert!(check_conflicts(&cur, &upd)
            .unwrap_err()
            .starts_with("Memory limit should be smaller"));
        let upd = HostConfig {
            memory: 300 << 20,
            ..Default::default()
        };
        assert!(check_conflicts(&cur, &upd).is_ok());
        let mut hc = cur.clone();
        merge(&mut hc, &upd);
        assert_eq!((hc.memory, hc.memory_swap), (300 << 20, 512 << 20));
    }
}
