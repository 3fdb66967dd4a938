//! The exec shim's direct path: start an exec'd process in a running
//! container without libcontainer's tenant builder.
//!
//! The (single-threaded) shim prepares everything in [`Plan`] (namespace and
//! cgroup descriptors, identity, capabilities, rlimits, seccomp program,
//! argv/envp), joins the container's namespaces other than the mount one
//! itself (harmless for what it does afterwards; the pid namespace applies to
//! its children only), then forks the process: the child joins the
//! container's cgroups and mount namespace, sets up its stdio (pipes, or a pty
//! opened in the container's devpts whose master goes back to the shim over a
//! socketpair), rlimits, seccomp, identity and capabilities, changes to the
//! working directory and executes the command. Errors before `execve` come
//! back over the socketpair, which closes (`O_CLOEXEC`) once it executed.
//!
//! Switch: set `BERTH_EXEC_LIBCONTAINER=1` in the shim's environment to use
//! libcontainer's tenant builder instead (see [`enabled`]).

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

use crate::error::RuntimeError;
use crate::seccomp_bpf::BpfProgram;

use super::exec_check::DEFAULT_PATH;
use super::relay::{set_winsize, ProcessIo};

/// Environment variable selecting libcontainer's tenant builder for exec.
pub const LIBCONTAINER_SWITCH: &str = "BERTH_EXEC_LIBCONTAINER";

/// Whether the direct path is enabled (the default) for this shim.
pub fn enabled() -> bool {
    std::env::var_os(LIBCONTAINER_SWITCH).is_none_or(|v| v.is_empty() || v == "0")
}

/// Namespaces joined, in order (mount last: it changes root and cwd).
const NAMESPACES: [(&str, libc::c_int); 6] = [
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("mnt", libc::CLONE_NEWNS),
];

/// Everything the forked processes need, prepared before forking.
pub struct Plan {
    namespaces: Vec<(OwnedFd, libc::c_int)>,
    cgroup_procs: Vec<File>,
    rlimits: Vec<(nix::sys::resource::Resource, u64, u64)>,
    oom_score_adj: Option<Vec<u8>>,
    uid: u32,
    gid: u32,
    groups: Vec<libc::gid_t>,
    /// Capability mask for the bounding, effective and permitted sets.
    caps: u64,
    last_cap: u32,
    no_new_privs: bool,
    seccomp: Option<BpfProgram>,
    cwd: CString,
    cwd_text: String,
    argv: Vec<CString>,
    envp: Vec<CString>,
    candidates: Vec<CString>,
    tty: Option<Option<(u16, u16)>>,
}

/// What the plan is built from.
pub struct PlanInput<'a> {
    /// Host pid of the container's init.
    pub init_pid: i32,
    /// The OCI process (args, env, cwd, user, capabilities, rlimits).
    pub process: &'a oci_spec::runtime::Process,
    /// The compiled seccomp filter (`None`: no filter).
    pub seccomp: Option<BpfProgram>,
    /// Run on a pty of this initial size.
    pub tty: Option<Option<(u16, u16)>>,
}

fn ns_id(path: &Path) -> Option<std::ffi::OsString> {
    std::fs::read_link(path).ok().map(|p| p.into_os_string())
}

fn cstring(s: impl AsRef<[u8]>, what: &str) -> Result<CString, RuntimeError> {
    CString::new(s.as_ref()).map_err(|_| RuntimeError::Spec(format!("{what} contains a NUL byte")))
}

/// The `cgroup.procs` files of the container's init's cgroups (v1
/// controllers and v2) that differ from this process's, opened for writing.
fn cgroup_files(init_pid: i32) -> Result<Vec<File>, RuntimeError> {
    let path = format!("/proc/{init_pid}/cgroup");
    let text = std::fs::read_to_string(&path).map_err(|e| RuntimeError::io("read", &path, e))?;
    // Where this process already is, its children stay (each write costs a
    // fraction of a millisecond: skip those).
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let ours: Vec<&str> = ours.lines().collect();
    let mut files = Vec::new();
    for line in text.lines() {
        if ours.contains(&line) {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrl), Some(rel)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let base = if ctrl.is_empty() {
            if Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
                "/sys/fs/cgroup/unified".to_string()
            } else if crate::cgroup::is_unified() {
                "/sys/fs/cgroup".to_string()
            } else {
                continue;
            }
        } else {
            let name = ctrl.strip_prefix("name=").unwrap_or(ctrl);
            format!("/sys/fs/cgroup/{name}")
        };
        let procs = format!("{base}{rel}/cgroup.procs");
        if !Path::new(&base).is_dir() {
            continue;
        }
        let f = File::options()
            .write(true)
            .open(&procs)
            .map_err(|e| RuntimeError::io("open", &procs, e))?;
        files.push(f);
    }
    Ok(files)
}

