//! `--chown=user[:group]`: names resolved through the image's /etc/passwd
//! and /etc/group, numbers taken as they are.

use std::path::Path;

use crate::error::{EngineError, Result};

/// Look `name` up in a passwd/group style file: the third field of the
/// line whose first field is `name`.
fn lookup(file: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
    })
}

/// Resolve a `--chown` value against the files of `root` (the image's
/// root filesystem, with symlinks already inside it). A lone user means
/// the group of the same name (or number), as dockerd's classic builder.
pub(crate) fn resolve_chown(spec: &str, root: &Path) -> Result<(u32, u32)> {
    let (user, group) = spec.split_once(':').unwrap_or((spec, spec));
    let etc = |f: &str| -> std::path::PathBuf {
        berth_store::fs::resolve_in_root(root, Path::new(f)).unwrap_or_else(|_| root.join(f))
    };
    let uid = match user.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup(&etc("etc/passwd"), user).ok_or_else(|| {
            EngineError::invalid(format!(
                "unable to convert uid/gid chown string to host mapping: can't find uid for user {user}: no such user: {user}"
            ))
        })?,
    };
    let gid = match group.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup(&etc("etc/group"), group).ok_or_else(|| {
            EngineError::invalid(format!(
                "unable to convert uid/gid chown string to host mapping: can't find gid for group {group}: no such group: {group}"
            ))
        })?,
    };
    Ok((uid, gid))
}

/// Parse a `--chmod` value (octal).
pub(crate) fn parse_chmod(spec: &str) -> Result<u32> {
    u32::from_str_radix(spec, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| EngineError::invalid(format!("invalid chmod parameter: {spec}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_by_name_and_number() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\napp:x:1001:\nstaff:x:50:\n",
        )
        .unwrap();
        assert_eq!(resolve_chown("app", d.path()).unwrap(), (1000, 1001));
        assert_eq!(resolve_chown("app:staff", d.path()).unwrap(), (1000, 50));
        assert_eq!(resolve_chown("12:34", d.path()).unwrap(), (12, 34));
        assert_eq!(resolve_chown("7", d.path()).unwrap(), (7, 7));
        assert!(resolve_chown("nobody", d.path())
            .unwrap_err()
            .message
            .contains("no such user: nobody"));
        assert_eq!(parse_chmod("755").unwrap(), 0o755);
        assert!(parse_chmod("9").is_err());
    }
}
