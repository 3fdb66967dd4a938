//! The `berth` command line: docker-compatible commands, each a client of
//! the Engine API (see `berth_client`), plus `berth daemon`.

mod attach;
mod build;
mod buildctx;
mod commit;
mod compose;
mod connect;
mod containers;
mod cp;
mod envcap;
mod envfile;
mod error;
mod events;
mod exec;
mod format;
mod healthopts;
mod images;
mod inspect;
mod manage;
mod mountopt;
mod netopts;
mod network;
mod output;
mod progress;
mod ps;
mod publish;
mod registry;
mod run;
mod startwatch;
mod stats;
mod system;
mod template;
mod term;
mod timefmt;
mod update;
mod volume;

use std::path::PathBuf;

use berth_client::Client;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use connect::DEFAULT_HOST;
pub use error::{CliError, CliResult};
use manage::ClientCommand;

/// `--filter` values grouped by key.
pub type Filters = berth_client::Filters;

/// berth: a Docker-compatible container engine.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers (Docker-compatible)",
    disable_version_flag = true,
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(
        short = 'H',
        long = "host",
        env = "BERTH_HOST",
        value_name = "unix:///path"
    )]
    pub host: Option<String>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(
        short = 'l',
        long = "log-level",
        default_value = "info",
        value_name = "string"
    )]
    pub log_level: String,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// The command
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Container commands that `berth container ...` has under the same name.
    #[command(flatten)]
    ContainerOp(ContainerOp),
    /// Remove one or more containers
    Rm(containers::RmArgs),
    /// List containers
    Ps(ps::PsArgs),
    /// Return low-level information on containers or images
    Inspect(inspect::InspectArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Image commands that `berth image ...` has under the same name.
    #[command(flatten)]
    ImageOp(ImageOp),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Show the berth version information
    Version(system::FormatArgs),
    /// Display system-wide information
    Info(system::FormatArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// Log in to a Docker registry
    Login(registry::LoginArgs),
    /// Log out from a Docker registry
    Logout(registry::LogoutArgs),
    /// Search the Docker Hub for images
    Search(registry::SearchArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage berth
    #[command(subcommand)]
    System(SystemCommand),
    /// Docker Compose: define and run multi-container applications
    Compose(compose::ComposeArgs),
    /// Capture, diff and rebuild installed packages (berth extension)
    #[command(subcommand)]
    Env(envcap::EnvCommand),
    /// Run the berth daemon in the foreground
    Daemon(DaemonArgs),
}

/// Container commands reachable both as `berth X` and `berth container X`.
#[derive(Debug, Subcommand)]
pub enum ContainerOp {
    /// Run a command in a new container
    #[command(
        disable_help_flag = true,
        override_usage = "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"
    )]
    Run(run::RunArgs),
    /// Create a new container
    #[command(
        disable_help_flag = true,
        override_usage = "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]"
    )]
    Create(run::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// Stop one or more running containers
    Stop(containers::StopArgs),
    /// Kill one or more running containers
    Kill(containers::KillArgs),
    /// Restart one or more containers
    Restart(containers::StopArgs),
    /// Fetch the logs of a container
    Logs(containers::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(containers::WaitArgs),
    /// Rename a container
    Rename(containers::RenameArgs),
    /// Create a new image from a container's changes
    Commit(commit::CommitArgs),
    /// Display the running processes of a container
    Top(containers::TopArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(containers::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(cp::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::AttachArgs),
    /// Run a command in a running container
    #[command(override_usage = "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]")]
    Exec(exec::ExecArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Update configuration of one or more containers
    Update(update::UpdateArgs),
    /// Pause all processes within one or more containers
    Pause(update::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(update::PauseArgs),
    /// List port mappings or a specific mapping for the container
    Port(update::PortArgs),
}

/// `berth container ...`.
// Parsed once per process: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// The commands shared with the top level.
    #[command(flatten)]
    Op(ContainerOp),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(containers::RmArgs),
    /// List containers
    #[command(aliases = ["ps", "list"])]
    Ls(ps::PsArgs),
    /// Display detailed information on one or more containers
    Inspect(inspect::InspectArgs),
    /// Remove all stopped containers
    Prune(containers::PruneArgs),
}

/// Image commands reachable both as `berth X` and `berth image X`.
#[derive(Debug, Subcommand)]
pub enum ImageOp {
    /// Build an image from a Dockerfile
    #[command(override_usage = "berth build [OPTIONS] PATH | URL | -")]
    Build(build::BuildArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(images::ImportArgs),
    /// Load an image from a tar archive or STDIN
    Load(images::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(images::SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Pull an image or a repository from a registry
    #[command(override_usage = "berth pull [OPTIONS] NAME[:TAG|@DIGEST]")]
    Pull(registry::PullArgs),
    /// Push an image or a repository to a registry
    #[command(override_usage = "berth push [OPTIONS] NAME[:TAG]")]
    Push(registry::PushArgs),
}

/// `berth image ...`.
// Parsed once per process: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(aliases = ["list", "images"])]
    Ls(images::ImagesArgs),
    /// The commands shared with the top level.
    #[command(flatten)]
    Op(ImageOp),
    /// Remove one or more images
    #[command(aliases = ["remove", "rmi"])]
    Rm(images::RmiArgs),
    /// Display detailed information on one or more images
    Inspect(inspect::InspectArgs),
    /// Remove unused images
    Prune(images::ImagePruneArgs),
}

/// `berth system ...`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Display system-wide information
    Info(system::FormatArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
}

/// `berth daemon`.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Daemon socket to listen on
    #[arg(short = 'H', long = "host", value_name = "unix:///path")]
    pub host: Option<String>,
    /// Root directory of persistent state
    #[arg(
        long = "data-root",
        default_value = "/var/lib/berth",
        value_name = "string"
    )]
    pub data_root: PathBuf,
    /// Root directory for execution state files
    #[arg(
        long = "exec-root",
        default_value = "/run/berth",
        value_name = "string"
    )]
    pub exec_root: PathBuf,
    /// Set the logging level
    #[arg(short = 'l', long = "log-level", value_name = "string")]
    pub log_level: Option<String>,
}

/// Whether a flag token (without `=value`) consumes the next argument.
fn takes_value(cmd: &clap::Command, tok: &str) -> bool {
    let has = |a: &clap::Arg| a.get_action().takes_values();
    if let Some(long) = tok.strip_prefix("--") {
        return cmd
            .get_arguments()
            .find(|a| {
                a.get_long() == Some(long)
                    || a.get_all_aliases().is_some_and(|al| al.contains(&long))
            })
            .is_some_and(has);
    }
    let shorts: Vec<char> = tok.chars().skip(1).collect();
    for (i, ch) in shorts.iter().enumerate() {
        match cmd.get_arguments().find(|a| a.get_short() == Some(*ch)) {
            Some(a) if has(a) => return i == shorts.len() - 1,
            Some(_) => continue,
            None => return false,
        }
    }
    false
}

/// Walk the arguments to the subcommand; returns its path and the index of
/// its first positional argument.
fn command_path(root: &clap::Command, args: &[String]) -> (Vec<String>, Option<usize>) {
    let mut cmd = root;
    let mut path = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let tok = &args[i];
        if tok == "--" {
            return (path, None);
        }
        if tok.starts_with('-') && tok.len() > 1 {
            if !tok.contains('=') && takes_value(cmd, tok) {
                i += 1;
            }
            i += 1;
            continue;
        }
        match cmd.find_subcommand(tok) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub;
                i += 1;
            }
            None => return (path, Some(i)),
        }
    }
    (path, None)
}