fn cap_mask(caps: Option<&oci_spec::runtime::Capabilities>) -> u64 {
    let mut mask = 0u64;
    for c in caps.into_iter().flatten() {
        let name = c.to_string();
        let name = if name.starts_with("CAP_") {
            name
        } else {
            format!("CAP_{name}")
        };
        if let Ok(cap) = name.parse::<caps::Capability>() {
            mask |= 1u64 << cap.index();
        }
    }
    mask
}

fn rlimit_resource(
    typ: &oci_spec::runtime::PosixRlimitType,
) -> Option<nix::sys::resource::Resource> {
    let name = serde_json::to_value(typ).ok()?;
    let name = name.as_str()?.strip_prefix("RLIMIT_")?.to_ascii_lowercase();
    crate::resources::resource_of(&name)
}

impl Plan {
    /// Prepare the exec; `Ok(None)` when the direct path cannot be used here
    /// (the caller then uses libcontainer).
    pub fn new(input: PlanInput<'_>) -> Result<Option<Plan>, RuntimeError> {
        // fork() below relies on this process being single-threaded.
        let threads = std::fs::read_dir("/proc/self/task")
            .map(|d| d.count())
            .unwrap_or(0);
        if threads != 1 {
            return Ok(None);
        }
        let p = input.process;
        let pid = input.init_pid;
        let mut namespaces = Vec::new();
        for (name, flag) in NAMESPACES {
            let theirs = Path::new("/proc")
                .join(pid.to_string())
                .join("ns")
                .join(name);
            let ours = Path::new("/proc/self/ns").join(name);
            let Some(id) = ns_id(&theirs) else {
                return Err(RuntimeError::Start(format!(
                    "container's init {pid} is gone"
                )));
            };
            if ns_id(&ours).as_ref() == Some(&id) {
                continue;
            }
            let f = File::open(&theirs).map_err(|e| RuntimeError::io("open", &theirs, e))?;
            namespaces.push((OwnedFd::from(f), flag));
        }
        let cgroup_procs = cgroup_files(pid)?;
        let mut rlimits = Vec::new();
        for r in p.rlimits().iter().flatten() {
            let Some(res) = rlimit_resource(&r.typ()) else {
                return Ok(None);
            };
            rlimits.push((res, r.soft(), r.hard()));
        }
        let oom_score_adj = p.oom_score_adj().map(|v| v.to_string().into_bytes());
        let user = p.user();
        let caps = p.capabilities().as_ref();
        let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(40)
            .min(63);
        let args = p
            .args()
            .as_ref()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| RuntimeError::Spec("no command specified".into()))?;
        let argv = args
            .iter()
            .map(|a| cstring(a, "argument"))
            .collect::<Result<Vec<_>, _>>()?;
        let env = p.env().clone().unwrap_or_default();
        let envp = env
            .iter()
            .map(|e| cstring(e, "environment"))
            .collect::<Result<Vec<_>, _>>()?;
        let cmd = &args[0];
        let candidates = if cmd.contains('/') {
            vec![cstring(cmd, "command")?]
        } else {
            let path = env
                .iter()
                .rev()
                .find_map(|e| e.strip_prefix("PATH="))
                .unwrap_or(DEFAULT_PATH);
            path.split(':')
                .map(|d| if d.is_empty() { "." } else { d })
                .map(|d| cstring(format!("{d}/{cmd}"), "command"))
                .collect::<Result<Vec<_>, _>>()?
        };
        let cwd_text = p.cwd().to_string_lossy().into_owned();
        Ok(Some(Plan {
            namespaces,
            cgroup_procs,
            rlimits,
            oom_score_adj,
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            caps: cap_mask(caps.and_then(|c| c.bounding().as_ref())),
            last_cap,
            no_new_privs: p.no_new_privileges().unwrap_or(false),
            seccomp: input.seccomp,
            cwd: cstring(OsStr::as_bytes(p.cwd().as_os_str()), "working directory")?,
            cwd_text,
            argv,
            envp,
            candidates,
            tty: input.tty,
        }))
    }
}

