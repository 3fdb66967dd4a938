//! `berth create` and `berth run`: docker's container options, their
//! translation into a create request, and the foreground run sequence
//! (create, attach, wait, start, exit with the container's status).

use std::collections::BTreeMap;

use berth_client::{AttachOptions, Client, ClientError};
use berth_spec::api::{
    ContainerConfig, ContainerCreateRequest, EmptyObject, HostConfig, RestartPolicy,
};
use clap::Args;

use super::attach::{
    check_tty, detach_keys, monitor_tty_size, pump, raw_mode, Outcome, ResizeTarget, StreamSetup,
};
use super::envfile::{parse_env_file, resolve_env_flag};
use super::error::{CliError, CliResult};
use super::output::outln;
use super::term::stdout_is_tty;

/// Options shared by `create` and `run`.
#[derive(Debug, Args, Default)]
pub struct ContainerOptions {
    /// Print help (`-h` is --hostname, as in docker)
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list")]
    pub add_host: Vec<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_name = "list")]
    pub attach: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Write the container ID to the file
    #[arg(long = "cidfile", value_name = "string")]
    pub cidfile: Option<String>,
    /// Number of CPUs
    #[arg(long = "cpus", value_name = "decimal")]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "list")]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", value_name = "list")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "list")]
    pub dns_search: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long = "entrypoint", value_name = "string")]
    pub entrypoint: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long = "expose", value_name = "list")]
    pub expose: Vec<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd", value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(
        long = "health-interval",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(
        long = "health-retries",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub health_retries: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(
        long = "health-start-period",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    pub health_start_period: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(
        long = "health-timeout",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    pub health_timeout: Option<String>,
    /// Container host name
    #[arg(short = 'h', long = "hostname", value_name = "string")]
    pub hostname: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long = "init")]
    pub init: bool,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip", value_name = "string")]
    pub ip: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<String>,
    /// Add link to another container
    #[arg(long = "link", value_name = "list")]
    pub link: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount", value_name = "mount")]
    pub mount: Vec<String>,
    /// Memory limit
    #[arg(short = 'm', long = "memory", value_name = "bytes")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes")]
    pub memory_reservation: Option<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(
        long = "oom-score-adj",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub oom_score_adj: Option<i64>,
    /// Ulimit options
    #[arg(long = "ulimit", value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// Assign a name to the container
    #[arg(long = "name", value_name = "string")]
    pub name: Option<String>,
    /// Connect a container to a network
    #[arg(
        long = "network",
        visible_alias = "net",
        value_name = "network",
        default_value = "default"
    )]
    pub network: String,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", value_name = "list")]
    pub network_alias: Vec<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Set platform if server is multi-platform capable
    #[arg(
        long = "platform",
        value_name = "string",
        env = "DOCKER_DEFAULT_PLATFORM"
    )]
    pub platform: Option<String>,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long = "pull", value_name = "string", default_value = "missing")]
    pub pull: String,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Give extended privileges to this container
    #[arg(long = "privileged")]
    pub privileged: bool,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish", value_name = "list")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", value_name = "string", default_value = "no")]
    pub restart: String,
    /// Automatically remove the container when it exits
    #[arg(long = "rm")]
    pub rm: bool,
    /// Security Options
    #[arg(long = "security-opt", value_name = "list")]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes")]
    pub shm_size: Option<String>,
    /// Signal to stop a container
    #[arg(long = "stop-signal", value_name = "string")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_name = "int")]
    pub stop_timeout: Option<i64>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs", value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub user: Option<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volume: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    /// Image to create the container from
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Command and arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `berth run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value = "true", value_name = "bool", action = clap::ArgAction::Set, hide_default_value = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: String,
    /// Options
    #[command(flatten)]
    pub opts: ContainerOptions,
}

/// `berth create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Options
    #[command(flatten)]
    pub opts: ContainerOptions,
}

/// `--restart` value as docker's `ParseRestartPolicy`.
pub fn parse_restart(policy: &str) -> Result<RestartPolicy, String> {
    let parts: Vec<&str> = policy.split(':').collect();
    if parts.len() > 2 {
        return Err("invalid restart policy format".into());
    }
    let mut p = RestartPolicy {
        name: parts[0].to_string(),
        maximum_retry_count: 0,
    };
    if parts.len() == 2 {
        if p.name != "on-failure" {
            return Err(
                "maximum retry count cannot be used with restart policy '".to_string()
                    + &p.name
                    + "'",
            );
        }
        p.maximum_retry_count = parts[1]
            .parse()
            .map_err(|_| "maximum retry count must be an integer".to_string())?;
    }
    Ok(p)
}

