//! Shim phase 1: mount, resolve the user, generate the OCI spec, create and
//! start the container, record `state.json` and report readiness.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use chrono::Utc;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::errno::Errno;

use crate::attach::AttachOptions;
use crate::cgroup;
use crate::control::{release_resources, Readiness, RUNTIME_STATE_DIR};
use crate::error::RuntimeError;
use crate::mount::mount_rootfs;
use crate::oci::{generate, HostFacts};
use crate::rootpath::{read_in_root, resolve_in_root};
use crate::seccomp_bpf::{BpfProgram, SECCOMP_CACHE_DIR};
use crate::spec::{ContainerSpec, NetworkMode};
use crate::state::{write_state, ShimState};
use crate::user::resolve_user;

use super::exec_check::{check_executable, DEFAULT_PATH};
use super::relay::ProcessIo;
use super::stdio::{listen_attach, Stdio};

/// Sub-directory of the container directory holding the OCI bundle.
pub const BUNDLE_DIR: &str = "bundle";

/// What the monitor needs once the container runs.
pub struct Started {
    /// The libcontainer container (for delete).
    pub container: Container,
    /// The container directory.
    pub container_dir: PathBuf,
    /// The rootfs mount point.
    pub rootfs_target: PathBuf,
    /// Cgroup path (for the OOM counter).
    pub cgroup_path: String,
    /// Host PID of the container's init.
    pub init_pid: i32,
    /// The shim's ends of the container's stdio.
    pub io: ProcessIo,
    /// The listening `attach.sock`.
    pub listener: Option<(UnixListener, PathBuf)>,
    /// Clients attached before the start.
    pub clients: Vec<(UnixStream, AttachOptions)>,
    /// `stdin_once`.
    pub stdin_once: bool,
    /// json-file log path.
    pub log_path: PathBuf,
}

/// The container's seccomp filter, precompiled, for the init to install
/// itself (instead of libcontainer compiling the profile in every init).
#[derive(Clone)]
pub(super) struct SeccompLoad {
    program: BpfProgram,
    /// CAP_SYS_ADMIN was added to the permitted set only to install the
    /// filter: drop it again before the program runs.
    drop_sys_admin: bool,
}

impl SeccompLoad {
    /// Install the filter: raise CAP_SYS_ADMIN (kept in the permitted set for
    /// this) into the effective set, load the program, then drop the
    /// capability again if the container does not have it. The program's
    /// capabilities are computed at `execve` from the bounding, inheritable and
    /// ambient sets, which never held it.
    fn install(&self) -> Result<(), String> {
        use caps::{CapSet, Capability};
        caps::raise(None, CapSet::Effective, Capability::CAP_SYS_ADMIN)
            .map_err(|e| format!("raise CAP_SYS_ADMIN: {e}"))?;
        self.program
            .install()
            .map_err(|e| format!("load seccomp filter: {e}"))?;
        if self.drop_sys_admin {
            for set in [CapSet::Effective, CapSet::Permitted] {
                caps::drop(None, set, Capability::CAP_SYS_ADMIN)
                    .map_err(|e| format!("drop CAP_SYS_ADMIN: {e}"))?;
            }
        }
        Ok(())
    }
}

/// Take the seccomp profile out of `oci` and return it compiled (cached under
/// `<exec_root>/seccomp`), keeping CAP_SYS_ADMIN in the init's permitted set
/// so that it can install the filter right before `execve`, as late as
/// libcontainer would with no_new_privs. When the profile cannot be compiled
/// here, `oci` is left alone and libcontainer applies it.
pub(super) fn take_seccomp(
    oci: &mut oci_spec::runtime::Spec,
    exec_root: &Path,
) -> Option<SeccompLoad> {
    use oci_spec::runtime::Capability;
    let profile = oci.linux().as_ref()?.seccomp().as_ref()?;
    let nnp = oci.process().as_ref().and_then(|p| p.no_new_privileges());
    if nnp.is_some() {
        // libcontainer then loads it late itself; keep its behaviour.
        return None;
    }
    let program = match crate::seccomp_bpf::compiled(profile, &exec_root.join(SECCOMP_CACHE_DIR)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("berth shim: seccomp left to libcontainer: {}", e.0);
            return None;
        }
    };
    let process = oci.process_mut().as_mut()?;
    let mut caps = process.capabilities().clone()?;
    let mut permitted = caps.permitted().clone().unwrap_or_default();
    let drop_sys_admin = permitted.insert(Capability::SysAdmin);
    caps.set_permitted(Some(permitted));
    process.set_capabilities(Some(caps));
    oci.linux_mut().as_mut()?.set_seccomp(None);
    Some(SeccompLoad {
        program,
        drop_sys_admin,
    })
}