/// Messages on the sync socket.
const MSG_ERR: u8 = b'E';
const MSG_MASTER: u8 = b'M';

fn send_msg(sock: RawFd, kind: u8, body: &[u8]) {
    let mut buf = Vec::with_capacity(1 + body.len());
    buf.push(kind);
    buf.extend_from_slice(body);
    // SAFETY: `buf` is a valid buffer of `buf.len()` bytes for the call.
    unsafe {
        libc::send(sock, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL);
    }
}

/// Report `msg` to the shim and exit (in a forked process).
fn fail(sock: RawFd, msg: &str) -> ! {
    send_msg(sock, MSG_ERR, msg.as_bytes());
    // SAFETY: _exit ends the forked process without running the parent's
    // atexit handlers or destructors; always sound.
    unsafe { libc::_exit(1) }
}

fn check(rc: libc::c_int, sock: RawFd, what: &str) {
    if rc < 0 {
        fail(sock, &format!("{what}: {}", Errno::last()));
    }
}

/// Child stdio when not on a TTY: (stdin, stdout, stderr) of the process.
pub type PipeEnds = (OwnedFd, OwnedFd, OwnedFd);

/// Start the process; returns its host pid and the shim's ends of its stdio
/// (`pipes`: the process's ends of its pipes when not on a TTY, with
/// `shim_io` the shim's ends).
pub fn spawn(
    plan: &Plan,
    pipes: Option<PipeEnds>,
    shim_io: Option<ProcessIo>,
    open_stdin: bool,
) -> Result<(i32, ProcessIo), RuntimeError> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| RuntimeError::sys("socketpair", e))?;
    // The shim itself joins the namespaces other than the mount one: they
    // change nothing it uses (it only relays over descriptors it holds and
    // writes files in the host's mount namespace), and the pid namespace's
    // only effect is that its next child is inside it. One fork then suffices.
    for (fd, flag) in plan
        .namespaces
        .iter()
        .filter(|(_, f)| *f != libc::CLONE_NEWNS)
    {
        // SAFETY: setns on an open namespace descriptor of a kind (not mount,
        // not user) that a multi-threaded process may join too.
        if unsafe { libc::setns(fd.as_raw_fd(), *flag) } < 0 {
            return Err(RuntimeError::sys("setns", Errno::last()));
        }
    }
    let argv: Vec<*const libc::c_char> = plan
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = plan
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: the shim is single-threaded (checked in Plan::new), so the child
    // is an exact copy in a consistent state (no lock held by another thread)
    // and may run ordinary code; it never returns from `child_main`.
    let pid = match unsafe { fork() } {
        Err(e) => return Err(RuntimeError::sys("fork", e)),
        Ok(ForkResult::Child) => {
            drop(ours);
            child_main(plan, pipes.as_ref(), theirs.as_raw_fd(), &argv, &envp)
        }
        Ok(ForkResult::Parent { child }) => child.as_raw(),
    };
    drop(theirs);
    drop(pipes);
    let master = match collect(&ours) {
        Ok(m) => m,
        Err(e) => {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            return Err(e);
        }
    };
    let io = match (master, shim_io) {
        (Some(master), _) => {
            if let Some(Some((rows, cols))) = plan.tty {
                set_winsize(std::os::fd::AsFd::as_fd(&master), rows, cols);
            }
            ProcessIo::Tty {
                master,
                stdin: open_stdin,
            }
        }
        (None, Some(io)) if plan.tty.is_none() => io,
        _ => {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            return Err(RuntimeError::Start("no pty master from the exec".into()));
        }
    };
    Ok((pid, io))
}

