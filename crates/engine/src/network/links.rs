//! Legacy container links (`--link name:alias`) on the default bridge:
//! parsing and normalising, the environment variables dockerd 20.10 adds,
//! and the hosts entries.

use std::net::Ipv4Addr;

use crate::error::{EngineError, Result};

/// One link: the linked container's name and the alias it is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// The linked container (name or ID, without `/`).
    pub target: String,
    /// The alias (last path segment).
    pub alias: String,
}

/// Parse `name:alias`, `name` or dockerd's normalised `/name:/linker/alias`.
pub(crate) fn parse(link: &str) -> Result<Link> {
    let (target, alias) = match link.split_once(':') {
        Some((t, a)) => (t, a),
        None => (link, link),
    };
    let target = target.trim_start_matches('/');
    let alias = alias.rsplit('/').next().unwrap_or(alias);
    if target.is_empty() || alias.is_empty() {
        return Err(EngineError::invalid(format!("invalid link format: {link}")));
    }
    Ok(Link {
        target: target.to_string(),
        alias: alias.to_string(),
    })
}

/// The normalised form dockerd shows in `HostConfig.Links`: `/name:/linker/alias`.
pub(crate) fn normalise(target_name: &str, linker: &str, alias: &str) -> String {
    format!("/{target_name}:/{linker}/{alias}")
}

/// An exposed port of the linked container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LinkPort {
    /// Port number.
    pub port: u16,
    /// `false` for tcp, `true` for udp (so tcp sorts first).
    pub udp: bool,
}

impl LinkPort {
    fn proto(&self) -> &'static str {
        if self.udp {
            "udp"
        } else {
            "tcp"
        }
    }
}

/// Exposed port keys (`6379/tcp`, `53/udp`, `80`) as sorted link ports.
pub(crate) fn ports<'a>(keys: impl Iterator<Item = &'a String>) -> Vec<LinkPort> {
    let mut out: Vec<LinkPort> = keys
        .filter_map(|k| {
            let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            Some(LinkPort {
                port: p.parse().ok()?,
                udp: proto.eq_ignore_ascii_case("udp"),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The variables a link adds, as dockerd 20.10 (`daemon/links`) builds
/// them: `ALIAS_PORT`, per-port `_PORT_N_PROTO{,_ADDR,_PORT,_PROTO}`,
/// `ALIAS_NAME=/linker/alias` and `ALIAS_ENV_K=V` (HOME and PATH skipped).
/// The alias is upper-cased with `-` and `.` turned into `_` (a `.` would
/// make the names unusable in a shell).
pub(crate) fn env(
    linker: &str,
    alias: &str,
    ip: Ipv4Addr,
    ports: &[LinkPort],
    child_env: &[String],
) -> Vec<String> {
    let a = alias.to_uppercase().replace(['-', '.'], "_");
    let mut out = Vec::new();
    if let Some(p) = ports.first() {
        out.push(format!("{a}_PORT={}://{ip}:{}", p.proto(), p.port));
    }
    for p in ports {
        let (n, proto) = (p.port, p.proto());
        let up = proto.to_uppercase();
        out.push(format!("{a}_PORT_{n}_{up}={proto}://{ip}:{n}"));
        out.push(format!("{a}_PORT_{n}_{up}_ADDR={ip}"));
        out.push(format!("{a}_PORT_{n}_{up}_PORT={n}"));
        out.push(format!("{a}_PORT_{n}_{up}_PROTO={proto}"));
    }
    out.push(format!("{a}_NAME=/{linker}/{alias}"));
    for kv in child_env {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        if k == "HOME" || k == "PATH" {
            continue;
        }
        out.push(format!("{a}_ENV_{k}={v}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            parse("redis:db").unwrap(),
            Link {
                target: "redis".into(),
                alias: "db".into()
            }
        );
        assert_eq!(parse("redis").unwrap().alias, "redis");
        assert_eq!(
            parse("/redis:/web/db").unwrap(),
            Link {
                target: "redis".into(),
                alias: "db".into()
            }
        );
        assert!(parse(":x").is_err());
        assert_eq!(normalise("redis", "web", "db"), "/redis:/web/db");
    }

    #[test]
    fn env_like_dockerd() {
        let keys = ["80/udp".to_string(), "6379/tcp".into(), "80/tcp".into()];
        let ports = ports(keys.iter());
        let env = env(
            "web",
            "db-1",
            Ipv4Addr::new(172, 17, 0, 2),
            &ports,
            &["FOO=bar".into(), "HOME=/x".into(), "PATH=/bin".into()],
        );
        assert_eq!(
            env,
            vec![
                "DB_1_PORT=tcp://172.17.0.2:80",
                "DB_1_PORT_80_TCP=tcp://172.17.0.2:80",
                "DB_1_PORT_80_TCP_ADDR=172.17.0.2",
                "DB_1_PORT_80_TCP_PORT=80",
                "DB_1_PORT_80_TCP_PROTO=tcp",
                "DB_1_PORT_80_UDP=udp://172.17.0.2:80",
                "DB_1_PORT_80_UDP_ADDR=172.17.0.2",
                "DB_1_PORT_80_UDP_PORT=80",
                "DB_1_PORT_80_UDP_PROTO=udp",
                "DB_1_PORT_6379_TCP=tcp://172.17.0.2:6379",
                "DB_1_PORT_6379_TCP_ADDR=172.17.0.2",
                "DB_1_PORT_6379_TCP_PORT=6379",
                "DB_1_PORT_6379_TCP_PROTO=tcp",
                "DB_1_NAME=/web/db-1",
                "DB_1_ENV_FOO=bar",
            ]
        );
    }
}
