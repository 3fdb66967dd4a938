//! `berth build`: send a build context to `POST /build` (the classic
//! builder) and print its output as the docker CLI does.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use berth_client::{channel_body, full_body, BuildOptions, Client, JsonMessage, ReqBody};
use berth_spec::reference::Reference;
use berth_spec::units::human_size;
use bytes::Bytes;
use clap::Args;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

use super::buildctx::{
    dockerfile_tar, is_archive, random_dockerfile_name, read_ignore, write_context, ContextSpec,
};
use super::error::{CliError, CliResult};
use super::output::{go_error, out};
use super::progress::{DisplayError, Renderer};

/// `berth build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag", value_name = "list")]
    pub tag: Vec<String>,
    /// Name of the Dockerfile (Default is "PATH/Dockerfile")
    #[arg(short = 'f', long = "file", value_name = "string")]
    pub file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "list")]
    pub build_arg: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long, value_name = "string")]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set metadata for an image
    #[arg(long, value_name = "list")]
    pub label: Vec<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long, default_value = "default", value_name = "string")]
    pub network: String,
    /// Write the image ID to the file
    #[arg(long, value_name = "string")]
    pub iidfile: Option<String>,
    /// Remove intermediate containers after a successful build
    #[arg(long, default_value = "true", value_name = "bool", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rm: String,
    /// Always remove intermediate containers
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Images to consider as cache sources (accepted, ignored)
    #[arg(long = "cache-from", value_name = "strings", hide = true)]
    pub cache_from: Vec<String>,
    /// Type of progress output (BuildKit's; accepted, ignored by the classic builder)
    #[arg(long, value_name = "string", hide = true)]
    pub progress: Option<String>,
    /// Compress the build context using gzip (accepted; the context goes over a local socket)
    #[arg(long, hide = true)]
    pub compress: bool,
    /// Set platform if server is multi-platform capable (accepted, ignored)
    #[arg(long, value_name = "string", hide = true)]
    pub platform: Option<String>,
    /// The build context: a directory, or - to read a tar archive or a Dockerfile from stdin
    #[arg(value_name = "PATH | URL | -")]
    pub context: String,
}

/// Docker's `--build-arg`: `K=V`, or `K` taking its value from the
/// environment (null when unset).
pub fn parse_build_args(
    values: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> CliResult<BTreeMap<String, Option<String>>> {
    let mut out = BTreeMap::new();
    for v in values {
        let (k, val) = match v.split_once('=') {
            Some((k, val)) => (k, Some(val.to_string())),
            None => (v.as_str(), env(v)),
        };
        if k.is_empty() {
            return Err(CliError::msg(format!(
                "invalid argument \"{v}\" for \"--build-arg\" flag: invalid environment variable: {v}"
            )));
        }
        out.insert(k.to_string(), val);
    }
    // BuildKit's convention, which berth's builder follows: SOURCE_DATE_EPOCH
    // from the environment unless given explicitly.
    if !out.contains_key("SOURCE_DATE_EPOCH") {
        if let Some(epoch) = env("SOURCE_DATE_EPOCH").filter(|e| !e.is_empty()) {
            out.insert("SOURCE_DATE_EPOCH".into(), Some(epoch));
        }
    }
    Ok(out)
}

/// `--label K=V` (a bare `K` is an empty label).
fn parse_labels(values: &[String]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) => (k.to_string(), val.to_string()),
            None => (v.clone(), String::new()),
        })
        .collect()
}

fn parse_bool(flag: &str, v: &str) -> CliResult<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => Err(CliError::status(
            125,
            format!("invalid argument \"{v}\" for \"--{flag}\" flag: strconv.ParseBool: parsing \"{v}\": invalid syntax"),
        )),
    }
}

fn prepare_err(msg: impl std::fmt::Display) -> CliError {
    CliError::msg(format!("unable to prepare context: {msg}"))
}

/// Resolve the context directory (absolute, symlinks evaluated).
fn context_dir(path: &str) -> CliResult<PathBuf> {
    let abs = std::path::absolute(path).map_err(prepare_err)?;
    let real =
        std::fs::canonicalize(&abs).map_err(|_| prepare_err(format!("path {path:?} not found")))?;
    if !real.is_dir() {
        return Err(prepare_err(format!(
            "context must be a directory: {}",
            abs.display()
        )));
    }
    Ok(real)
}