/// Docker stops parsing flags after the image of `run`/`create` (and the
/// container of `top`): insert `--` there so the command's own flags reach
/// it untouched.
fn protect_trailing_args(root: &clap::Command, mut args: Vec<String>) -> Vec<String> {
    let (path, first) = command_path(root, &args);
    if let (Some(last), Some(i)) = (path.last(), first) {
        if matches!(last.as_str(), "run" | "create" | "top" | "exec") && i < args.len() {
            args.insert(i + 1, "--".into());
        }
    }
    args
}

/// How many arguments docker says a command requires.
fn arity_phrase(cmd: &str) -> &'static str {
    match cmd {
        "rename" | "tag" | "cp" | "connect" | "disconnect" => "exactly 2 arguments",
        "logs" | "diff" | "export" | "commit" | "history" | "build" | "pull" | "push"
        | "search" | "capture" | "show" => "exactly 1 argument",
        "login" | "logout" => "at most 1 argument",
        _ => "at least 1 argument",
    }
}

/// Commands whose wrong argument count docker reports as a plain error (exit 1).
fn plain_arity_error(cmd: &str) -> bool {
    matches!(
        cmd,
        "build" | "pull" | "push" | "search" | "login" | "logout"
    )
}

/// Turn a clap error into docker's wording and exit status.
fn usage_error(root: &mut clap::Command, err: clap::Error, args: &[String]) -> i32 {
    let (path, _) = command_path(root, args);
    let cmd_path = std::iter::once("berth".to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let see = format!("See '{cmd_path} --help'.");
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            0
        }
        ErrorKind::UnknownArgument => {
            let flag = match err.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let flag = flag.split('=').next().unwrap_or("").to_string();
            let last = path.last().map(String::as_str).unwrap_or("");
            if !flag.starts_with('-') && !flag.is_empty() && plain_arity_error(last) {
                // An extra positional argument: docker's argument-count error.
                return arity_error(root, &path, &cmd_path, &see, last);
            }
            if flag.starts_with("--") || flag.is_empty() {
                eprintln!("unknown flag: {flag}\n{see}");
            } else {
                let c = flag.trim_start_matches('-').chars().next().unwrap_or('?');
                eprintln!("unknown shorthand flag: '{c}' in {flag}\n{see}");
            }
            125
        }
        ErrorKind::InvalidSubcommand => {
            let sub = match err.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            if path.is_empty() {
                eprintln!("berth: '{sub}' is not a berth command.\nSee 'berth --help'");
            } else {
                eprintln!("{cmd_path}: '{sub}' is not a {cmd_path} command.\n{see}");
            }
            1
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::TooFewValues
        | ErrorKind::WrongNumberOfValues
        | ErrorKind::MissingSubcommand => {
            let last = path.last().map(String::as_str).unwrap_or("");
            arity_error(root, &path, &cmd_path, &see, last)
        }
        _ => {
            let text = err.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            eprintln!("{first}\n{see}");
            125
        }
    }
}

