//! `berth stats`: live resource usage from `GET /containers/{id}/stats`,
//! computed and printed as the docker CLI 20.10 does (its
//! `stats_helpers.go` formulas), plus berth's peak memory column.
//!
//! Peak memory: berth's `memory_stats.peak` when the daemon sends it,
//! else Docker's cgroup-v1 `memory_stats.max_usage`; `--` when neither.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_client::{Client, ListOptions, Stats};
use berth_spec::units::{human_size, human_size_binary};
use clap::Args;

use super::error::{CliError, CliResult};
use super::format::{render, row};
use super::output::out;
use super::template::Val;

/// Docker's default stats table.
const DEFAULT_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
/// The default table with berth's peak column.
const PEAK_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.MemPeak}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// `berth stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Pretty-print images using a Go template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Add a PEAK column: the highest memory use since the container started (berth)
    #[arg(long = "peak")]
    pub peak: bool,
    /// Containers (default: all running)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// The numbers of one sample, as docker's `StatsEntry`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// What the user named (or the ID when listing).
    pub container: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Full ID.
    pub id: String,
    /// CPU %.
    pub cpu_percent: f64,
    /// Memory used, page cache excluded.
    pub memory: f64,
    /// Memory limit.
    pub memory_limit: f64,
    /// MEM %.
    pub memory_percent: f64,
    /// Peak memory, when known.
    pub memory_peak: Option<u64>,
    /// Received bytes, all interfaces.
    pub net_rx: f64,
    /// Sent bytes.
    pub net_tx: f64,
    /// Bytes read from block devices.
    pub block_read: f64,
    /// Bytes written.
    pub block_write: f64,
    /// PIDs.
    pub pids: u64,
    /// No sample could be read.
    pub invalid: bool,
}

