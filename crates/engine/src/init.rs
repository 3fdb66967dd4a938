//! `HostConfig.Init` (`--init`): a small static init bind-mounted read-only
//! at Docker's path `/sbin/docker-init` and run as PID 1 with the
//! container's command after `--` (it reaps zombies and forwards signals).

use std::path::{Path, PathBuf};

use berth_runtime::{ContainerSpec, MountKind, MountSpec};

/// Where the init appears inside the container (Docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Static init binaries tried, in order, after `berth-init` beside the berth executable.
const HOST_INITS: &[&str] = &[
    "/usr/libexec/berth/berth-init",
    "/usr/libexec/docker/docker-init",
    "/usr/sbin/docker-init",
    "/usr/bin/docker-init",
    "/usr/bin/tini-static",
];

/// The init binary to bind-mount, if one is installed.
pub fn find_init(berth_exe: &Path) -> Option<PathBuf> {
    let beside = berth_exe.parent().map(|d| d.join("berth-init"));
    beside
        .into_iter()
        .chain(HOST_INITS.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// Make `spec` run under the init when `init` is set.
pub(crate) fn apply(spec: &mut ContainerSpec, init: bool, berth_exe: &Path) {
    if !init {
        return;
    }
    let Some(bin) = find_init(berth_exe) else {
        tracing::warn!("--init asked but no static init binary is installed; running without it");
        return;
    };
    spec.mounts.push(MountSpec {
        source: bin,
        destination: INIT_PATH.to_string(),
        kind: MountKind::Bind,
        options: vec!["bind".into(), "ro".into()],
    });
    let mut args = vec![INIT_PATH.to_string(), "--".to_string()];
    args.append(&mut spec.args);
    spec.args = args;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_wraps_the_command() {
        let mut spec = ContainerSpec {
            args: vec!["sleep".into(), "1".into()],
            ..ContainerSpec::default()
        };
        apply(&mut spec, false, Path::new("/nonexistent/berth"));
        assert_eq!(spec.args, vec!["sleep", "1"]);
        if find_init(Path::new("/nonexistent/berth")).is_some() {
            apply(&mut spec, true, Path::new("/nonexistent/berth"));
            assert_eq!(spec.args, vec![INIT_PATH, "--", "sleep", "1"]);
            assert_eq!(spec.mounts.last().unwrap().destination, INIT_PATH);
        }
    }
}