/// Where the Dockerfile is: `-f` is relative to the current directory (as in
/// the docker CLI); the default is `Dockerfile` (or `dockerfile`) in the context.
/// Returns its path relative to the context, or its contents when it lies outside.
fn locate_dockerfile(ctx: &Path, file: Option<&str>) -> CliResult<Result<String, Vec<u8>>> {
    let given = match file {
        Some(f) if !f.is_empty() => std::path::absolute(f).map_err(prepare_err)?,
        _ => {
            let upper = ctx.join("Dockerfile");
            let lower = ctx.join("dockerfile");
            if std::fs::symlink_metadata(&upper).is_err()
                && std::fs::symlink_metadata(&lower).is_ok()
            {
                lower
            } else {
                upper
            }
        }
    };
    let real = std::fs::canonicalize(&given).map_err(|e| {
        // Go's EvalSymlinks names the first component that fails.
        let failed = given
            .ancestors()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find(|p| std::fs::symlink_metadata(p).is_err())
            .unwrap_or(&given);
        prepare_err(format!(
            "unable to evaluate symlinks in Dockerfile path: lstat {}: {}",
            failed.display(),
            go_error(&e)
        ))
    })?;
    match real.strip_prefix(ctx) {
        Ok(rel) if !rel.as_os_str().is_empty() => Ok(Ok(rel.to_string_lossy().replace('\\', "/"))),
        _ => std::fs::read(&real)
            .map(Err)
            .map_err(|e| prepare_err(format!("{}: {}", real.display(), go_error(&e)))),
    }
}

/// Validate `-t` values as the docker CLI does.
fn check_tags(tags: &[String]) -> CliResult<()> {
    for t in tags {
        Reference::parse_normalized(t).map_err(|e| {
            CliError::status(
                125,
                format!("invalid argument \"{t}\" for \"-t, --tag\" flag: {e}\nSee 'berth build --help'."),
            )
        })?;
    }
    Ok(())
}

/// Upload progress shared with the thread producing the body.
struct Upload {
    sent: Arc<AtomicU64>,
    done: oneshot::Receiver<Result<(), String>>,
}

/// A `Write` that feeds the request body channel and counts bytes.
struct BodyWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    sent: Arc<AtomicU64>,
}

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "upload ended"))?;
        self.sent.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Start writing the context of `spec` on a thread of its own (never held
/// in memory whole); returns the request body and the upload's progress.
fn spawn_context(spec: ContextSpec) -> (ReqBody, Upload) {
    let (tx, rx) = mpsc::channel(16);
    let sent = Arc::new(AtomicU64::new(0));
    let (done_tx, done) = oneshot::channel();
    let writer = BodyWriter {
        tx: tx.clone(),
        sent: sent.clone(),
    };
    // A plain thread: the process may exit without waiting for it.
    std::thread::spawn(move || {
        let sink = std::io::BufWriter::with_capacity(256 * 1024, writer);
        let res = write_context(&spec, sink).map_err(|e| e.to_string());
        if let Err(e) = &res {
            let _ = tx.blocking_send(Err(std::io::Error::other(e.clone())));
        }
        drop(tx);
        let _ = done_tx.send(res);
    });
    (channel_body(rx), Upload { sent, done })
}

/// Stdin as the context: an archive is passed through (counting bytes); a
/// bare Dockerfile is wrapped in a tar as `Dockerfile`, as the docker CLI does.
/// The flag is true when stdin held a bare Dockerfile.
async fn stdin_body() -> CliResult<(ReqBody, Upload, bool)> {
    let mut stdin = tokio::io::stdin();
    let mut head = Vec::with_capacity(1024);
    while head.len() < 1024 {
        let mut buf = vec![0u8; 1024 - head.len()];
        let n = stdin
            .read(&mut buf)
            .await
            .map_err(|e| CliError::io("read the build context from stdin", e))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let (tx, rx) = mpsc::channel(16);
    let sent = Arc::new(AtomicU64::new(0));
    let (done_tx, done) = oneshot::channel();
    if !is_archive(&head) {
        stdin
            .read_to_end(&mut head)
            .await
            .map_err(|e| CliError::io("read the Dockerfile from stdin", e))?;
        let tar = dockerfile_tar(&head)?;
        sent.store(tar.len() as u64, Ordering::Relaxed);
        let _ = done_tx.send(Ok(()));
        return Ok((full_body(tar), Upload { sent, done }, true));
    }
    let counter = sent.clone();
    counter.store(head.len() as u64, Ordering::Relaxed);
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(head))).await.is_err() {
            let _ = done_tx.send(Ok(()));
            return;
        }
        let mut buf = vec![0u8; 256 * 1024];
        let res = loop {
            match stdin.read(&mut buf).await {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                    if tx
                        .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        break Ok(());
                    }
                }
                Err(e) => {
                    let msg = format!("read the build context from stdin: {e}");
                    let _ = tx.send(Err(std::io::Error::other(msg.clone()))).await;
                    break Err(msg);
                }
            }
        };
        drop(tx);
        let _ = done_tx.send(res);
    });
    Ok((channel_body(rx), Upload { sent, done }, false))
}

