//! `ports:` (short `[ip:][published:]target[/proto]` with ranges, and long
//! syntax) and `expose:`.

use super::{check_keys, err, join, map, string, LoadError};
use crate::model::Port;
use crate::node::{Node, Value};

const PORT_KEYS: &[&str] = &[
    "mode",
    "host_ip",
    "target",
    "published",
    "protocol",
    "name",
    "app_protocol",
];

/// Convert a `ports` list.
pub(crate) fn convert_ports(node: &Node, path: &str) -> Result<Vec<Port>, LoadError> {
    let Value::Seq(items) = &node.value else {
        return Err(err(
            node,
            path,
            format!("must be a list, not {}", node.kind()),
        ));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match &item.value {
            Value::Map(_) => out.push(long_port(item, &p)?),
            Value::Scalar(s) => {
                let ports = parse_short(&s.text)
                    .ok_or_else(|| err(item, &p, format!("invalid port {:?}", s.text)))?;
                out.extend(ports);
            }
            _ => {
                return Err(err(
                    item,
                    &p,
                    format!("must be a string, number or mapping, not {}", item.kind()),
                ))
            }
        }
    }
    Ok(out)
}

fn long_port(item: &Node, p: &str) -> Result<Port, LoadError> {
    check_keys(item, p, PORT_KEYS)?;
    let m = map(item, p)?;
    let target_node = m
        .get("target")
        .ok_or_else(|| err(item, p, "missing property \"target\""))?;
    let target = port_number(&string(target_node, &join(p, "target"))?)
        .ok_or_else(|| err(target_node, &join(p, "target"), "invalid port number"))?;
    let published = match m.get("published") {
        Some(n) if !n.is_null() => {
            let s = string(n, &join(p, "published"))?;
            if range(&s).is_none() {
                return Err(err(
                    n,
                    &join(p, "published"),
                    format!("invalid published port {s:?}"),
                ));
            }
            Some(s)
        }
        _ => None,
    };
    let protocol = match m.get("protocol") {
        Some(n) => {
            let s = string(n, &join(p, "protocol"))?;
            if !matches!(s.as_str(), "tcp" | "udp" | "sctp") {
                return Err(err(
                    n,
                    &join(p, "protocol"),
                    format!("invalid protocol {s:?}"),
                ));
            }
            s
        }
        None => "tcp".into(),
    };
    let mode = match m.get("mode") {
        Some(n) => string(n, &join(p, "mode"))?,
        None => "ingress".into(),
    };
    let host_ip = match m.get("host_ip") {
        Some(n) if !n.is_null() => Some(string(n, &join(p, "host_ip"))?),
        _ => None,
    };
    Ok(Port {
        mode,
        host_ip,
        target,
        published,
        protocol,
    })
}

fn port_number(s: &str) -> Option<u16> {
    s.parse::<u16>().ok().filter(|p| *p > 0)
}

/// `a` or `a-b` as an inclusive range.
fn range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port_number(a)?, port_number(b)?);
            (a <= b).then_some((a, b))
        }
        None => port_number(s).map(|p| (p, p)),
    }
}

/// Parse the short syntax; None when it is not valid.
pub(crate) fn parse_short(spec: &str) -> Option<Vec<Port>> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p),
        None => (spec, "tcp"),
    };
    if !matches!(protocol, "tcp" | "udp" | "sctp") {
        return None;
    }
    let (host_ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r.split_once("]:")?;
        (Some(ip.to_string()), after)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (None, rest),
            3 => (Some(parts[0].to_string()), &rest[parts[0].len() + 1..]),
            _ => return None,
        }
    };
    if let Some(ip) = &host_ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return None;
        }
    }
    let (published, target) = match rest.split_once(':') {
        Some((p, t)) => (p, t),
        None => ("", rest),
    };
    let (t0, t1) = range(target)?;
    let mk = |target: u16, published: Option<String>| Port {
        mode: "ingress".into(),
        host_ip: host_ip.clone(),
        target,
        published,
        protocol: protocol.to_string(),
    };
    if published.is_empty() {
        return Some((t0..=t1).map(|t| mk(t, None)).collect());
    }
    let (p0, p1) = range(published)?;
    if t0 == t1 {
        let published = if p0 == p1 {
            p0.to_string()
        } else {
            format!("{p0}-{p1}")
        };
        return Some(vec![mk(t0, Some(published))]);
    }
    if p1 - p0 != t1 - t0 {
        return None;
    }
    Some(
        (t0..=t1)
            .map(|t| mk(t, Some((p0 + (t - t0)).to_string())))
            .collect(),
    )
}

/// Convert `expose:` (ports or ranges, with an optional protocol).
pub(crate) fn convert_expose(node: &Node, path: &str) -> Result<Vec<String>, LoadError> {
    let items = super::string_list(node, path)?;
    for (i, s) in items.iter().enumerate() {
        let (r, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        if range(r).is_none() || !matches!(proto, "tcp" | "udp" | "sctp") {
            let item = node.as_seq().and_then(|v| v.get(i)).unwrap_or(node);
            return Err(err(
                item,
                &format!("{path}[{i}]"),
                format!("invalid port {s:?}"),
            ));
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> (Option<String>, u16, Option<String>, String) {
        let v = parse_short(s).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        let p = &v[0];
        (
            p.host_ip.clone(),
            p.target,
            p.published.clone(),
            p.protocol.clone(),
        )
    }

    #[test]
    fn short_forms() {
        assert_eq!(one("80"), (None, 80, None, "tcp".into()));
        assert_eq!(
            one("8080:80"),
            (None, 80, Some("8080".into()), "tcp".into())
        );
        assert_eq!(
            one("127.0.0.1:8080:80/udp"),
            (
                Some("127.0.0.1".into()),
                80,
                Some("8080".into()),
                "udp".into()
            )
        );
        assert_eq!(
            one("127.0.0.1::80"),
            (Some("127.0.0.1".into()), 80, None, "tcp".into())
        );
        assert_eq!(
            one("[::1]:8080:80"),
            (Some("::1".into()), 80, Some("8080".into()), "tcp".into())
        );
        assert_eq!(
            one("8000-8010:80"),
            (None, 80, Some("8000-8010".into()), "tcp".into())
        );
        let r = parse_short("9000-9001:80-81").unwrap();
        assert_eq!((r[1].target, r[1].published.as_deref()), (81, Some("9001")));
        assert_eq!(parse_short("3000-3002").unwrap().len(), 3);
    }

    #[test]
    fn bad_forms() {
        for s in [
            "80:80:80",
            "x",
            "0",
            "70000",
            "80/xyz",
            "1:2:3:4",
            "9000-9002:80-81",
            "81-80",
        ] {
            assert!(parse_short(s).is_none(), "{s}");
        }
    }
}
