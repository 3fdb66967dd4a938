//! The container's seccomp filter, compiled once and cached as BPF.
//!
//! libcontainer compiles the OCI seccomp profile with libseccomp inside every
//! container's init process, which costs milliseconds of CPU per container
//! start (Docker's default profile, two architectures). The shim instead
//! compiles the profile the way libcontainer does (same translation of
//! actions, operators and architectures), caches the BPF program under
//! `<exec-root>/seccomp/<sha256>.bpf` (the key covers the profile, the
//! libseccomp version and the target), and the container's init loads the
//! program itself right before `execve` (see `shim::start`).

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use sha2::{Digest, Sha256};

use crate::atomic::Durability;

/// Sub-directory of the exec root holding compiled filters.
pub const SECCOMP_CACHE_DIR: &str = "seccomp";

/// Size of one BPF instruction (`struct sock_filter`).
const INSN_SIZE: usize = 8;

/// A compiled seccomp filter: the instructions of a `struct sock_fprog`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpfProgram(Vec<libc::sock_filter>);

impl BpfProgram {
    /// Parse the raw bytes libseccomp exports (native-endian `sock_filter`s).
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || !bytes.chunks_exact(INSN_SIZE).remainder().is_empty() {
            return None;
        }
        let insns: Vec<libc::sock_filter> = bytes
            .chunks_exact(INSN_SIZE)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        // BPF programs hold at most BPF_MAXINSNS (4096) instructions.
        (insns.len() <= 4096).then_some(BpfProgram(insns))
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the program is empty (never true for a parsed program).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Install the filter on the calling thread (`seccomp(2)`,
    /// `SECCOMP_SET_MODE_FILTER`, no flags, as libseccomp's load does with
    /// libcontainer's attributes). Needs CAP_SYS_ADMIN or no_new_privs.
    pub fn install(&self) -> Result<(), nix::errno::Errno> {
        let len = u16::try_from(self.0.len()).map_err(|_| nix::errno::Errno::E2BIG)?;
        let prog = libc::sock_fprog {
            len,
            filter: self.0.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at `len` initialised instructions owned by
        // `self`, alive for the whole call; the kernel copies the program and
        // keeps no pointer to it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(nix::errno::Errno::last());
        }
        Ok(())
    }
}

/// Why a profile could not be compiled here (the caller then leaves it to libcontainer).
#[derive(Debug)]
pub struct Unsupported(pub String);

fn arch(a: Arch) -> Result<ScmpArch, Unsupported> {
    Ok(match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        other => return Err(Unsupported(format!("architecture {other:?}"))),
    })
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, Unsupported> {
    let errno = errno.map(|e| e as i32).unwrap_or(libc::EPERM);
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        other => return Err(Unsupported(format!("action {other:?}"))),
    })
}

/// libcontainer 0.7's reading of an operator (MASKED_EQ: mask = valueTwo).
fn op(o: LinuxSeccompOperator, value_two: Option<u64>) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value_two.unwrap_or(0)),
    }
}

/// Build the libseccomp filter of `profile` exactly as libcontainer 0.7 does
/// (redundant rules skipped, unknown syscalls skipped, no_new_privs left alone).
fn build(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, Unsupported> {
    if profile.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Unsupported("seccomp flags".into()));
    }
    let lib = |e: libseccomp::error::SeccompError| Unsupported(format!("libseccomp: {e}"));
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib)?;
    for a in profile.architectures().iter().flatten() {
        ctx.add_arch(arch(*a)?).map_err(lib)?;
    }
    ctx.set_ctl_nnp(false).map_err(lib)?;
    for rule in profile.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            match rule.args() {
                Some(args) => {
                    let cmps: Vec<ScmpArgCompare> = args
                        .iter()
                        .map(|a| {
                            ScmpArgCompare::new(
                                a.index() as u32,
                                op(a.op(), a.value_two()),
                                a.value(),
                            )
                        })
                        .collect();
                    let mut seen = std::collections::HashSet::new();
                    if args.iter().all(|a| seen.insert(a.index())) {
                        ctx.add_rule_conditional(act, sc, &cmps).map_err(lib)?;
                    } else {
                        for c in &cmps {
                            ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                                .map_err(lib)?;
                        }
                    }
                }
                None => {
                    ctx.add_rule(act, sc).map_err(lib)?;
                }
            }
        }
    }
    Ok(ctx)
}