/// CPU % as docker: container CPU time delta over host CPU time delta,
/// times the number of CPUs.
pub fn cpu_percent(s: &Stats) -> f64 {
    let cpu_delta =
        s.cpu_stats.cpu_usage.total_usage as f64 - s.precpu_stats.cpu_usage.total_usage as f64;
    let system_delta = s.cpu_stats.system_cpu_usage as f64 - s.precpu_stats.system_cpu_usage as f64;
    let mut cpus = s.cpu_stats.online_cpus as f64;
    if cpus == 0.0 {
        cpus = s
            .cpu_stats
            .cpu_usage
            .percpu_usage
            .as_ref()
            .map_or(0, Vec::len) as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// Memory use without the inactive page cache (v1 `total_inactive_file`,
/// v2 `inactive_file`), as docker.
pub fn memory_usage(s: &Stats) -> f64 {
    let m = &s.memory_stats;
    if let Some(&v) = m.stats.get("total_inactive_file") {
        if v < m.usage {
            return (m.usage - v) as f64;
        }
    }
    let v = m.stats.get("inactive_file").copied().unwrap_or(0);
    if v < m.usage {
        return (m.usage - v) as f64;
    }
    m.usage as f64
}

/// Bytes read and written, summed over devices (`Read`/`read`,
/// `Write`/`write` entries).
pub fn block_io(s: &Stats) -> (f64, f64) {
    let (mut r, mut w) = (0u64, 0u64);
    for e in s.blkio_stats.io_service_bytes_recursive.iter().flatten() {
        match e.op.as_bytes().first() {
            Some(b'r' | b'R') => r = r.saturating_add(e.value),
            Some(b'w' | b'W') => w = w.saturating_add(e.value),
            _ => {}
        }
    }
    (r as f64, w as f64)
}

/// One sample's entry.
pub fn entry(container: &str, s: &Stats) -> Entry {
    let memory = memory_usage(s);
    let limit = s.memory_stats.limit as f64;
    let (rx, tx) = s
        .networks
        .iter()
        .flatten()
        .fold((0.0, 0.0), |(r, t), (_, n)| {
            (r + n.rx_bytes as f64, t + n.tx_bytes as f64)
        });
    let (block_read, block_write) = block_io(s);
    Entry {
        container: container.to_string(),
        name: s.name.trim_start_matches('/').to_string(),
        id: s.id.clone(),
        cpu_percent: cpu_percent(s),
        memory,
        memory_limit: limit,
        memory_percent: if limit != 0.0 {
            memory / limit * 100.0
        } else {
            0.0
        },
        memory_peak: s.memory_stats.peak.or(s.memory_stats.max_usage),
        net_rx: rx,
        net_tx: tx,
        block_read,
        block_write,
        pids: s.pids_stats.current,
        invalid: false,
    }
}

fn size_pair(a: f64, b: f64) -> String {
    format!("{} / {}", human_size(a as u64, 3), human_size(b as u64, 3))
}

/// The template row of an entry (docker's formatter fields).
pub fn entry_row(e: &Entry, trunc: bool) -> Val {
    let id = if trunc {
        e.id.chars().take(12).collect()
    } else {
        e.id.clone()
    };
    let name = if e.name.is_empty() {
        "--".to_string()
    } else {
        e.name.clone()
    };
    let fields = if e.invalid {
        vec![
            ("CPUPerc", "--".to_string()),
            ("MemUsage", "-- / --".to_string()),
            ("MemPerc", "--".to_string()),
            ("MemPeak", "--".to_string()),
            ("NetIO", "--".to_string()),
            ("BlockIO", "--".to_string()),
            ("PIDs", "--".to_string()),
        ]
    } else {
        vec![
            ("CPUPerc", format!("{:.2}%", e.cpu_percent)),
            (
                "MemUsage",
                format!(
                    "{} / {}",
                    human_size_binary(e.memory as u64, 4),
                    human_size_binary(e.memory_limit as u64, 4)
                ),
            ),
            ("MemPerc", format!("{:.2}%", e.memory_percent)),
            (
                "MemPeak",
                e.memory_peak
                    .map_or_else(|| "--".to_string(), |p| human_size_binary(p, 4)),
            ),
            ("NetIO", size_pair(e.net_rx, e.net_tx)),
            ("BlockIO", size_pair(e.block_read, e.block_write)),
            ("PIDs", e.pids.to_string()),
        ]
    };
    let mut all = vec![
        ("Container", e.container.clone()),
        ("Name", name),
        ("ID", id),
    ];
    all.extend(fields);
    row(all, Vec::new())
}

/// Column titles.
pub fn header() -> Val {
    row(
        vec![
            ("Container", "CONTAINER".into()),
            ("Name", "NAME".into()),
            ("ID", "CONTAINER ID".into()),
            ("CPUPerc", "CPU %".into()),
            ("MemUsage", "MEM USAGE / LIMIT".into()),
            ("MemPerc", "MEM %".into()),
            ("MemPeak", "PEAK".into()),
            ("NetIO", "NET I/O".into()),
            ("BlockIO", "BLOCK I/O".into()),
            ("PIDs", "PIDS".into()),
        ],
        Vec::new(),
    )
}

fn format_of(args: &StatsArgs) -> String {
    match &args.format {
        Some(f) if !f.is_empty() && f != "table" => f.clone(),
        _ if args.peak => PEAK_FORMAT.to_string(),
        _ => DEFAULT_FORMAT.to_string(),
    }
}

/// The containers to show: those named, or the running (`-a`: all) ones.
async fn targets(client: &Client, args: &StatsArgs) -> CliResult<Vec<String>> {
    if !args.containers.is_empty() {
        return Ok(args.containers.clone());
    }
    let list = client
        .containers_list(&ListOptions {
            all: args.all,
            ..Default::default()
        })
        .await?;
    Ok(list.into_iter().map(|c| c.id).collect())
}

/// `berth stats`.
pub async fn stats(client: &Client, args: &StatsArgs) -> CliResult {
    let format = format_of(args);
    let trunc = !args.no_trunc;
    let names = targets(client, args).await?;
    // Validate the template before any stream starts.
    render(&format, &header(), &[])?;
    let slots: Arc<Mutex<Vec<Option<Entry>>>> = Arc::new(Mutex::new(vec![None; names.len()]));
    let mut tasks = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let client = client.clone();
        let name = name.clone();
        let slots = slots.clone();
        let stream = !args.no_stream;
        tasks.push(tokio::spawn(async move {
            let set = |e: Entry| {
                if let Ok(mut g) = slots.lock() {
                    g[i] = Some(e);
                }
            };
            let mut s = match client.container_stats(&name, stream).await {
                Ok(s) => s,
                Err(e) => return Err(e),
            };
            loop {
                match s.next().await {
                    Ok(Some(sample)) => set(entry(&name, &sample)),
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        set(Entry {
                            container: name.clone(),
                            invalid: true,
                            ..Default::default()
                        });
                        return Err(e);
                    }
                }
            }
        }));
    }
    if args.no_stream {
        let mut errors = Vec::new();
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e.to_string()),
                Err(e) => errors.push(format!("stats task failed: {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(CliError::msg(errors.join("\n")));
        }
        let rows: Vec<Val> = current_rows(&slots, trunc);
        return out(&render(&format, &header(), &rows)?);
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let rows = current_rows(&slots, trunc);
        out(&format!(
            "\x1b[2J\x1b[H{}",
            render(&format, &header(), &rows)?
        ))?;
        if !tasks.is_empty() && tasks.iter().all(|t| t.is_finished()) {
            // Every stream ended (containers gone or stopped streaming).
            let mut errors = Vec::new();
            for t in tasks.drain(..) {
                if let Ok(Err(e)) = t.await {
                    errors.push(e.to_string());
                }
            }
            if !errors.is_empty() {
                return Err(CliError::msg(errors.join("\n")));
            }
            return Ok(());
        }
    }
}