/// libcontainer's default executor without its own PATH validation (the shim
/// validates before creating the container, with Docker's messages); installs
/// the precompiled seccomp filter first.
#[derive(Clone)]
pub(super) struct ValidatedExecutor {
    seccomp: Option<SeccompLoad>,
}

impl ValidatedExecutor {
    /// An executor installing `seccomp` (when given) before the program.
    pub(super) fn new(seccomp: Option<SeccompLoad>) -> Self {
        ValidatedExecutor { seccomp }
    }
}

impl Executor for ValidatedExecutor {
    /// Runs in the container's init, in its root, right before the program:
    /// like `execvp` but without glibc's fallback of running a file that is not
    /// a valid executable through `/bin/sh` (runc, hence Docker, does not do it).
    fn exec(&self, spec: &oci_spec::runtime::Spec) -> Result<(), ExecutorError> {
        if let Some(seccomp) = &self.seccomp {
            // Never run the program without its filter.
            if let Err(msg) = seccomp.install() {
                let msg = format!("berth: {msg}\n");
                let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
                std::process::exit(1)
            }
        }
        let args = spec
            .process()
            .as_ref()
            .and_then(|p| p.args().as_ref())
            .ok_or(ExecutorError::InvalidArg)?;
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| ExecutorError::InvalidArg))
            .collect::<Result<_, _>>()?;
        let cmd = args.first().ok_or(ExecutorError::InvalidArg)?;
        let candidates: Vec<String> = if cmd.contains('/') {
            vec![cmd.clone()]
        } else {
            let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
            path.split(':')
                .map(|d| if d.is_empty() { "." } else { d })
                .map(|d| format!("{d}/{cmd}"))
                .collect()
        };
        let mut last = Errno::ENOENT;
        for candidate in candidates {
            let Ok(c) = CString::new(candidate) else {
                continue;
            };
            // execv only returns on failure.
            let Err(e) = nix::unistd::execv(&c, &cargs);
            last = e;
            if !matches!(e, Errno::ENOENT | Errno::ENOTDIR | Errno::EACCES) {
                break;
            }
        }
        let msg = format!("exec user process caused: {}\n", last.desc().to_lowercase());
        let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
        // As with runc in Docker 20.10, the container then exits with code 1.
        std::process::exit(1)
    }

    fn validate(&self, _spec: &oci_spec::runtime::Spec) -> Result<(), ExecutorValidationError> {
        Ok(())
    }
}

/// Write the readiness line to stdout (the pipe `spawn_shim` reads), then point
/// stdout at /dev/null so later writes cannot block or fail.
/// Whether the daemon's end of the pipe was still open (a write to a pipe nobody reads fails
/// with EPIPE: SIGPIPE is ignored).
fn report(r: &Readiness) -> bool {
    let mut line = serde_json::to_string(r).unwrap_or_else(|_| {
        "{\"failed\":{\"message\":\"shim: cannot encode readiness\"}}".to_string()
    });
    line.push('\n');
    let mut out = std::io::stdout().lock();
    let delivered = out
        .write_all(line.as_bytes())
        .and_then(|_| out.flush())
        .is_ok();
    drop(out);
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
    delivered
}

/// Report that the process runs; false when the daemon that asked is gone.
pub(super) fn report_started(
    shim_pid: i32,
    init_pid: i32,
    started_at: chrono::DateTime<Utc>,
) -> bool {
    report(&Readiness::Started {
        shim_pid,
        init_pid,
        started_at,
    })
}

/// Report a failure to start (also logged to the shim's stderr).
pub fn report_failure(message: &str) {
    eprintln!("berth shim: {message}");
    let _ = report(&Readiness::Failed {
        message: message.to_string(),
    });
}

/// Phase 1; on error everything done so far is undone.
pub fn start(
    container_dir: &Path,
    exec_root: &Path,
    client: Option<(UnixStream, AttachOptions)>,
) -> Result<Started, RuntimeError> {
    let spec = ContainerSpec::load(container_dir)?;
    if spec.id.is_empty() || !crate::rootpath::is_plain_name(spec.id.as_ref()) {
        return Err(RuntimeError::Spec(format!(
            "invalid container id {:?}",
            spec.id
        )));
    }
    mount_rootfs(&spec.rootfs)?;
    match create_and_start(&spec, container_dir, exec_root, client) {
        Ok(s) => Ok(s),
        Err(e) => {
            let state_dir = exec_root.join(RUNTIME_STATE_DIR).join(&spec.id);
            if let Ok(mut c) = Container::load(state_dir) {
                let _ = c.delete(true);
            }
            release_resources(
                &spec.id,
                &spec.cgroup_parent,
                &spec.rootfs.target,
                exec_root,
            );
            Err(e)
        }
    }
}