/// `berth build`.
pub async fn build(client: &Client, args: &BuildArgs) -> CliResult {
    let remove = parse_bool("rm", &args.rm)?;
    check_tags(&args.tag)?;
    let env = |k: &str| std::env::var(k).ok();
    let build_args = parse_build_args(&args.build_arg, &env)?;
    let file_from_stdin = args.file.as_deref() == Some("-");
    if args.context.contains("://") || args.context.starts_with("git@") {
        return Err(prepare_err(format!(
            "remote build contexts are not supported by berth yet: {}",
            args.context
        )));
    }
    let (body, dockerfile, upload) = if args.context == "-" {
        if file_from_stdin {
            return Err(CliError::msg(
                "invalid argument: can't use stdin for both build context and dockerfile",
            ));
        }
        let (body, upload, bare) = stdin_body().await?;
        // A bare Dockerfile is the context's `Dockerfile`, whatever -f says (as in docker).
        let name = if bare {
            String::new()
        } else {
            args.file.clone().unwrap_or_default()
        };
        (body, name, upload)
    } else {
        let dir = context_dir(&args.context)?;
        let (rel, extra) = if file_from_stdin {
            let mut data = Vec::new();
            tokio::io::stdin()
                .read_to_end(&mut data)
                .await
                .map_err(|e| CliError::io("read the Dockerfile from stdin", e))?;
            let name = random_dockerfile_name();
            (name.clone(), Some((name, data)))
        } else {
            match locate_dockerfile(&dir, args.file.as_deref())? {
                Ok(rel) => (rel, None),
                Err(data) => {
                    let name = random_dockerfile_name();
                    (name.clone(), Some((name, data)))
                }
            }
        };
        let (ignore, _) = read_ignore(&dir)?;
        let spec = ContextSpec {
            dir,
            dockerfile: rel.clone(),
            ignore,
            extra,
        };
        let (body, upload) = spawn_context(spec);
        (body, rel, upload)
    };
    if let Some(f) = &args.iidfile {
        if let Err(e) = std::fs::remove_file(f) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(CliError::msg(format!(
                    "Removing image ID file: remove {f}: {}",
                    go_error(&e)
                )));
            }
        }
    }
    let opts = BuildOptions {
        tags: args.tag.clone(),
        dockerfile,
        build_args,
        labels: parse_labels(&args.label),
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        quiet: args.quiet,
        remove,
        force_remove: args.force_rm,
        network_mode: args.network.clone(),
    };
    let Upload { sent, done } = upload;
    // On a terminal, show the upload growing (docker's progress line).
    let ticker = (!args.quiet && std::io::stdout().is_terminal()).then(|| {
        let sent = sent.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let n = sent.load(Ordering::Relaxed);
                let _ = out(&format!(
                    "Sending build context to Docker daemon  {}\r",
                    human_size(n, 4)
                ));
            }
        })
    });
    let stream = client.image_build(body, &opts).await;
    if let Some(t) = ticker {
        t.abort();
    }
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            // A failure producing the context explains a broken upload best.
            if let Ok(Err(msg)) = done.await {
                return Err(CliError::msg(msg));
            }
            return Err(e.into());
        }
    };
    // The daemon has read the whole context before it answers; report its size.
    let upload_result = done.await.unwrap_or(Ok(()));
    if let Err(msg) = upload_result {
        return Err(CliError::msg(msg));
    }
    let progress = format!(
        "Sending build context to Docker daemon  {}\r\r\n",
        human_size(sent.load(Ordering::Relaxed), 4)
    );
    // In quiet mode everything is kept and shown (on stderr) only on failure.
    let mut held = String::new();
    if args.quiet {
        held.push_str(&progress);
    } else {
        out(&progress)?;
    }
    let mut image_id = String::new();
    // Docker draws the build's messages with its progress display: the
    // pull of a FROM image (`--pull`) gets layer lines and bars on a terminal.
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let width =
        super::term::window_size(std::os::fd::AsFd::as_fd(&stdout)).map(|(_, cols)| cols as usize);
    let mut renderer = Renderer::new(stdout, tty, width);
    loop {
        let msg = match stream.next().await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                flush_held(args.quiet, &held);
                return Err(e.into());
            }
        };
        if let Some(fail) = &msg.error {
            flush_held(args.quiet, &held);
            let code = if fail.code == 0 { 1 } else { fail.code };
            return Err(CliError::status(
                i32::try_from(code).unwrap_or(1),
                fail.message.clone(),
            ));
        }
        if let Some(id) = msg.image_id() {
            image_id = id.to_string();
        }
        if !args.quiet {
            let jm = JsonMessage {
                stream: msg.stream.clone(),
                status: msg.status.clone(),
                id: msg.id.clone(),
                progress: msg.progress.clone(),
                progress_detail: msg.progress_detail.clone(),
                ..Default::default()
            };
            match renderer.show(&jm) {
                Ok(()) => {}
                Err(DisplayError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(CliError::msg(e.to_string())),
            }
            continue;
        }
        let mut text = String::new();
        if let Some(s) = &msg.stream {
            text.push_str(s);
        } else if let Some(s) = &msg.status {
            if let Some(id) = msg.id.as_deref().filter(|i| !i.is_empty()) {
                text.push_str(&format!("{id}: "));
            }
            text.push_str(s);
            if let Some(p) = msg.progress.as_deref().filter(|p| !p.is_empty()) {
                text.push_str(&format!(" {p}"));
            }
            text.push('\n');
        }
        held.push_str(&text);
    }
    if args.quiet {
        // The daemon's quiet answer is the ID as a stream message.
        let printed = held
            .strip_prefix(&progress)
            .unwrap_or(&held)
            .trim()
            .to_string();
        if image_id.is_empty() && printed.starts_with("sha256:") {
            image_id = printed.clone();
        }
        out(&format!("{printed}\n"))?;
    }
    if let Some(f) = &args.iidfile {
        if image_id.is_empty() {
            return Err(CliError::msg(format!(
                "Server did not provide an image ID. Cannot write {f}"
            )));
        }
        let contents = if args.quiet {
            format!("{image_id}\n")
        } else {
            image_id.clone()
        };
        std::fs::write(f, contents).map_err(|e| {
            CliError::msg(format!(
                "Failed to write image ID to file: open {f}: {}",
                go_error(&e)
            ))
        })?;
    }
    Ok(())
}

