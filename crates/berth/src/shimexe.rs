//! The executable the daemon starts shims from: a read-only bind mount of the berth binary.
//!
//! A shim is the berth binary, and so is every process it forks to enter a container (exec,
//! health probes) until that process executes the user's program. A container that could open
//! such a process's `/proc/PID/exe` for writing would overwrite the host's berth binary
//! (CVE-2019-5736). runc defends by copying itself into a sealed memfd at every start; berth
//! binds its binary once, read-only, under the exec root, and starts shims from there: the
//! `/proc/PID/exe` of a shim then resolves through a read-only mount and any write fails with
//! EROFS, at the cost of one mount per daemon start instead of a copy per container.

use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// Binds `exe` read-only at `<exec_root>/bin/berth` (replacing an earlier bind, which shims
/// still running from it keep alive) and returns that path.
pub fn read_only_exe(exec_root: &Path, exe: &Path) -> anyhow::Result<PathBuf> {
    let dir = exec_root.join("bin");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let target = dir.join("berth");
    // An earlier daemon's bind (perhaps of an older binary): detach it; nothing else is
    // mounted on this path.
    let _ = umount2(&target, MntFlags::MNT_DETACH);
    if !target.exists() {
        std::fs::File::create(&target).with_context(|| format!("creating {}", target.display()))?;
    }
    mount(
        Some(exe),
        &target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("binding {} at {}", exe.display(), target.display()))?;
    mount(
        None::<&str>,
        &target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .with_context(|| format!("making {} read-only", target.display()))?;
    Ok(target)
}

/// Detaches the bind made by [`read_only_exe`] when the daemon stops: shims still running from
/// it keep it alive until they exit; the next daemon binds it again.
pub fn release(target: &Path) {
    let _ = umount2(target, MntFlags::MNT_DETACH);
}