/// Docker's "requires N arguments" error with the command's usage.
fn arity_error(
    root: &clap::Command,
    path: &[String],
    cmd_path: &str,
    see: &str,
    last: &str,
) -> i32 {
    let mut sub = root;
    for p in path {
        if let Some(s) = sub.find_subcommand(p) {
            sub = s;
        }
    }
    let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
    let usage = sub.clone().bin_name(cmd_path).render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ").trim();
    eprintln!(
        "\"{cmd_path}\" requires {}.\n{see}\n\nUsage:  {usage}\n\n{about}",
        arity_phrase(last)
    );
    // docker's argument-count errors are plain errors (exit 1).
    if plain_arity_error(last) {
        1
    } else {
        125
    }
}

/// Parse `filter` flags (`key=value`).
pub fn filters_from(values: &[String]) -> CliResult<Filters> {
    let mut f = Filters::new();
    for v in values {
        let Some((k, val)) = v.split_once('=') else {
            return Err(CliError::status(
                125,
                format!("invalid argument \"{v}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"),
            ));
        };
        f.entry(k.trim().to_lowercase())
            .or_default()
            .push(val.to_string());
    }
    Ok(f)
}

/// Entry point of every non-shim invocation; returns the exit status.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut root = Cli::command();
    let args = protect_trailing_args(&root, args);
    let matches = match root.try_get_matches_from_mut(&args) {
        Ok(m) => m,
        Err(e) => return usage_error(&mut root, e, &args),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return usage_error(&mut root, e, &args),
    };
    if cli.version {
        println!("berth version {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let Some(command) = cli.command else {
        let _ = root.print_help();
        return 0;
    };
    let host = cli
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    if let Command::Daemon(d) = command {
        let opts = crate::daemon_cmd::DaemonOptions {
            host: d.host.unwrap_or(host),
            data_root: d.data_root,
            exec_root: d.exec_root,
            log_level: d.log_level.unwrap_or(cli.log_level),
        };
        return match crate::daemon_cmd::run(opts) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("berth daemon: {e:#}");
                1
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(dispatch(&host, command)) {
        Ok(()) => 0,
        Err(e) => {
            let text = e.to_string();
            if !text.is_empty() {
                eprintln!("{text}");
            }
            e.code()
        }
    }
}

async fn client(host: &str) -> CliResult<Client> {
    connect::connect(host, true).await
}

/// `run`/`create` report connection failures docker-style, with 125.
async fn client_for_run(host: &str, cmd: &str) -> CliResult<Client> {
    client(host).await.map_err(|e| {
        CliError::status(
            125,
            format!(
                "berth: {}.\nSee 'berth {cmd} --help'.",
                e.to_string().trim_end_matches('.')
            ),
        )
    })
}

async fn dispatch(host: &str, command: Command) -> CliResult {
    use inspect::Kind;
    match command {
        Command::ContainerOp(op) | Command::Container(ContainerCommand::Op(op)) => {
            container_op(host, op).await
        }
        Command::ImageOp(op) | Command::Image(ImageCommand::Op(op)) => {
            image_op(&client(host).await?, op).await
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => {
            containers::rm(&client(host).await?, &a).await
        }
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => {
            ps::ps(&client(host).await?, &a).await
        }
        Command::Inspect(a) => inspect::inspect(&client(host).await?, &a, Kind::Any).await,
        Command::Container(ContainerCommand::Inspect(a)) => {
            inspect::inspect(&client(host).await?, &a, Kind::Container).await
        }
        Command::Image(ImageCommand::Inspect(a)) => {
            inspect::inspect(&client(host).await?, &a, Kind::Image).await
        }
        Command::Container(ContainerCommand::Prune(a)) => {
            containers::prune(&client(host).await?, &a).await
        }
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => {
            images::images(&client(host).await?, &a).await
        }
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => {
            images::rmi(&client(host).await?, &a).await
        }
        Command::Image(ImageCommand::Prune(a)) => images::prune(&client(host).await?, &a).await,
        Command::Version(a) => system::version(client(host).await, &a).await,
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => {
            system::info(client(host).await, &a).await
        }
        Command::Events(a) | Command::System(SystemCommand::Events(a)) => {
            events::events(&client(host).await?, &a).await
        }
        Command::Login(a) => registry::login(&client(host).await?, &a).await,
        Command::Logout(a) => registry::logout(&a),
        Command::Search(a) => registry::search(&client(host).await?, &a).await,
        Command::Network(n) => n.run(&client(host).await?).await,
        Command::Volume(v) => v.run(&client(host).await?).await,
        Command::Compose(c) => c.run(host).await,
        Command::Env(e) => e.run(&client(host).await?).await,
        Command::Daemon(_) => Err(CliError::msg("daemon is handled before dispatch")),
    }
}

async fn container_op(host: &str, op: ContainerOp) -> CliResult {
    match op {
        ContainerOp::Run(a) => run::run(&client_for_run(host, "run").await?, &a).await,
        ContainerOp::Create(a) => run::create(&client_for_run(host, "create").await?, &a).await,
        ContainerOp::Start(a) => containers::start(&client(host).await?, &a).await,
        ContainerOp::Stop(a) => containers::stop(&client(host).await?, &a).await,
        ContainerOp::Kill(a) => containers::kill(&client(host).await?, &a).await,
        ContainerOp::Restart(a) => containers::restart(&client(host).await?, &a).await,
        ContainerOp::Logs(a) => containers::logs(&client(host).await?, &a).await,
        ContainerOp::Wait(a) => containers::wait(&client(host).await?, &a).await,
        ContainerOp::Rename(a) => containers::rename(&client(host).await?, &a).await,
        ContainerOp::Commit(a) => commit::commit(&client(host).await?, &a).await,
        ContainerOp::Top(a) => containers::top(&client(host).await?, &a).await,
        ContainerOp::Diff(a) => containers::diff(&client(host).await?, &a).await,
        ContainerOp::Export(a) => cp::export(&client(host).await?, &a).await,
        ContainerOp::Cp(a) => cp::cp(&client(host).await?, &a).await,
        ContainerOp::Attach(a) => attach::attach(&client(host).await?, &a).await,
        ContainerOp::Exec(a) => exec::exec(&client(host).await?, &a).await,
        ContainerOp::Stats(a) => stats::stats(&client(host).await?, &a).await,
        ContainerOp::Update(a) => update::update(&client(host).await?, &a).await,
        ContainerOp::Pause(a) => update::pause(&client(host).await?, &a, true).await,
        ContainerOp::Unpause(a) => update::pause(&client(host).await?, &a, false).await,
        ContainerOp::Port(a) => update::port(&client(host).await?, &a).await,
    }
}

async fn image_op(client: &Client, op: ImageOp) -> CliResult {
    match op {
        ImageOp::Build(a) => build::build(client, &a).await,
        ImageOp::Import(a) => images::import(client, &a).await,
        ImageOp::Load(a) => images::load(client, &a).await,
        ImageOp::Save(a) => images::save(client, &a).await,
        ImageOp::Tag(a) => images::tag(client, &a).await,
        ImageOp::History(a) => images::history(client, &a).await,
        ImageOp::Pull(a) => registry::pull(client, &a).await,
        ImageOp::Push(a) => registry::push(client, &a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn separator_goes_after_the_image() {
        let root = Cli::command();
        assert_eq!(
            protect_trailing_args(
                &root,
                argv("berth -H unix:///x run --rm -e A=1 -it img sh -c -x")
            ),
            argv("berth -H unix:///x run --rm -e A=1 -it img -- sh -c -x")
        );
        assert_eq!(
            protect_trailing_args(&root, argv("berth container run --name=x img --help")),
            argv("berth container run --name=x img -- --help")
        );
        assert_eq!(
            protect_trailing_args(&root, argv("berth ps -a")),
            argv("berth ps -a")
        );
    }

    #[test]
    fn run_args_parse_like_docker() {
        let cli = Cli::try_parse_from(protect_trailing_args(
            &Cli::command(),
            argv("berth run -d --rm --name web -e A=1 -l k=v --restart no img echo -n hi"),
        ))
        .unwrap();
        let Some(Command::ContainerOp(ContainerOp::Run(r))) = cli.command else {
            panic!("not run")
        };
        assert!(r.detach);
        assert!(r.opts.rm);
        assert_eq!(r.opts.name.as_deref(), Some("web"));
        assert_eq!(r.opts.image, "img");
        assert_eq!(r.opts.command, argv("echo -n hi"));
    }

    #[test]
    fn filters_parse() {
        let f = filters_from(&argv("status=exited name=web status=created")).unwrap();
        assert_eq!(f["status"], argv("exited created"));
        assert!(filters_from(&argv("bogus")).is_err());
    }

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