/// go-units `RAMInBytes`: `512m`, `1g`, `1.5GiB`, `1024` (binary units).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let num_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, mut unit) = lower.split_at(num_end);
    unit = unit.trim_start();
    let value: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(format!("invalid size: '{s}'")),
    };
    Ok((value * mult) as i64)
}

/// A size flag (`-m 512m`) with docker's flag error wording; 0 when unset.
pub fn size_flag(flag: &str, value: Option<&str>) -> Result<i64, String> {
    let Some(v) = value else { return Ok(0) };
    ram_in_bytes(v)
        .map_err(|_| format!("invalid argument \"{v}\" for \"{flag}\" flag: invalid size: '{v}'"))
}

/// `--memory-swap`: a size, or `-1` for unlimited swap; 0 when unset.
pub fn memory_swap_flag(value: Option<&str>) -> Result<i64, String> {
    match value {
        Some("-1") => Ok(-1),
        other => size_flag("--memory-swap", other),
    }
}

/// `-a/--attach` values as (stdin, stdout, stderr).
fn parse_attach(values: &[String]) -> Result<[bool; 3], String> {
    let mut streams = [false; 3];
    for v in values {
        match v.to_ascii_lowercase().as_str() {
            "stdin" => streams[0] = true,
            "stdout" => streams[1] = true,
            "stderr" => streams[2] = true,
            _ => {
                return Err(format!(
                    "invalid argument \"{v}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
                ))
            }
        }
    }
    Ok(streams)
}

/// `--cpus` as docker's `NanoCPUs` flag: a decimal number of CPUs.
pub fn parse_cpus(value: &str) -> Result<i64, String> {
    let invalid = || {
        format!("invalid argument \"{value}\" for \"--cpus\" flag: failed to parse {value} as a rational number")
    };
    let cpus: f64 = value.trim().parse().map_err(|_| invalid())?;
    if !cpus.is_finite() {
        return Err(invalid());
    }
    let nano = (cpus * 1e9).round();
    if nano < 0.0 {
        return Err(invalid());
    }
    Ok(nano as i64)
}

