//! `berth update` (resource limits and restart policy of existing
//! containers), `berth pause`/`unpause` and `berth port`.

use berth_client::{Client, UpdateConfig};
use clap::Args;

use super::error::{CliError, CliResult};
use super::output::{join_host_port, outln};
use super::run::{memory_swap_flag, parse_cpus, parse_restart, size_flag};

/// `berth update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long = "cpus", value_name = "decimal")]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long = "memory", value_name = "bytes")]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", value_name = "string")]
    pub restart: Option<String>,
    /// Containers to update
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth pause` / `berth unpause`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// `PRIVATE_PORT[/PROTO]`
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// Parse an optional `update` flag value, with docker's usage hint.
fn update_flag(
    value: &Option<String>,
    parse: impl FnOnce(&str) -> Result<i64, String>,
) -> CliResult<Option<i64>> {
    value
        .as_deref()
        .map(parse)
        .transpose()
        .map_err(|e| CliError::status(125, format!("{e}\nSee 'berth update --help'.")))
}

/// The update body docker's `update` sends for the flags given.
pub fn update_config(args: &UpdateArgs) -> CliResult<UpdateConfig> {
    let restart_policy = match args.restart.as_deref() {
        None => None,
        Some(r) => Some(parse_restart(r).map_err(CliError::msg)?),
    };
    let config = UpdateConfig {
        cpu_shares: args.cpu_shares,
        memory: update_flag(&args.memory, |v| size_flag("-m, --memory", Some(v)))?,
        memory_swap: update_flag(&args.memory_swap, |v| memory_swap_flag(Some(v)))?,
        memory_reservation: update_flag(&args.memory_reservation, |v| {
            size_flag("--memory-reservation", Some(v))
        })?,
        nano_cpus: update_flag(&args.cpus, parse_cpus)?,
        cpuset_cpus: args.cpuset_cpus.clone(),
        pids_limit: args.pids_limit,
        restart_policy,
    };
    if config == UpdateConfig::default() {
        return Err(CliError::msg(
            "you must provide one or more flags when using this command",
        ));
    }
    Ok(config)
}

/// `berth update`.
pub async fn update(client: &Client, args: &UpdateArgs) -> CliResult {
    let config = update_config(args)?;
    let mut errs = Vec::new();
    let mut warnings = Vec::new();
    for c in &args.containers {
        match client.container_update(c, &config).await {
            Ok(w) => {
                warnings.extend(w);
                outln(c)?;
            }
            Err(e) => errs.push(e.to_string()),
        }
    }
    if !warnings.is_empty() {
        eprintln!("{}", warnings.join("\n"));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(errs.join("\n")))
    }
}

/// `berth pause` (`pause: true`) or `berth unpause`.
pub async fn pause(client: &Client, args: &PauseArgs, pause: bool) -> CliResult {
    let mut errs = Vec::new();
    for c in &args.containers {
        let res = if pause {
            client.container_pause(c).await
        } else {
            client.container_unpause(c).await
        };
        match res {
            Ok(()) => outln(c)?,
            Err(e) => errs.push(e.to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg(errs.join("\n")))
    }
}

/// `berth port`: the published ports, from inspect's
/// `NetworkSettings.Ports`; nothing when none are published.
pub async fn port(client: &Client, args: &PortArgs) -> CliResult {
    let info = client
        .container_inspect(&args.container)
        .await
        .map_err(|e| super::error::not_found_as(e, "container", &args.container))?;
    let ports = &info.network_settings.ports;
    if let Some(p) = &args.port {
        let (num, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
        if num.parse::<u16>().is_err() {
            return Err(CliError::msg(format!(
                "Error: invalid port ({num}): strconv.ParseUint: parsing \"{num}\": invalid syntax"
            )));
        }
        let key = format!("{num}/{proto}");
        if let Some(Some(bindings)) = ports.get(&key) {
            for b in bindings {
                outln(&join_host_port(&b.host_ip, &b.host_port))?;
            }
            return Ok(());
        }
        return Err(CliError::msg(format!(
            "Error: No public port '{key}' published for {}",
            args.container
        )));
    }
    // docker 20.10 walks a Go map (random order); later CLIs sort the
    // lines naturally, which is what is printed here.
    let mut lines: Vec<String> = ports
        .iter()
        .flat_map(|(from, bindings)| {
            bindings
                .iter()
                .flatten()
                .map(move |b| format!("{from} -> {}", join_host_port(&b.host_ip, &b.host_port)))
        })
        .collect();
    lines.sort_by(|a, b| super::format::natural_cmp(a, b));
    for l in lines {
        outln(&l)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut UpdateArgs)) -> UpdateArgs {
        let mut a = UpdateArgs {
            cpu_shares: None,
            cpus: None,
            cpuset_cpus: None,
            memory: None,
            memory_reservation: None,
            memory_swap: None,
            pids_limit: None,
            restart: None,
            containers: vec!["c".into()],
        };
        f(&mut a);
        a
    }

    #[test]
    fn update_needs_a_flag() {
        assert_eq!(
            update_config(&args(|_| {})).unwrap_err().to_string(),
            "you must provide one or more flags when using this command"
        );
    }

    #[test]
    fn update_parses_docker_units() {
        let c = update_config(&args(|a| {
            a.memory = Some("512m".into());
            a.memory_swap = Some("-1".into());
            a.cpus = Some("1.5".into());
            a.restart = Some("on-failure:3".into());
        }))
        .unwrap();
        assert_eq!(c.memory, Some(512 << 20));
        assert_eq!(c.memory_swap, Some(-1));
        assert_eq!(c.nano_cpus, Some(1_500_000_000));
        assert_eq!(c.restart_policy.unwrap().maximum_retry_count, 3);
        assert!(update_config(&args(|a| a.memory = Some("12x".into()))).is_err());
    }

    #[test]
    fn host_ports_join_like_go() {
        assert_eq!(join_host_port("0.0.0.0", "80"), "0.0.0.0:80");
        assert_eq!(join_host_port("::", "80"), "[::]:80");
    }
}
