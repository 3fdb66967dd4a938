//! The exec shim (`berth shim exec <container dir> <exec root> <exec dir>`):
//! run an [`ExecSpec`] in the running container (directly, see
//! [`super::direct`], or with libcontainer's tenant builder when that path is
//! switched off or cannot be used), relay its stdio, record its exit in the
//! exec directory.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use chrono::Utc;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::attach::AttachOptions;
use crate::control::RUNTIME_STATE_DIR;
use crate::error::RuntimeError;
use crate::exec::ExecSpec;
use crate::oci::{generate, HostFacts};
use crate::rootpath::{read_in_root, resolve_in_root};
use crate::spec::ContainerSpec;
use crate::state::{exit_code_of, read_state, write_state, ExitInfo, ShimState};
use crate::user::resolve_user;

use super::direct;
use super::exec_check::check_executable;
use super::relay::{pidfd, ProcessIo, Relay, RelayConfig};
use super::start::{report_started, take_seccomp, ValidatedExecutor};
use super::stdio::{listen_attach, Stdio};

/// A started exec.
pub struct ExecStarted {
    exec_dir: PathBuf,
    pid: i32,
    io: ProcessIo,
    listener: (UnixListener, PathBuf),
    clients: Vec<(UnixStream, AttachOptions)>,
}

/// Start the exec; on success the process runs and readiness was reported.
pub fn start(
    container_dir: &Path,
    exec_root: &Path,
    exec_dir: &Path,
    client: Option<(UnixStream, AttachOptions)>,
) -> Result<ExecStarted, RuntimeError> {
    let cspec = ContainerSpec::load(container_dir)?;
    let espec = ExecSpec::load(exec_dir)?;
    if espec.args.is_empty() {
        return Err(RuntimeError::Spec("no command specified".into()));
    }
    let state = read_state(container_dir)?
        .ok_or_else(|| RuntimeError::Start(format!("container {} is not running", cspec.id)))?;
    // The container's own view of its root, volumes included.
    let root = PathBuf::from(format!("/proc/{}/root", state.init_pid));
    let user_arg = if espec.user.is_empty() {
        &cspec.user
    } else {
        &espec.user
    };
    let passwd = read_in_root(&root, "/etc/passwd")
        .map_err(|e| RuntimeError::io("read", "/etc/passwd", e))?;
    let group =
        read_in_root(&root, "/etc/group").map_err(|e| RuntimeError::io("read", "/etc/group", e))?;
    let user = resolve_user(user_arg, passwd.as_deref(), group.as_deref())?;
    let cwd = match (espec.cwd.as_str(), cspec.cwd.as_str()) {
        ("", "") => "/".to_string(),
        ("", c) => c.to_string(),
        (c, _) => c.to_string(),
    };
    let cwd_ok = resolve_in_root(&root, Path::new(&cwd)).is_ok_and(|p| p.is_dir());
    if !cwd_ok {
        return Err(RuntimeError::Start(format!(
            "chdir to cwd (\"{cwd}\") set in config.json failed: no such file or directory"
        )));
    }
    check_executable(&root, &espec.args[0], &espec.env, &cwd).map_err(RuntimeError::Start)?;

    // The container's process settings (capabilities, rlimits, seccomp) with
    // the exec's command, environment, directory and terminal.
    let mut as_container = cspec.clone();
    as_container.args = espec.args.clone();
    as_container.env = espec.env.clone();
    as_container.cwd = cwd;
    as_container.tty = espec.tty;
    as_container.privileged = cspec.privileged || espec.privileged;
    let mut oci = generate(&as_container, &user, &HostFacts::current())?;
    if let Some(plan) = direct_plan(&oci, exec_root, state.init_pid, &espec)? {
        let listener = listen_attach(exec_dir)?;
        let (pid, io) = if espec.tty {
            direct::spawn(&plan, None, None, espec.open_stdin)?
        } else {
            let mut stdio = Stdio::new(exec_dir, espec.open_stdin, false, None)?;
            let ends = stdio.take_process_ends();
            let shim_io = stdio.into_io()?;
            direct::spawn(&plan, ends, Some(shim_io), espec.open_stdin)?
        };
        return finish_start(exec_dir, &espec, pid, io, listener, client);
    }
    let seccomp = take_seccomp(&mut oci, exec_root);
    let (pid, io) = libcontainer_spawn(oci, seccomp, &cspec, exec_root, exec_dir, &espec)?;
    let listener = listen_attach(exec_dir)?;
    finish_start(exec_dir, &espec, pid, io, listener, client)
}