/// Read the sync socket until the child closed it (it executed its command,
/// or failed); returns the pty master it sent, if any.
fn collect(sock: &OwnedFd) -> Result<Option<OwnedFd>, RuntimeError> {
    let mut master = None;
    let mut error = None;
    loop {
        let mut data = [0u8; 4096];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut data)];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(RuntimeError::sys("exec sync socket", e)),
        };
        let n = msg.bytes;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for fd in fds {
                        // SAFETY: the kernel just installed this descriptor
                        // for this message; nothing else owns it.
                        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                        if master.is_none() {
                            master = Some(owned);
                        }
                    }
                }
            }
        }
        if n == 0 {
            break;
        }
        if data[0] == MSG_ERR {
            error = Some(String::from_utf8_lossy(&data[1..n]).into_owned());
        }
    }
    match error {
        Some(e) => Err(RuntimeError::Start(e)),
        None => Ok(master),
    }
}

/// The forked child (already in the container's pid namespace): join the
/// cgroups and the mount namespace, then become the process.
fn child_main(
    plan: &Plan,
    pipes: Option<&PipeEnds>,
    sock: RawFd,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    for f in &plan.cgroup_procs {
        // SAFETY: writing 1 byte from a static buffer to an open descriptor.
        let rc = unsafe { libc::write(f.as_raw_fd(), b"0".as_ptr().cast(), 1) };
        if rc < 0 {
            fail(sock, &format!("join cgroup: {}", Errno::last()));
        }
    }
    for (fd, flag) in plan
        .namespaces
        .iter()
        .filter(|(_, f)| *f == libc::CLONE_NEWNS)
    {
        // SAFETY: setns on an open namespace descriptor; this process is a
        // fresh fork of a single-threaded process (it shares no fs_struct),
        // as joining a mount namespace requires. The kernel sets its root
        // and working directory to the namespace's root.
        let rc = unsafe { libc::setns(fd.as_raw_fd(), *flag) };
        check(rc, sock, "setns mnt");
    }
    process(plan, pipes, sock, argv, envp)
}