/// The cache file of `profile` under `cache_dir`.
fn cache_path(profile: &LinuxSeccomp, cache_dir: &Path) -> Result<PathBuf, Unsupported> {
    let json = serde_json::to_vec(profile).map_err(|e| Unsupported(e.to_string()))?;
    let version = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .map_err(|e| Unsupported(format!("libseccomp version: {e}")))?;
    let mut h = Sha256::new();
    h.update(b"berth-seccomp-v1\0");
    h.update(std::env::consts::ARCH.as_bytes());
    h.update(b"\0");
    h.update(version.as_bytes());
    h.update(b"\0");
    h.update(&json);
    Ok(cache_dir.join(format!("{}.bpf", hex::encode(h.finalize()))))
}

/// The compiled BPF of `profile`, from the cache under `cache_dir` or
/// compiled (and cached with an atomic write, so a reader never sees a partial
/// program; a file of the wrong size is recompiled).
pub fn compiled(profile: &LinuxSeccomp, cache_dir: &Path) -> Result<BpfProgram, Unsupported> {
    let path = cache_path(profile, cache_dir)?;
    if let Some(p) = std::fs::read(&path)
        .ok()
        .and_then(|b| BpfProgram::from_bytes(&b))
    {
        return Ok(p);
    }
    let bytes = export(&build(profile)?)?;
    let prog = BpfProgram::from_bytes(&bytes)
        .ok_or_else(|| Unsupported(format!("bad program of {} bytes", bytes.len())))?;
    std::fs::create_dir_all(cache_dir).map_err(|e| Unsupported(format!("mkdir: {e}")))?;
    crate::atomic::write_file(&path, &bytes, Durability::Atomic)
        .map_err(|e| Unsupported(e.to_string()))?;
    Ok(prog)
}

/// The raw BPF of `ctx` (libseccomp 2.5 exports only to a file descriptor:
/// an anonymous memory file).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, Unsupported> {
    let fd = memfd_create(c"berth-seccomp", MemFdCreateFlag::MFD_CLOEXEC)
        .map_err(|e| Unsupported(format!("memfd_create: {e}")))?;
    ctx.export_bpf(fd.as_fd())
        .map_err(|e| Unsupported(format!("export: {e}")))?;
    let mut f = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_end(&mut bytes))
        .map_err(|e| Unsupported(format!("read exported program: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> LinuxSeccomp {
        let caps = vec!["CAP_CHOWN".to_string()];
        serde_json::from_value(crate::seccomp::default_profile(&caps)).unwrap()
    }

    #[test]
    fn compiles_and_caches_the_default_profile() {
        let dir = tempfile::tempdir().unwrap();
        let p = profile();
        let a = compiled(&p, dir.path()).unwrap();
        assert!(a.len() > 100, "{} instructions", a.len());
        // The second call reads the cache (one file, same program).
        let b = compiled(&p, dir.path()).unwrap();
        assert_eq!(a, b);
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
        // A corrupt cache file is recompiled.
        let path = cache_path(&p, dir.path()).unwrap();
        std::fs::write(&path, b"xyz").unwrap();
        assert_eq!(compiled(&p, dir.path()).unwrap(), a);
        // Another profile gets another file.
        let other: LinuxSeccomp = serde_json::from_value(crate::seccomp::default_profile(&[
            "CAP_SYS_ADMIN".to_string(),
        ]))
        .unwrap();
        assert_ne!(cache_path(&other, dir.path()).unwrap(), path);
    }

    #[test]
    fn rejects_malformed_programs() {
        assert!(BpfProgram::from_bytes(&[]).is_none());
        assert!(BpfProgram::from_bytes(&[0; 12]).is_none());
        assert_eq!(BpfProgram::from_bytes(&[0; 16]).map(|p| p.len()), Some(2));
    }
}