/// The direct path's plan, or `None` when it is switched off or cannot be
/// used (the seccomp profile cannot be precompiled, ...).
fn direct_plan(
    oci: &oci_spec::runtime::Spec,
    exec_root: &Path,
    init_pid: i32,
    espec: &ExecSpec,
) -> Result<Option<direct::Plan>, RuntimeError> {
    if !direct::enabled() {
        return Ok(None);
    }
    let Some(process) = oci.process().as_ref() else {
        return Ok(None);
    };
    let seccomp = match oci.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        None => None,
        Some(profile) => match crate::seccomp_bpf::compiled(
            profile,
            &exec_root.join(crate::seccomp_bpf::SECCOMP_CACHE_DIR),
        ) {
            Ok(p) => Some(p),
            Err(_) => return Ok(None),
        },
    };
    direct::Plan::new(direct::PlanInput {
        init_pid,
        process,
        seccomp,
        tty: espec.tty.then_some(espec.console_size),
    })
}

/// Start the process with libcontainer's tenant builder.
fn libcontainer_spawn(
    oci: oci_spec::runtime::Spec,
    seccomp: Option<super::start::SeccompLoad>,
    cspec: &ContainerSpec,
    exec_root: &Path,
    exec_dir: &Path,
    espec: &ExecSpec,
) -> Result<(i32, ProcessIo), RuntimeError> {
    let process = oci
        .process()
        .clone()
        .ok_or_else(|| RuntimeError::Spec("no process".into()))?;
    let process_path = exec_dir.join("process.json");
    let bytes = serde_json::to_vec(&process).map_err(|e| RuntimeError::Json {
        path: process_path.clone(),
        source: e,
    })?;
    crate::atomic::write_file(&process_path, &bytes, crate::atomic::Durability::Atomic)?;

    let mut stdio = Stdio::new(exec_dir, espec.open_stdin, espec.tty, espec.console_size)?;
    let builder = ContainerBuilder::new(cspec.id.clone(), SyscallType::default())
        .with_root_path(exec_root.join(RUNTIME_STATE_DIR))
        .map_err(|e| RuntimeError::Start(e.to_string()))?
        .with_executor(ValidatedExecutor::new(seccomp));
    let pid = stdio
        .apply(builder)
        .as_tenant()
        .with_process(Some(&process_path))
        .with_detach(true)
        .build()
        .map_err(|e| RuntimeError::Start(format!("{e}")))?
        .as_raw();
    let io = stdio.into_io()?;
    Ok((pid, io))
}

/// Record `state.json`, report readiness.
fn finish_start(
    exec_dir: &Path,
    espec: &ExecSpec,
    pid: i32,
    io: ProcessIo,
    listener: (UnixListener, PathBuf),
    client: Option<(UnixStream, AttachOptions)>,
) -> Result<ExecStarted, RuntimeError> {
    let started_at = Utc::now();
    let shim_pid = std::process::id() as i32;
    write_state(
        exec_dir,
        &ShimState {
            id: espec.id.clone(),
            container_dir: exec_dir.to_path_buf(),
            shim_pid,
            init_pid: pid,
            started_at,
        },
    )?;
    // An exec nobody waits for any more still runs to its end (as with Docker).
    let _ = report_started(shim_pid, pid, started_at);
    Ok(ExecStarted {
        exec_dir: exec_dir.to_path_buf(),
        pid,
        io,
        listener,
        clients: client.into_iter().collect(),
    })
}

/// Relay until the process exits, reap it, write `exit.json`; returns the
/// shim's exit code.
pub fn supervise(started: ExecStarted) -> i32 {
    let ExecStarted {
        exec_dir,
        pid,
        io,
        listener,
        clients,
    } = started;
    let mut relay = Relay::new(RelayConfig {
        listener: Some(listener),
        clients,
        io,
        // docker exec -i: stdin ends with the attached client.
        stdin_once: true,
        log: None,
        pidfd: pidfd(pid),
        oom: None,
        idle_hook: None,
    });
    relay.run();
    let exit_code = loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(status) => {
                if let Some(code) = exit_code_of(status) {
                    break code;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("berth shim: waitpid {pid}: {e}");
                break 255;
            }
        }
    };
    let finished_at = Utc::now();
    relay.finish(exit_code);
    while let Ok(status) = waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
    let info = ExitInfo {
        exit_code,
        oom_killed: false,
        finished_at,
    };
    match record_exit(&exec_dir, &info) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth shim: {e}");
            1
        }
    }
}

/// Write `exit.json` atomically without fsync: an exec's record matters only
/// while the container runs, and it is on the latency path of `docker exec`.
fn record_exit(exec_dir: &Path, info: &ExitInfo) -> Result<(), RuntimeError> {
    let path = exec_dir.join(crate::state::EXIT_FILE);
    let bytes = serde_json::to_vec(info).map_err(|e| RuntimeError::Json {
        path: path.clone(),
        source: e,
    })?;
    crate::atomic::write_file(&path, &bytes, crate::atomic::Durability::Atomic)
}