fn flush_held(quiet: bool, held: &str) {
    if quiet && !held.is_empty() {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(held.as_bytes());
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_like_docker() {
        let env = |k: &str| match k {
            "FROM_ENV" => Some("e".to_string()),
            "SOURCE_DATE_EPOCH" => Some("0".to_string()),
            _ => None,
        };
        let args: Vec<String> = ["A=1", "B=", "FROM_ENV", "UNSET", "C=x=y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = parse_build_args(&args, &env).unwrap();
        assert_eq!(m["A"].as_deref(), Some("1"));
        assert_eq!(m["B"].as_deref(), Some(""));
        assert_eq!(m["FROM_ENV"].as_deref(), Some("e"));
        assert_eq!(m["UNSET"], None);
        assert_eq!(m["C"].as_deref(), Some("x=y"));
        assert_eq!(m["SOURCE_DATE_EPOCH"].as_deref(), Some("0"));
        let explicit = parse_build_args(&["SOURCE_DATE_EPOCH=5".to_string()], &env).unwrap();
        assert_eq!(explicit["SOURCE_DATE_EPOCH"].as_deref(), Some("5"));
        assert!(parse_build_args(&["=x".to_string()], &env).is_err());
    }

    #[test]
    fn labels_and_bools() {
        let l = parse_labels(&["a=b".to_string(), "c".to_string()]);
        assert_eq!(l["a"], "b");
        assert_eq!(l["c"], "");
        assert!(parse_bool("rm", "true").unwrap());
        assert!(!parse_bool("rm", "false").unwrap());
        assert!(parse_bool("rm", "maybe").is_err());
    }

    #[test]
    fn dockerfile_location() {
        let d = tempfile::tempdir().unwrap();
        let ctx = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir(ctx.join("ctx")).unwrap();
        let c = ctx.join("ctx");
        let missing = c.join("nodir/Dockerfile");
        let e = locate_dockerfile(&c, missing.to_str())
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("/ctx/nodir: no such file or directory"), "{e}");
        let e = locate_dockerfile(&c, None).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat "
            ),
            "{e}"
        );
        assert!(
            e.ends_with("/ctx/Dockerfile: no such file or directory"),
            "{e}"
        );
        std::fs::write(c.join("dockerfile"), "FROM a").unwrap();
        assert_eq!(
            locate_dockerfile(&c, None).unwrap(),
            Ok("dockerfile".into())
        );
        std::fs::create_dir(c.join("sub")).unwrap();
        std::fs::write(c.join("sub/Df"), "FROM b").unwrap();
        let p = c.join("sub/Df");
        assert_eq!(
            locate_dockerfile(&c, p.to_str()).unwrap(),
            Ok("sub/Df".into())
        );
        std::fs::write(ctx.join("outside"), "FROM c").unwrap();
        let p = ctx.join("outside");
        assert_eq!(
            locate_dockerfile(&c, p.to_str()).unwrap(),
            Err(b"FROM c".to_vec())
        );
        let e = context_dir("/nonexistent/berth/ctx")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "unable to prepare context: path \"/nonexistent/berth/ctx\" not found"
        );
    }
}
