//! `GET /containers/{id}/top`: `ps` on the host, filtered to the container's processes.

use std::sync::Arc;

use berth_spec::api::TopResponse;

use crate::error::{EngineError, Result};
use crate::record::Status;
use crate::{blocking, Engine};

/// PIDs in the container's cgroup (any v1 hierarchy, or the unified one).
fn cgroup_pids(cgroup_parent: &str, id: &str) -> Vec<u32> {
    let path = berth_runtime::cgroup::cgroup_path(cgroup_parent, id);
    berth_runtime::cgroup::procs(&path)
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

/// Parse `ps` output, keeping rows whose PID is in `pids`, as dockerd does.
pub(crate) fn parse_ps(output: &str, pids: &[u32]) -> Result<TopResponse> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| EngineError::system("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_index).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let n = titles.len();
        let mut row: Vec<String> = fields
            .iter()
            .take(n.saturating_sub(1))
            .map(|s| s.to_string())
            .collect();
        if fields.len() >= n {
            row.push(fields[n - 1..].join(" "));
        }
        processes.push(row);
    }
    Ok(TopResponse { titles, processes })
}

impl Engine {
    /// `docker top`: `ps <ps_args>` (default `-ef`) limited to the container.
    pub async fn top(self: &Arc<Self>, name: &str, ps_args: &str) -> Result<TopResponse> {
        let c = self.lookup(name)?;
        let rec = c.snapshot();
        if rec.state.status != Status::Running {
            return Err(EngineError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let args: Vec<String> = if ps_args.trim().is_empty() {
            vec!["-ef".to_string()]
        } else {
            ps_args.split_whitespace().map(str::to_string).collect()
        };
        let parent = rec.host_config.cgroup_parent.clone();
        let id = c.id.clone();
        let init = rec.state.pid;
        let top = blocking(move || {
            let mut pids = cgroup_pids(&parent, &id);
            if pids.is_empty() && init > 0 {
                pids.push(init as u32);
            }
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| EngineError::system(format!("Error running ps: {e}")))?;
            if !out.status.success() {
                return Err(EngineError::system(format!(
                    "ps: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
        })
        .await?;
        self.container_event(&c, "top", &[]);
        Ok(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ps_output_and_filters() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 06:00 ? 00:00:00 sleep 100\nroot 11 1 0 06:00 ? 00:00:00 other thing\n";
        let top = parse_ps(out, &[10]).unwrap();
        assert_eq!(top.titles.len(), 8);
        assert_eq!(top.processes.len(), 1);
        assert_eq!(top.processes[0][7], "sleep 100");
        assert!(parse_ps("A B\n1 2\n", &[1]).is_err());
    }
}
