//! Check, before starting the container, that its command can be executed,
//! producing the messages Docker (runc) gives, which the CLI maps to exit
//! codes 127 ("executable file not found", "no such file or directory") and
//! 126 ("permission denied").

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::rootpath::resolve_in_root;

/// Docker's default `PATH` when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

enum Probe {
    Missing,
    NotExecutable,
    Ok,
}

fn probe(root: &Path, path: &Path) -> Probe {
    let Ok(host) = resolve_in_root(root, path) else {
        return Probe::Missing;
    };
    match std::fs::metadata(&host) {
        Err(_) => Probe::Missing,
        Ok(md) if md.is_dir() => Probe::NotExecutable,
        Ok(md) if md.permissions().mode() & 0o111 == 0 => Probe::NotExecutable,
        Ok(_) => Probe::Ok,
    }
}

/// Verify that `cmd` (argv\[0\]) resolves to an executable inside `root`,
/// searching `PATH` from `env` when `cmd` has no `/`; `cwd` anchors relative paths.
pub fn check_executable(root: &Path, cmd: &str, env: &[String], cwd: &str) -> Result<(), String> {
    if cmd.is_empty() {
        return Err("exec: \"\": executable file not found in $PATH".to_string());
    }
    if cmd.contains('/') {
        let full = Path::new(if cwd.is_empty() { "/" } else { cwd }).join(cmd);
        return match probe(root, &full) {
            Probe::Ok => Ok(()),
            Probe::Missing => Err(format!(
                "exec: \"{cmd}\": stat {cmd}: no such file or directory"
            )),
            Probe::NotExecutable => Err(format!("exec: \"{cmd}\": permission denied")),
        };
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let base = Path::new(if cwd.is_empty() { "/" } else { cwd }).join(dir);
        if let Probe::Ok = probe(root, &base.join(cmd)) {
            return Ok(());
        }
    }
    Err(format!(
        "exec: \"{cmd}\": executable file not found in $PATH"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn messages_like_docker() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            root.join("bin/tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(root.join("bin/data"), "x").unwrap();
        symlink("/bin/tool", root.join("bin/link")).unwrap();
        let env = vec!["PATH=/usr/bin:/bin".to_string()];
        assert!(check_executable(root, "tool", &env, "/").is_ok());
        assert!(check_executable(root, "link", &env, "/").is_ok());
        assert!(check_executable(root, "/bin/tool", &env, "").is_ok());
        assert!(check_executable(root, "../bin/tool", &env, "/bin").is_ok());
        assert_eq!(
            check_executable(root, "nosuch", &env, "/").unwrap_err(),
            "exec: \"nosuch\": executable file not found in $PATH"
        );
        assert_eq!(
            check_executable(root, "data", &env, "/").unwrap_err(),
            "exec: \"data\": executable file not found in $PATH"
        );
        assert_eq!(
            check_executable(root, "/nosuch", &env, "/").unwrap_err(),
            "exec: \"/nosuch\": stat /nosuch: no such file or directory"
        );
        assert_eq!(
            check_executable(root, "/bin/data", &env, "/").unwrap_err(),
            "exec: \"/bin/data\": permission denied"
        );
        assert_eq!(
            check_executable(root, "/bin", &env, "/").unwrap_err(),
            "exec: \"/bin\": permission denied"
        );
        // No PATH in env: Docker's default is used.
        assert!(check_executable(root, "tool", &[], "/").is_ok());
    }
}
