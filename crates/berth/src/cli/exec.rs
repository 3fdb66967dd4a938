//! `berth exec`: run a command in a running container
//! (`POST /containers/{id}/exec`, `POST /exec/{id}/start` hijacked or
//! detached, `GET /exec/{id}/json` for the exit code).

use berth_client::{Client, ExecConfig};
use clap::Args;

use super::attach::{
    check_tty, detach_keys, monitor_tty_size, pump, raw_mode, Outcome, ResizeTarget, StreamSetup,
};
use super::envfile::{parse_env_file, resolve_env_flag};
use super::error::{not_found_as, CliError, CliResult};
use super::term::stdout_is_tty;

/// `berth exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long = "privileged")]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// The exec configuration docker's `parseExec` builds from the flags.
pub fn exec_config(args: &ExecArgs) -> CliResult<ExecConfig> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &args.env_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| CliError::msg(format!("open {f}: {}", super::output::go_error(&e))))?;
        env.extend(parse_env_file(&text, lookup).map_err(CliError::msg)?);
    }
    for e in &args.env {
        env.push(resolve_env_flag(e, lookup).map_err(CliError::msg)?);
    }
    Ok(ExecConfig {
        user: args.user.clone().unwrap_or_default(),
        privileged: args.privileged,
        tty: args.tty,
        attach_stdin: args.interactive && !args.detach,
        attach_stdout: !args.detach,
        attach_stderr: !args.detach,
        detach_keys: args.detach_keys.clone().unwrap_or_default(),
        env,
        working_dir: args.workdir.clone().unwrap_or_default(),
        cmd: args.command.clone(),
    })
}

/// `berth exec`.
pub async fn exec(client: &Client, args: &ExecArgs) -> CliResult {
    let config = exec_config(args)?;
    // Docker checks the container first: a missing one is `Error: No such
    // container`.
    client
        .container_inspect(&args.container)
        .await
        .map_err(|e| not_found_as(e, "container", &args.container))?;
    if !args.detach {
        check_tty(config.attach_stdin, config.tty)?;
    }
    let exec_id = client.exec_create(&args.container, &config).await?;
    if exec_id.is_empty() {
        return Err(CliError::msg("exec ID empty"));
    }
    if args.detach {
        return Ok(client.exec_start_detached(&exec_id, config.tty).await?);
    }
    let stream = client.exec_start(&exec_id, config.tty).await?;
    let setup = StreamSetup {
        tty: config.tty,
        stdin: config.attach_stdin,
        detach_keys: Some(detach_keys(args.detach_keys.as_deref())),
    };
    let (raw, watchers) = raw_mode(&setup);
    let resizer = (config.tty && stdout_is_tty())
        .then(|| monitor_tty_size(client, ResizeTarget::Exec(exec_id.clone())));
    let outcome = pump(stream, &setup).await;
    drop(raw);
    watchers.iter().for_each(|w| w.abort());
    if let Some(r) = resizer {
        r.abort();
    }
    if outcome? == Outcome::Detached {
        return Err(CliError::msg("read escape sequence"));
    }
    let info = client.exec_inspect(&exec_id).await?;
    match info.exit_code {
        Some(0) | None => Ok(()),
        Some(code) => Err(CliError::status(code as i32, "")),
    }
}