fn current_rows(slots: &Mutex<Vec<Option<Entry>>>, trunc: bool) -> Vec<Val> {
    let guard = match slots.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    guard
        .iter()
        .flatten()
        .map(|e| entry_row(e, trunc))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_client::parse_stats;

    fn sample() -> Stats {
        parse_stats(
            br#"{"name":"/web","id":"0123456789abcdef0123456789abcdef",
            "cpu_stats":{"cpu_usage":{"total_usage":300000000},"system_cpu_usage":4000000000,"online_cpus":4},
            "precpu_stats":{"cpu_usage":{"total_usage":100000000},"system_cpu_usage":2000000000},
            "memory_stats":{"usage":10485760,"max_usage":20971520,"limit":1073741824,"stats":{"total_inactive_file":2097152}},
            "networks":{"eth0":{"rx_bytes":1500,"tx_bytes":500},"eth1":{"rx_bytes":500,"tx_bytes":0}},
            "blkio_stats":{"io_service_bytes_recursive":[{"op":"Read","value":4096000},{"op":"Write","value":8192},{"op":"Total","value":4104192}]},
            "pids_stats":{"current":7}}"#,
        )
        .unwrap()
    }

    #[test]
    fn computes_like_docker() {
        let e = entry("web", &sample());
        // (2e8 / 2e9) * 4 CPUs * 100.
        assert!((e.cpu_percent - 40.0).abs() < 1e-9);
        assert_eq!(e.memory, 8388608.0);
        assert_eq!(e.net_rx, 2000.0);
        assert_eq!(e.block_read, 4096000.0);
        assert_eq!(e.block_write, 8192.0);
        assert_eq!(e.memory_peak, Some(20971520));
        let out = render(DEFAULT_FORMAT, &header(), &[entry_row(&e, true)]).unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O      BLOCK I/O        PIDS\n\
             0123456789ab   web       40.00%    8MiB / 1GiB         0.78%     2kB / 500B   4.1MB / 8.19kB   7\n"
        );
        let peak = render("{{.Name}} {{.MemPeak}}", &header(), &[entry_row(&e, true)]).unwrap();
        assert_eq!(peak, "web 20MiB\n");
    }

    #[test]
    fn v2_inactive_file_and_no_precpu() {
        let mut s = sample();
        s.memory_stats.stats.clear();
        s.memory_stats.stats.insert("inactive_file".into(), 1048576);
        s.precpu_stats = Default::default();
        s.precpu_stats.system_cpu_usage = 4000000000;
        let e = entry("x", &s);
        assert_eq!(e.memory, 9437184.0);
        assert_eq!(e.cpu_percent, 0.0);
    }

    #[test]
    fn berth_peak_wins_over_max_usage() {
        let mut s = sample();
        s.memory_stats.peak = Some(1 << 30);
        assert_eq!(entry("x", &s).memory_peak, Some(1 << 30));
        s.memory_stats.peak = None;
        s.memory_stats.max_usage = None;
        let row = entry_row(&entry("x", &s), true);
        assert_eq!(render("{{.MemPeak}}", &header(), &[row]).unwrap(), "--\n");
    }
}