/// `--ulimit name=soft[:hard]` as docker's `units.ParseUlimit`, as the
/// `{"Name","Soft","Hard"}` object the API takes.
pub fn parse_ulimit(value: &str) -> Result<serde_json::Value, String> {
    const NAMES: [&str; 16] = [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    let bad = |why: String| format!("invalid argument \"{value}\" for \"--ulimit\" flag: {why}");
    let (name, limits) = value
        .split_once('=')
        .ok_or_else(|| bad(format!("invalid ulimit argument: {value}")))?;
    if !NAMES.contains(&name) {
        return Err(bad(format!("invalid ulimit type: {name}")));
    }
    let parse = |s: &str| -> Result<i64, String> {
        s.parse::<i64>()
            .map_err(|_| bad(format!("strconv.ParseInt: parsing \"{s}\": invalid syntax")))
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (parse(s)?, parse(h)?),
        None => {
            let v = parse(limits)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(bad(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok(serde_json::json!({"Name": name, "Soft": soft, "Hard": hard}))
}

fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("open {path}: {}", super::output::go_error(&e)))
}

/// Translate the options into a create request, as docker's `parse`.
pub fn build_request(
    o: &ContainerOptions,
    attach_out: bool,
) -> Result<ContainerCreateRequest, String> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &o.env_file {
        env.extend(parse_env_file(&read_file(f)?, lookup)?);
    }
    for e in &o.env {
        env.push(resolve_env_flag(e, lookup)?);
    }
    let mut label_lines: Vec<String> = Vec::new();
    for f in &o.label_file {
        // Docker drops a bare `KEY` line from label files.
        label_lines.extend(parse_env_file(&read_file(f)?, |_| None)?);
    }
    label_lines.extend(o.label.iter().cloned());
    let labels = super::manage::kv_map(&label_lines);
    let restart_policy = parse_restart(&o.restart)?;
    if o.rm && !(restart_policy.name.is_empty() || restart_policy.name == "no") {
        return Err("Conflicting options: --restart and --rm".into());
    }
    let healthcheck = super::healthopts::health_config(&super::healthopts::HealthFlags {
        cmd: o.health_cmd.as_deref(),
        interval: o.health_interval.as_deref(),
        timeout: o.health_timeout.as_deref(),
        start_period: o.health_start_period.as_deref(),
        retries: o.health_retries.as_deref(),
        disabled: o.no_healthcheck,
    })?;
    let mut ports = super::publish::PortMap::new();
    let mut exposed = super::publish::PortSet::new();
    super::publish::parse_publish(&o.publish, &mut ports, &mut exposed)?;
    super::publish::parse_expose(&o.expose, &mut exposed)?;
    let links = super::netopts::parse_links(&o.link)?;
    let mounts = super::mountopt::parse_mounts(&o.mount)?;
    let networking_config = super::netopts::networking_config(
        &o.network,
        o.ip.as_deref(),
        &o.network_alias,
        links.as_ref(),
    );
    let mut binds = Vec::new();
    let mut volumes = BTreeMap::new();
    for v in &o.volume {
        if v.contains(':') {
            binds.push(v.clone());
        } else {
            volumes.insert(v.clone(), EmptyObject {});
        }
    }
    let tmpfs: BTreeMap<String, String> = o
        .tmpfs
        .iter()
        .map(|t| {
            let (p, opts) = t.split_once(':').unwrap_or((t.as_str(), ""));
            (p.to_string(), opts.to_string())
        })
        .collect();
    let entrypoint = o.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let streams = parse_attach(&o.attach)?;
    let (mut attach_stdin, mut attach_stdout, mut attach_stderr) = if o.attach.is_empty() {
        (false, true, true)
    } else {
        (streams[0], streams[1], streams[2])
    };
    attach_stdin |= o.interactive;
    if !attach_out {
        (attach_stdin, attach_stdout, attach_stderr) = (false, false, false);
    }
    let config = ContainerConfig {
        hostname: o.hostname.clone().unwrap_or_default(),
        user: o.user.clone().unwrap_or_default(),
        attach_stdin,
        attach_stdout,
        attach_stderr,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: o.tty,
        open_stdin: o.interactive,
        stdin_once: attach_stdin && o.interactive,
        env: Some(env),
        cmd: (!o.command.is_empty()).then(|| o.command.clone()),
        image: o.image.clone(),
        volumes: (!volumes.is_empty()).then_some(volumes),
        working_dir: o.workdir.clone().unwrap_or_default(),
        entrypoint,
        labels: Some(labels),
        stop_signal: o.stop_signal.clone().unwrap_or_default(),
        stop_timeout: o.stop_timeout,
        healthcheck,
        ..ContainerConfig::default()
    };
    let memory = size_flag("-m, --memory", o.memory.as_deref())?;
    let memory_swap = memory_swap_flag(o.memory_swap.as_deref())?;
    let shm_size = size_flag("--shm-size", o.shm_size.as_deref())?;
    let host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        network_mode: o.network.clone(),
        port_bindings: Some(ports),
        restart_policy,
        auto_remove: o.rm,
        cap_add: (!o.cap_add.is_empty()).then(|| o.cap_add.clone()),
        cap_drop: (!o.cap_drop.is_empty()).then(|| o.cap_drop.clone()),
        dns: Some(o.dns.clone()),
        dns_options: Some(o.dns_option.clone()),
        dns_search: Some(o.dns_search.clone()),
        links,
        mounts: (!mounts.is_empty()).then_some(mounts),
        volumes_from: super::mountopt::volumes_from(&o.volumes_from),
        extra_hosts: (!o.add_host.is_empty()).then(|| o.add_host.clone()),
        privileged: o.privileged,
        publish_all_ports: o.publish_all,
        readonly_rootfs: o.read_only,
        security_opt: (!o.security_opt.is_empty()).then(|| o.security_opt.clone()),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        shm_size,
        memory,
        memory_swap,
        nano_cpus: o.cpus.as_deref().map(parse_cpus).transpose()?.unwrap_or(0),
        cpu_shares: o.cpu_shares.unwrap_or(0),
        cpuset_cpus: o.cpuset_cpus.clone().unwrap_or_default(),
        memory_reservation: size_flag("--memory-reservation", o.memory_reservation.as_deref())?,
        oom_score_adj: o.oom_score_adj.unwrap_or(0),
        ulimits: if o.ulimit.is_empty() {
            None
        } else {
            Some(
                o.ulimit
                    .iter()
                    .map(|u| parse_ulimit(u))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        },
        pids_limit: o.pids_limit,
        init: o.init.then_some(true),
        ..HostConfig::default()
    };
    Ok(ContainerCreateRequest {
        config,
        host_config,
        networking_config,
    })
}

/// An invalid create/run option: docker prints flag errors as usage
/// errors (`invalid argument ... flag: ...` and the help hint), others as
/// `docker: <msg>.`; both exit 125.
fn option_error(cmd: &str, msg: &str) -> CliError {
    if msg.starts_with("invalid argument ") {
        CliError::status(125, format!("{msg}\nSee 'berth {cmd} --help'."))
    } else {
        report(cmd, msg, 125, true)
    }
}

/// `docker: <msg>.` plus the help hint, exit 125.
fn report(cmd: &str, msg: &str, code: i32, with_help: bool) -> CliError {
    let mut text = format!("berth: {}.", msg.trim_end_matches('.'));
    if with_help {
        text.push_str(&format!("\nSee 'berth {cmd} --help'."));
    }
    CliError::status(code, text)
}

/// Docker's exit status for a failed start: 127 when the command is not
/// found, 126 when it cannot be run, else 125.
pub fn start_error_code(msg: &str) -> i32 {
    if msg.contains("executable file not found")
        || msg.contains("no such file or directory")
        || msg.contains("system cannot find the file specified")
    {
        127
    } else if msg.contains("permission denied") || msg.contains("is a directory") {
        126
    } else {
        125
    }
}

/// A failed create: `create` prints the daemon's error and exits 1; `run`
/// reports it docker-style with 125/126/127.
fn create_error(cmd: &str, e: ClientError) -> CliError {
    if cmd == "run" {
        let msg = e.to_string();
        report(cmd, &msg, start_error_code(&msg), true)
    } else {
        e.into()
    }
}

/// What `--pull` asks for; docker 20.10 treats an unknown value as `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PullPolicy {
    Always,
    Missing,
    Never,
}

impl PullPolicy {
    fn parse(value: &str) -> Self {
        match value {
            "always" => PullPolicy::Always,
            "missing" => PullPolicy::Missing,
            _ => PullPolicy::Never,
        }
    }
}

/// Pull the image of a container, progress on stderr (stdout belongs to
/// the container or its ID); a failure is reported as `run`/`create` do.
async fn pull_for_create(client: &Client, o: &ContainerOptions, cmd: &str) -> CliResult {
    let reference = super::registry::parse_reference(&o.image)
        .map_err(|e| pull_error(cmd, e))?
        .with_default_tag();
    let target = super::registry::PullTarget {
        reference,
        all_tags: false,
        platform: o.platform.clone(),
    };
    super::registry::pull_image(client, &target, super::registry::Sink::Stderr)
        .await
        .map_err(|e| pull_error(cmd, e))
}

/// A failed pull: `run` says `berth: <error>.` with the help hint (125),
/// `create` prints the error (1).
fn pull_error(cmd: &str, e: CliError) -> CliError {
    let msg = e.to_string();
    if cmd == "run" {
        report(cmd, &msg, 125, true)
    } else {
        CliError::msg(msg)
    }
}

/// Create the container, pulling the image first (`--pull always`) or
/// when the daemon lacks it (`--pull missing`, the default).
async fn create_container(
    client: &Client,
    o: &ContainerOptions,
    req: &ContainerCreateRequest,
    cmd: &str,
) -> CliResult<String> {
    let name = o.name.as_deref();
    let policy = PullPolicy::parse(&o.pull);
    if policy == PullPolicy::Always {
        pull_for_create(client, o, cmd).await?;
    }
    let resp = match client.container_create(req, name).await {
        Ok(r) => r,
        Err(e)
            if policy == PullPolicy::Missing
                && e.is_not_found()
                && e.to_string().contains("No such image") =>
        {
            let Ok(reference) = super::registry::parse_reference(&o.image) else {
                return Err(create_error(cmd, e));
            };
            eprintln!(
                "Unable to find image '{}' locally",
                reference.with_default_tag().familiar_string()
            );
            pull_for_create(client, o, cmd).await?;
            client
                .container_create(req, name)
                .await
                .map_err(|e| create_error(cmd, e))?
        }
        Err(e) => return Err(create_error(cmd, e)),
    };
    for w in &resp.warnings {
        eprintln!("WARNING: {w}");
    }
    if let Some(path) = &o.cidfile {
        std::fs::write(path, &resp.id).map_err(|e| {
            report(
                cmd,
                &format!("failed to write the container ID to the file: {e}"),
                125,
                true,
            )
        })?;
    }
    Ok(resp.id)
}

/// `berth create`.
pub async fn create(client: &Client, args: &CreateArgs) -> CliResult {
    let req = build_request(&args.opts, true).map_err(|e| option_error("create", &e))?;
    let id = create_container(client, &args.opts, &req, "create").await?;
    outln(&id)
}

/// `start -a [-i]`: attach (stdin too with `-i` when the container keeps
/// it open), start, stream until it ends or the user detaches; exits with
/// the container's status.
pub async fn start_attached(
    client: &Client,
    container: &str,
    interactive: bool,
    sig_proxy: bool,
    detach_keys: Option<&str>,
) -> CliResult {
    let info = client
        .container_inspect(container)
        .await
        .map_err(|e| super::error::not_found_as(e, "container", container))?;
    let stdin = interactive && info.config.open_stdin;
    check_tty(stdin, info.config.tty)?;
    let session = Session {
        id: info.id.clone(),
        tty: info.config.tty,
        stdin,
        stdout: true,
        stderr: true,
        removed: info.host_config.auto_remove,
        sig_proxy: sig_proxy && !info.config.tty,
        detach_keys: detach_keys.map(str::to_string),
    };
    match attach_start_wait(client, &session).await? {
        Ok(Some(0)) | Ok(None) => Ok(()),
        Ok(Some(code)) => Err(CliError::status(code as i32, "")),
        Err(e) => Err(e.into()),
    }
}

/// Forward the signals a user sends to the CLI (Ctrl+C, `kill`) to the
/// container, as docker's `--sig-proxy` does.
pub fn proxy_signals(client: &Client, id: &str) -> Vec<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ];
    let mut tasks = Vec::new();
    for (kind, name) in kinds {
        let Ok(mut stream) = signal(kind) else {
            continue;
        };
        let client = client.clone();
        let id = id.to_string();
        tasks.push(tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if let Err(e) = client.container_kill(&id, Some(name)).await {
                    eprintln!("berth: failed to forward {name}: {e}");
                }
            }
        }));
    }
    tasks
}

