//! Resolve Docker's `-u` argument against the container's `/etc/passwd` and
//! `/etc/group`, as Docker (runc's user lookup) does.

use crate::error::RuntimeError;

/// The resolved identity of the container's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary group IDs as Docker sets them: the primary group
    /// first, then the groups listing the user as a member (none of those
    /// when a group was given). Never empty, see [`resolve_user`].
    pub additional_gids: Vec<u32>,
    /// Home directory (`/` when unknown).
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry<'_>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?,
                uid: f.get(2)?.trim().parse().ok()?,
                gid: f.get(3)?.trim().parse().ok()?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry<'_>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?,
                gid: f.get(2)?.trim().parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Append the `--group-add` groups (names from the container's group file, or numbers) to
/// `user`'s supplementary groups, as dockerd does at start.
pub fn add_groups(
    user: &mut ExecUser,
    extra: &[String],
    group: Option<&str>,
) -> Result<(), RuntimeError> {
    let groups = parse_group(group.unwrap_or(""));
    for g in extra {
        let gid = match groups.iter().find(|e| e.name == g.as_str()) {
            Some(e) => e.gid,
            None => g.parse::<u32>().map_err(|_| {
                RuntimeError::User(format!(
                    "Unable to find group {g}: no matching entries in group file"
                ))
            })?,
        };
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(())
}

/// Resolve `user` (`""`, `name`, `uid`, `uid:gid`, `name:group`, ...) given the
/// text of the container's passwd and group files (`None` when absent).
/// The supplementary groups are the primary group followed, when no group
/// was given, by the groups of `/etc/group` listing the user's name (what
/// Docker puts in the OCI spec), so the list is never empty and the
/// container never keeps the calling process's groups.
pub fn resolve_user(
    user: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ExecUser, RuntimeError> {
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let users = parse_passwd(passwd.unwrap_or(""));
    let groups = parse_group(group.unwrap_or(""));

    // The user: by name first, then numeric.
    let user_arg = if user_arg.is_empty() { "0" } else { user_arg };
    let numeric_uid: Option<u32> = user_arg.parse().ok();
    let entry = users
        .iter()
        .find(|e| e.name == user_arg)
        .or_else(|| numeric_uid.and_then(|uid| users.iter().find(|e| e.uid == uid)));
    let (uid, mut gid, name, home) = match (entry, numeric_uid) {
        (Some(e), _) => (e.uid, e.gid, Some(e.name), e.home.to_string()),
        (None, Some(uid)) => (uid, 0, None, "/".to_string()),
        (None, None) => {
            return Err(RuntimeError::User(format!(
                "unable to find user {user_arg}: no matching entries in passwd file"
            )));
        }
    };

    let mut additional_gids = Vec::new();
    match group_arg {
        Some(g) if !g.is_empty() => {
            let numeric_gid: Option<u32> = g.parse().ok();
            gid = match groups.iter().find(|e| e.name == g) {
                Some(e) => e.gid,
                None => match numeric_gid {
                    Some(n) => n,
                    None => {
                        return Err(RuntimeError::User(format!(
                            "unable to find group {g}: no matching entries in group file"
                        )))
                    }
                },
            };
        }
        _ => {
            if let Some(name) = name {
                for g in groups.iter().filter(|g| g.members.contains(&name)) {
                    if !additional_gids.contains(&g.gid) {
                        additional_gids.push(g.gid);
                    }
                }
            }
        }
    }
    // Docker 20.10 hands the runtime the primary group first, then the
    // supplementary ones (its OCI spec for `-u app` says
    // "additionalGids": [1000, 10, 50]), so /proc/self/status shows the
    // primary group among Groups and nothing of the daemon's own groups
    // is ever kept (libcontainer skips setgroups(2) for an empty list).
    additional_gids.retain(|g| *g != gid);
    additional_gids.insert(0, gid);
    let home = if home.is_empty() {
        "/".to_string()
    } else {
        home
    };
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
# comment\n\
broken line\n\
nohome:x:1001:1001:::\n";
    const GROUP: &str =
        "root:x:0:\nalice:x:1000:\nstaff:x:50:alice,bob\naudio:x:29:bob, alice\nwheel:x:10:root\n";

    fn r(u: &str) -> Result<ExecUser, RuntimeError> {
        resolve_user(u, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn default_is_root() {
        let u = r("").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.additional_gids, vec![0, 10]);
    }

    #[test]
    fn by_name_and_uid() {
        let u = r("alice").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/alice"));
        assert_eq!(u.additional_gids, vec![1000, 50, 29]);
        let u = r("1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        let u = r("4242").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        assert_eq!(u.additional_gids, vec![0]);
        let u = r("nohome").unwrap();
        assert_eq!(u.home, "/");
    }

    #[test]
    fn with_group() {
        let u = r("1000:1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![1000]);
        let u = r("alice:staff").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        assert_eq!(u.additional_gids, vec![50]);
        let u = r("daemon:777").unwrap();
        assert_eq!((u.uid, u.gid), (1, 777));
        let e = r("alice:nogroup").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
    }

    /// The OCI `process.user` Docker 20.10 writes for `docker run -u U img`
    /// on an image with `app` (uid 1000, gid 1000) in wheel(10) and
    /// staff(50), and root in staff and other(60) (read from the oracle's
    /// config.json and /proc/self/status `Groups:`).
    #[test]
    fn supplementary_groups_match_docker() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
        let group =
            "root:x:0:\napp:x:1000:\nwheel:x:10:app\nstaff:x:50:root,app\nother:x:60:root\n";
        let user = |u: &str| {
            let e = resolve_user(u, Some(passwd), Some(group)).unwrap();
            (e.uid, e.gid, e.additional_gids)
        };
        assert_eq!(user("app"), (1000, 1000, vec![1000, 10, 50]));
        assert_eq!(user("1000"), (1000, 1000, vec![1000, 10, 50]));
        assert_eq!(user("app:other"), (1000, 60, vec![60]));
        assert_eq!(user("app:60"), (1000, 60, vec![60]));
        assert_eq!(user("1000:1000"), (1000, 1000, vec![1000]));
        assert_eq!(user("root"), (0, 0, vec![0, 50, 60]));
        assert_eq!(user("2000"), (2000, 0, vec![0]));
        // A user listed in its own primary group: no duplicate.
        let g2 = "app:x:1000:app\nwheel:x:10:app\n";
        let e = resolve_user("app", Some(passwd), Some(g2)).unwrap();
        assert_eq!(e.additional_gids, vec![1000, 10]);
    }

    #[test]
    fn unknown_name() {
        let e = r("nobody").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        let e = resolve_user("nobody", None, None).unwrap_err();
        assert!(e.to_string().contains("no matching entries in passwd file"));
        let u = resolve_user("", None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/"));
    }

    #[test]
    fn group_add_appends_names_and_numbers() {
        let mut u = resolve_user("", None, Some("root:x:0:\nstaff:x:50:\n")).unwrap();
        add_groups(
            &mut u,
            &["staff".into(), "1000".into()],
            Some("root:x:0:\nstaff:x:50:\n"),
        )
        .unwrap();
        assert_eq!(u.additional_gids, vec![0, 50, 1000]);
        let e = add_groups(&mut u, &["nosuch".into()], None).unwrap_err();
        assert!(e.to_string().contains("Unable to find group nosuch"), "{e}");
    }
}