fn create_and_start(
    spec: &ContainerSpec,
    container_dir: &Path,
    exec_root: &Path,
    client: Option<(UnixStream, AttachOptions)>,
) -> Result<Started, RuntimeError> {
    let root = &spec.rootfs.target;
    let passwd = read_in_root(root, "/etc/passwd")
        .map_err(|e| RuntimeError::io("read", "/etc/passwd", e))?;
    let group =
        read_in_root(root, "/etc/group").map_err(|e| RuntimeError::io("read", "/etc/group", e))?;
    let mut user = resolve_user(&spec.user, passwd.as_deref(), group.as_deref())?;
    crate::user::add_groups(&mut user, &spec.group_add, group.as_deref())?;
    drop((passwd, group));

    // Docker creates a missing working directory.
    if !spec.cwd.is_empty() && spec.cwd != "/" {
        let host = resolve_in_root(root, Path::new(&spec.cwd))
            .map_err(|e| RuntimeError::io("resolve", &spec.cwd, e))?;
        std::fs::create_dir_all(&host).map_err(|e| RuntimeError::io("mkdir", &spec.cwd, e))?;
    }
    // A command bind-mounted into the container (`--init`) exists only once mounted.
    if !spec.mounts.iter().any(|m| m.destination == spec.args[0]) {
        check_executable(root, &spec.args[0], &spec.env, &spec.cwd).map_err(RuntimeError::Start)?;
    }

    let host = HostFacts::current();
    let cgroup_path = cgroup::cgroup_path(&spec.cgroup_parent, &spec.id);
    if !spec.privileged {
        crate::cgroupfs::prepare(&host.cgroup_v1, &cgroup_path)
            .map_err(|e| RuntimeError::io("mkdir", &cgroup_path, e))?;
    }
    let mut oci = generate(spec, &user, &host)?;
    let seccomp = take_seccomp(&mut oci, exec_root);
    let bundle = container_dir.join(BUNDLE_DIR);
    std::fs::create_dir_all(&bundle).map_err(|e| RuntimeError::io("mkdir", &bundle, e))?;
    oci.save(bundle.join("config.json"))
        .map_err(|e| RuntimeError::Spec(format!("write config.json: {e}")))?;
    drop(oci);

    let state_root = exec_root.join(RUNTIME_STATE_DIR);
    std::fs::create_dir_all(&state_root).map_err(|e| RuntimeError::io("mkdir", &state_root, e))?;
    // A stale state dir (from a shim killed mid-way) would make the build fail.
    let _ = std::fs::remove_dir_all(state_root.join(&spec.id));

    let mut stdio = Stdio::new(container_dir, spec.open_stdin, spec.tty, spec.console_size)?;
    let listener = listen_attach(container_dir)?;
    let builder = ContainerBuilder::new(spec.id.clone(), SyscallType::default())
        .with_root_path(&state_root)
        .map_err(|e| RuntimeError::Start(e.to_string()))?
        .with_executor(ValidatedExecutor { seccomp });
    let mut container = stdio
        .apply(builder)
        .as_init(&bundle)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(|e| RuntimeError::Start(format!("{e}")))?;
    let created_pid = container
        .pid()
        .ok_or_else(|| RuntimeError::Shim("container has no pid after create".into()))?
        .as_raw();
    crate::cgroupfs::join_named(&host.cgroup_v1, &cgroup_path, created_pid);
    if spec.network == NetworkMode::None {
        super::netns::loopback_up(created_pid)?;
    }
    // With a TTY the init sent its pty master during the creation.
    let io = stdio.into_io()?;
    container
        .start()
        .map_err(|e| RuntimeError::Start(format!("{e}")))?;
    let init_pid = container
        .pid()
        .map(|p| p.as_raw())
        .ok_or_else(|| RuntimeError::Shim("container has no pid after start".into()))?;
    let started_at = Utc::now();
    let shim_pid = std::process::id() as i32;
    write_state(
        container_dir,
        &ShimState {
            id: spec.id.clone(),
            container_dir: container_dir.to_path_buf(),
            shim_pid,
            init_pid,
            started_at,
        },
    )?;
    // The start counts once the daemon heard of it, or once a restarted daemon finds
    // `state.json` (written above). A daemon killed in between may already have scanned the
    // containers without seeing it: nobody would ever know this container runs, so undo it.
    if !report_started(shim_pid, init_pid, started_at) {
        let _ = std::fs::remove_file(container_dir.join(crate::state::STATE_FILE));
        return Err(RuntimeError::Shim(
            "the daemon went away before the start was recorded".into(),
        ));
    }
    Ok(Started {
        container,
        container_dir: container_dir.to_path_buf(),
        rootfs_target: spec.rootfs.target.clone(),
        cgroup_path,
        init_pid,
        io,
        listener: Some(listener),
        clients: client.into_iter().collect(),
        stdin_once: spec.stdin_once,
        log_path: spec.log_path.clone(),
    })
}