/// One foreground session on a container.
struct Session {
    id: String,
    tty: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    /// Wait for removal (`--rm`) rather than the next exit.
    removed: bool,
    sig_proxy: bool,
    detach_keys: Option<String>,
}

/// Attach (hijacked: stdin up, output down), register the wait, start,
/// set the TTY size, stream until the output ends or the user detaches.
/// The start's own failure (inner error) is kept apart from API failures
/// around it (outer error); `Ok(None)` means detached.
async fn attach_start_wait(
    client: &Client,
    s: &Session,
) -> CliResult<Result<Option<i64>, ClientError>> {
    let condition = if s.removed { "removed" } else { "next-exit" };
    let opts = AttachOptions {
        stdin: s.stdin,
        stdout: s.stdout,
        stderr: s.stderr,
        logs: false,
        detach_keys: s.detach_keys.clone(),
    };
    // Both must be in place before the start; neither depends on the other.
    let (stream, waiter) = tokio::join!(
        client.container_attach_with(&s.id, &opts),
        client.container_wait_begin(&s.id, Some(condition))
    );
    let (stream, waiter) = (stream?, waiter?);
    let setup = StreamSetup {
        tty: s.tty,
        stdin: s.stdin,
        detach_keys: Some(detach_keys(s.detach_keys.as_deref())),
    };
    let (raw, watchers) = raw_mode(&setup);
    let session = tokio::spawn(async move { pump(stream, &setup).await });
    let mut helpers = watchers;
    if s.sig_proxy {
        helpers.extend(proxy_signals(client, &s.id));
    }
    if let Err(e) = client.container_start(&s.id).await {
        session.abort();
        drop(raw);
        helpers.iter().for_each(|p| p.abort());
        return Ok(Err(e));
    }
    if s.tty && stdout_is_tty() {
        helpers.push(monitor_tty_size(
            client,
            ResizeTarget::Container(s.id.clone()),
        ));
    }
    let outcome = session
        .await
        .map_err(|e| CliError::msg(format!("attach task failed: {e}")));
    drop(raw);
    helpers.iter().for_each(|p| p.abort());
    if outcome?? == Outcome::Detached {
        return Ok(Ok(None));
    }
    let status = waiter.result().await?;
    if let Some(err) = status.error.filter(|e| !e.message.is_empty()) {
        return Err(CliError::status(125, format!("berth: {}", err.message)));
    }
    Ok(Ok(Some(status.status_code)))
}