/// Open a pty in the container's devpts, send the master to the shim and make
/// the slave the controlling terminal and stdio.
fn setup_tty(sock: RawFd, size: Option<(u16, u16)>) {
    // SAFETY: plain syscalls on descriptors this process owns; the path is a
    // NUL-terminated static string.
    unsafe {
        let master = libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        check(master, sock, "open /dev/ptmx");
        let unlock: libc::c_int = 0;
        check(
            libc::ioctl(master, libc::TIOCSPTLCK, &unlock),
            sock,
            "unlockpt",
        );
        let slave = libc::ioctl(master, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY);
        check(slave, sock, "open pty slave");
        if let Some((rows, cols)) = size {
            let ws = libc::winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            libc::ioctl(slave, libc::TIOCSWINSZ, &ws);
        }
        let fds = [master];
        let iov = [std::io::IoSlice::new(&[MSG_MASTER])];
        if sendmsg::<()>(
            sock,
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .is_err()
        {
            fail(sock, "send pty master");
        }
        libc::close(master);
        libc::setsid();
        check(
            libc::ioctl(slave, libc::TIOCSCTTY, 0),
            sock,
            "set controlling tty",
        );
        for target in 0..3 {
            check(libc::dup2(slave, target), sock, "dup2");
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// The exec'd process: stdio, limits, seccomp, identity, capabilities,
/// working directory, execve.
fn process(
    plan: &Plan,
    pipes: Option<&PipeEnds>,
    sock: RawFd,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    match (plan.tty, pipes) {
        (Some(size), _) => setup_tty(sock, size),
        (None, Some((i, o, e))) => {
            // SAFETY: dup2 of open descriptors onto 0..2 (the targets lose
            // O_CLOEXEC, the sources keep it and vanish at execve).
            unsafe {
                libc::setsid();
                check(libc::dup2(i.as_raw_fd(), 0), sock, "dup2");
                check(libc::dup2(o.as_raw_fd(), 1), sock, "dup2");
                check(libc::dup2(e.as_raw_fd(), 2), sock, "dup2");
            }
        }
        (None, None) => fail(sock, "no stdio"),
    }
    if let Some(adj) = &plan.oom_score_adj {
        // Best effort: lowering it needs CAP_SYS_RESOURCE.
        if let Ok(mut f) = File::options().write(true).open("/proc/self/oom_score_adj") {
            let _ = std::io::Write::write_all(&mut f, adj);
        }
    }
    for (res, soft, hard) in &plan.rlimits {
        if let Err(e) = nix::sys::resource::setrlimit(*res, *soft, *hard) {
            fail(sock, &format!("setrlimit {res:?}: {e}"));
        }
    }
    // As runc without no_new_privs: the filter goes in while this process
    // still has CAP_SYS_ADMIN (the program's syscalls below are all allowed
    // by Docker's profile).
    if !plan.no_new_privs {
        if let Some(s) = &plan.seccomp {
            if let Err(e) = s.install() {
                fail(sock, &format!("load seccomp filter: {e}"));
            }
        }
    }
    // SAFETY: plain syscalls with valid arguments on this process only (it is
    // single-threaded, so the raw set*id syscalls change all of its creds).
    unsafe {
        for cap in 0..=plan.last_cap {
            if plan.caps & (1u64 << cap) == 0 {
                check(
                    libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0),
                    sock,
                    "drop bounding capability",
                );
            }
        }
        check(
            libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0),
            sock,
            "keepcaps",
        );
        let rc = libc::syscall(libc::SYS_setgroups, plan.groups.len(), plan.groups.as_ptr())
            as libc::c_int;
        check(rc, sock, "setgroups");
        let rc = libc::syscall(libc::SYS_setresgid, plan.gid, plan.gid, plan.gid) as libc::c_int;
        check(rc, sock, "setgid");
        let rc = libc::syscall(libc::SYS_setresuid, plan.uid, plan.uid, plan.uid) as libc::c_int;
        check(rc, sock, "setuid");
        check(
            libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0),
            sock,
            "keepcaps",
        );
        let header = CapHeader {
            version: CAP_V3,
            pid: 0,
        };
        let lo = (plan.caps & 0xffff_ffff) as u32;
        let hi = (plan.caps >> 32) as u32;
        let data = [
            CapData {
                effective: lo,
                permitted: lo,
                inheritable: 0,
            },
            CapData {
                effective: hi,
                permitted: hi,
                inheritable: 0,
            },
        ];
        let rc = libc::syscall(libc::SYS_capset, &header, data.as_ptr()) as libc::c_int;
        check(rc, sock, "capset");
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        );
        if plan.no_new_privs {
            check(
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
                sock,
                "no_new_privs",
            );
            if let Some(s) = &plan.seccomp {
                if let Err(e) = s.install() {
                    fail(sock, &format!("load seccomp filter: {e}"));
                }
            }
        }
        if libc::chdir(plan.cwd.as_ptr()) < 0 {
            let e = Errno::last();
            fail(
                sock,
                &format!(
                    "chdir to cwd (\"{}\") set in config.json failed: {}",
                    plan.cwd_text,
                    e.desc().to_lowercase()
                ),
            );
        }
        let mut last = Errno::ENOENT;
        for c in &plan.candidates {
            libc::execve(c.as_ptr(), argv.as_ptr(), envp.as_ptr());
            last = Errno::last();
            if !matches!(last, Errno::ENOENT | Errno::ENOTDIR | Errno::EACCES) {
                break;
            }
        }
        let msg = format!("exec user process caused: {}\n", last.desc().to_lowercase());
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_map_to_kernel_bits() {
        let caps: oci_spec::runtime::Capabilities = serde_json::from_value(serde_json::json!([
            "CAP_CHOWN",
            "CAP_NET_BIND_SERVICE",
            "CAP_CHECKPOINT_RESTORE"
        ]))
        .unwrap();
        assert_eq!(cap_mask(Some(&caps)), (1 << 0) | (1 << 10) | (1 << 40));
        assert_eq!(cap_mask(None), 0);
    }

    #[test]
    fn rlimit_types_map_to_resources() {
        let t: oci_spec::runtime::PosixRlimitType =
            serde_json::from_value(serde_json::json!("RLIMIT_NOFILE")).unwrap();
        assert_eq!(
            rlimit_resource(&t),
            Some(nix::sys::resource::Resource::RLIMIT_NOFILE)
        );
        let t: oci_spec::runtime::PosixRlimitType =
            serde_json::from_value(serde_json::json!("RLIMIT_NPROC")).unwrap();
        assert_eq!(
            rlimit_resource(&t),
            Some(nix::sys::resource::Resource::RLIMIT_NPROC)
        );
    }

    #[test]
    fn switch_reads_the_environment_value() {
        // Only the default is checked: setting variables would race other tests.
        if std::env::var_os(LIBCONTAINER_SWITCH).is_none() {
            assert!(enabled());
        }
    }
}
