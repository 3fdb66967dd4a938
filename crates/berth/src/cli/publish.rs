//! `-p/--publish` and `--expose` as the docker CLI parses them
//! (go-connections' `nat.ParsePortSpec`): ranges, optional host IP and
//! host port, protocols.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_spec::api::{EmptyObject, PortBinding};

/// `HostConfig.PortBindings`.
pub type PortMap = BTreeMap<String, Option<Vec<PortBinding>>>;

/// `Config.ExposedPorts`.
pub type PortSet = BTreeMap<String, EmptyObject>;

/// go-connections' `ParsePortRange`: `80` or `8000-8002`.
fn parse_port_range(ports: &str) -> Result<(u16, u16), String> {
    if ports.is_empty() {
        return Err("Empty string specified for ports.".into());
    }
    let num = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("strconv.ParseUint: parsing \"{s}\": invalid syntax"))
    };
    match ports.split_once('-') {
        None => {
            let p = num(ports)?;
            Ok((p, p))
        }
        Some((a, b)) => {
            let b = b.split('-').next().unwrap_or(b);
            let (start, end) = (num(a)?, num(b)?);
            if end < start {
                return Err(format!("Invalid range specified for the Port: {ports}"));
            }
            Ok((start, end))
        }
    }
}

/// go-connections' `SplitProtoPort`: (`proto`, `port`).
fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    if parts.len() == 1 || parts[1].is_empty() {
        return ("tcp".into(), parts[0].to_string());
    }
    (parts[1].to_string(), parts[0].to_string())
}

/// `ip:hostPort:containerPort` split as docker's `splitParts`.
fn split_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1].to_string();
    match n {
        1 => (String::new(), String::new(), container),
        2 => (String::new(), parts[0].to_string(), container),
        3 => (parts[0].to_string(), parts[1].to_string(), container),
        _ => (
            parts[..n - 2].join(":"),
            parts[n - 2].to_string(),
            container,
        ),
    }
}

/// One `-p` value as (port key, binding) pairs, docker's `ParsePortSpec`.
pub fn parse_port_spec(raw: &str) -> Result<Vec<(String, PortBinding)>, String> {
    let (mut ip, host_port, container) = split_parts(raw);
    let (proto, container) = split_proto_port(&container);
    if ip.starts_with('[') {
        ip = ip
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .map(str::to_string)
            .ok_or_else(|| format!("Invalid ip address {ip}: missing ']' in address"))?;
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("Invalid ip address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("No port specified: {raw}<empty>"));
    }
    let (start, end) =
        parse_port_range(&container).map_err(|_| format!("Invalid containerPort: {container}"))?;
    let (mut hstart, mut hend) = (0u16, 0u16);
    if !host_port.is_empty() {
        (hstart, hend) =
            parse_port_range(&host_port).map_err(|_| format!("Invalid hostPort: {host_port}"))?;
    }
    if !host_port.is_empty() && (end - start) != (hend.wrapping_sub(hstart)) && end != start {
        return Err(format!(
            "Invalid ranges specified for container and host Ports: {container} and {host_port}"
        ));
    }
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("Invalid proto: {proto}"));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let cport = start + i;
        let mut hp = String::new();
        if !host_port.is_empty() {
            hp = (u32::from(hstart) + u32::from(i)).to_string();
        }
        if start == end && hstart != hend {
            hp = format!("{hp}-{hend}");
        }
        out.push((
            format!("{cport}/{proto}"),
            PortBinding {
                host_ip: ip.clone(),
                host_port: hp,
            },
        ));
    }
    Ok(out)
}

/// All `-p` values into the bindings and exposed ports, as
/// `nat.ParsePortSpecs`.
pub fn parse_publish(
    specs: &[String],
    bindings: &mut PortMap,
    exposed: &mut PortSet,
) -> Result<(), String> {
    for spec in specs {
        for (key, binding) in parse_port_spec(spec)? {
            exposed.entry(key.clone()).or_default();
            if let Some(list) = bindings.entry(key).or_insert_with(|| Some(Vec::new())) {
                list.push(binding);
            }
        }
    }
    Ok(())
}

/// All `--expose` values (`80`, `7000-7001/udp`) into the exposed ports.
pub fn parse_expose(values: &[String], exposed: &mut PortSet) -> Result<(), String> {
    for e in values {
        if e.contains(':') {
            return Err(format!("invalid port format for --expose: {e}"));
        }
        let (proto, port) = split_proto_port(e);
        let (start, end) = parse_port_range(&port)
            .map_err(|err| format!("invalid range format for --expose: {e}, error: {err}"))?;
        for p in start..=end {
            exposed.entry(format!("{p}/{proto}")).or_default();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(raw: &str) -> Vec<(String, String, String)> {
        parse_port_spec(raw)
            .unwrap()
            .into_iter()
            .map(|(k, b)| (k, b.host_ip, b.host_port))
            .collect()
    }

    fn t(k: &str, ip: &str, hp: &str) -> (String, String, String) {
        (k.into(), ip.into(), hp.into())
    }

    #[test]
    fn single_ports_and_ips() {
        assert_eq!(spec("80"), vec![t("80/tcp", "", "")]);
        assert_eq!(spec("18080:80"), vec![t("80/tcp", "", "18080")]);
        assert_eq!(spec("127.0.0.1::80"), vec![t("80/tcp", "127.0.0.1", "")]);
        assert_eq!(
            spec("127.0.0.1:9000:9000/udp"),
            vec![t("9000/udp", "127.0.0.1", "9000")]
        );
        assert_eq!(spec("[::1]:80:80"), vec![t("80/tcp", "::1", "80")]);
        assert_eq!(spec("53/UDP"), vec![t("53/udp", "", "")]);
    }

    #[test]
    fn ranges_like_docker() {
        assert_eq!(
            spec("8000-8002:8000-8002"),
            vec![
                t("8000/tcp", "", "8000"),
                t("8001/tcp", "", "8001"),
                t("8002/tcp", "", "8002")
            ]
        );
        assert_eq!(spec("8000-8010:80"), vec![t("80/tcp", "", "8000-8010")]);
        assert_eq!(spec("7000-7001/udp").len(), 2);
        assert_eq!(
            parse_port_spec("8000-8002:80-81").unwrap_err(),
            "Invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
        );
    }

    #[test]
    fn errors_like_docker() {
        assert_eq!(
            parse_port_spec("x").unwrap_err(),
            "Invalid containerPort: x"
        );
        assert_eq!(parse_port_spec("x:80").unwrap_err(), "Invalid hostPort: x");
        assert_eq!(parse_port_spec("80/foo").unwrap_err(), "Invalid proto: foo");
        assert_eq!(
            parse_port_spec("1.2.3:80:80").unwrap_err(),
            "Invalid ip address: 1.2.3"
        );
        assert_eq!(
            parse_port_spec("80:").unwrap_err(),
            "No port specified: 80:<empty>"
        );
    }

    #[test]
    fn expose_ranges() {
        let mut e = PortSet::new();
        parse_expose(&["6379".into(), "7000-7001/udp".into()], &mut e).unwrap();
        let keys: Vec<&String> = e.keys().collect();
        assert_eq!(keys, ["6379/tcp", "7000/udp", "7001/udp"]);
        assert!(parse_expose(&["1:2".into()], &mut e).is_err());
    }
}