/// `berth run`.
pub async fn run(client: &Client, args: &RunArgs) -> CliResult {
    let o = &args.opts;
    if args.detach && !o.attach.is_empty() {
        return Err(CliError::msg("Conflicting options: -a and -d"));
    }
    let req = build_request(o, !args.detach).map_err(|e| option_error("run", &e))?;
    if !args.detach {
        check_tty(req.config.attach_stdin, req.config.tty)?;
    }
    let id = create_container(client, o, &req, "run").await?;
    if args.detach {
        if let Err(e) = client.container_start(&id).await {
            let msg = e.to_string();
            if o.rm {
                let _ = client.container_remove(&id, true, true).await;
            }
            return Err(report("run", &msg, start_error_code(&msg), false));
        }
        outln(&id)?;
        super::startwatch::explain(client, std::slice::from_ref(&id)).await;
        return Ok(());
    }
    let session = Session {
        id: id.clone(),
        tty: o.tty,
        stdin: req.config.attach_stdin,
        stdout: req.config.attach_stdout,
        stderr: req.config.attach_stderr,
        removed: o.rm,
        sig_proxy: args.sig_proxy != "false" && !o.tty,
        detach_keys: args.detach_keys.clone(),
    };
    let result = match attach_start_wait(client, &session).await {
        Ok(r) => r,
        Err(e) => {
            // Attaching failed before the start: do not leave an
            // auto-removed container behind.
            if o.rm {
                let _ = client.container_remove(&id, true, true).await;
            }
            return Err(match e {
                CliError::Client(c) => report("run", &c.to_string(), 125, false),
                other => other,
            });
        }
    };
    match result {
        Ok(Some(0)) | Ok(None) => Ok(()),
        Ok(Some(code)) => Err(CliError::status(code as i32, "")),
        Err(e) => {
            let msg = e.to_string();
            if o.rm {
                let _ = client.container_remove(&id, true, true).await;
            }
            Err(report("run", &msg, start_error_code(&msg), false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert_eq!(parse_restart("always").unwrap().name, "always");
        let p = parse_restart("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 3));
        assert!(parse_restart("on-failure:x").is_err());
        assert!(parse_restart("a:b:c").is_err());
    }

    #[test]
    fn rm_conflicts_with_restart() {
        let o = ContainerOptions {
            image: "img".into(),
            rm: true,
            restart: "always".into(),
            network: "default".into(),
            ..Default::default()
        };
        assert_eq!(
            build_request(&o, true).unwrap_err(),
            "Conflicting options: --restart and --rm"
        );
    }

    #[test]
    fn builds_request_like_docker() {
        let o = ContainerOptions {
            image: "img".into(),
            command: vec!["echo".into(), "hi".into()],
            env: vec!["A=1".into()],
            label: vec!["k=v".into(), "flag".into()],
            entrypoint: Some(String::new()),
            publish: vec!["8080:80".into()],
            memory: Some("512m".into()),
            restart: "no".into(),
            network: "none".into(),
            ..Default::default()
        };
        let req = build_request(&o, true).unwrap();
        assert_eq!(req.config.cmd, Some(vec!["echo".into(), "hi".into()]));
        assert_eq!(req.config.entrypoint, Some(vec![String::new()]));
        assert_eq!(req.config.env, Some(vec!["A=1".into()]));
        let labels = req.config.labels.unwrap();
        assert_eq!(labels["k"], "v");
        assert_eq!(labels["flag"], "");
        assert!(req.config.attach_stdout);
        assert_eq!(req.host_config.memory, 512 * 1024 * 1024);
        assert_eq!(req.host_config.network_mode, "none");
        let pb = req.host_config.port_bindings.unwrap();
        assert_eq!(pb["80/tcp"].as_ref().unwrap()[0].host_port, "8080");
        assert!(req.config.exposed_ports.unwrap().contains_key("80/tcp"));
    }

    #[test]
    fn sizes_and_names() {
        assert_eq!(ram_in_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("100").unwrap(), 100);
        assert!(ram_in_bytes("1x").is_err());
    }

    #[test]
    fn pull_policies_as_docker_20_10() {
        assert_eq!(PullPolicy::parse("always"), PullPolicy::Always);
        assert_eq!(PullPolicy::parse("missing"), PullPolicy::Missing);
        assert_eq!(PullPolicy::parse("never"), PullPolicy::Never);
        // docker 20.10 does not validate the value: anything else never pulls.
        assert_eq!(PullPolicy::parse("bogus"), PullPolicy::Never);
    }

    #[test]
    fn start_error_codes() {
        assert_eq!(
            start_error_code("exec: \"x\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_error_code("exec: \"/etc\": permission denied"), 126);
        assert_eq!(start_error_code("something else"), 125);
    }

    #[test]
    fn attach_flags_set_streams_like_docker() {
        let base = || ContainerOptions {
            image: "img".into(),
            restart: "no".into(),
            network: "default".into(),
            ..Default::default()
        };
        let mut o = base();
        o.interactive = true;
        o.tty = true;
        let c = build_request(&o, true).unwrap().config;
        assert!(c.attach_stdin && c.attach_stdout && c.attach_stderr && c.stdin_once);
        let mut o = base();
        o.interactive = true;
        o.attach = vec!["STDOUT".into()];
        let c = build_request(&o, true).unwrap().config;
        assert!(c.attach_stdin && c.attach_stdout && !c.attach_stderr && c.stdin_once);
        let mut o = base();
        o.attach = vec!["stdin".into()];
        let c = build_request(&o, true).unwrap().config;
        assert!(c.attach_stdin && !c.attach_stdout && !c.stdin_once && !c.open_stdin);
        let mut o = base();
        o.attach = vec!["foo".into()];
        assert_eq!(
            build_request(&o, true).unwrap_err(),
            "invalid argument \"foo\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
        );
        let mut o = base();
        o.interactive = true;
        let c = build_request(&o, false).unwrap().config;
        assert!(!c.attach_stdin && !c.attach_stdout && c.open_stdin);
    }

    #[test]
    fn resource_flags_parse_like_docker() {
        assert_eq!(parse_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_cpus("0.01").unwrap(), 10_000_000);
        assert!(parse_cpus("x").is_err());
        assert_eq!(
            parse_ulimit("nofile=1024:2048").unwrap(),
            serde_json::json!({"Name":"nofile","Soft":1024,"Hard":2048})
        );
        assert_eq!(parse_ulimit("nproc=10").unwrap()["Hard"], 10);
        assert!(parse_ulimit("bogus=1")
            .unwrap_err()
            .contains("invalid ulimit type: bogus"));
        assert!(parse_ulimit("nofile=2:1").is_err());
        assert!(parse_ulimit("nofile").is_err());
        let o = ContainerOptions {
            image: "img".into(),
            restart: "no".into(),
            network: "default".into(),
            memory_reservation: Some("1g".into()),
            cpuset_cpus: Some("0-1".into()),
            oom_score_adj: Some(-500),
            ulimit: vec!["nofile=100:200".into()],
            cpus: Some("2".into()),
            ..Default::default()
        };
        let hc = build_request(&o, true).unwrap().host_config;
        assert_eq!(hc.memory_reservation, 1 << 30);
        assert_eq!(hc.cpuset_cpus, "0-1");
        assert_eq!(hc.oom_score_adj, -500);
        assert_eq!(hc.nano_cpus, 2_000_000_000);
        assert_eq!(hc.ulimits.unwrap()[0]["Soft"], 100);
    }
}
