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
    /// Supplementary group IDs (groups listing the user as a member).
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

/// Resolve `user` (`""`, `name`, `uid`, `uid:gid`, `name:group`, ...) given the
/// text of the container's passwd and group files (`None` when absent).
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
        assert_eq!(u.additional_gids, vec![10]);
    }

    #[test]
    fn by_name_and_uid() {
        let u = r("alice").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/alice"));
        assert_eq!(u.additional_gids, vec![50, 29]);
        let u = r("1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        let u = r("4242").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        assert!(u.additional_gids.is_empty());
        let u = r("nohome").unwrap();
        assert_eq!(u.home, "/");
    }

    #[test]
    fn with_group() {
        let u = r("1000:1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert!(u.additional_gids.is_empty());
        let u = r("alice:staff").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        let u = r("daemon:777").unwrap();
        assert_eq!((u.uid, u.gid), (1, 777));
        let e = r("alice:nogroup").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
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
}
