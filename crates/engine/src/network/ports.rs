//! Published ports: which host ports a container asks for
//! (`HostConfig.PortBindings`, `PublishAllPorts`), their reservation and
//! their DNAT rules.

use std::net::Ipv4Addr;
use std::sync::Arc;

use berth_network::firewall::Proto;
use berth_spec::api::HostConfig;

use super::manager::port_rule;
use super::record::{EndpointRec, PublishedPort};
use super::PortKey;
use crate::container::Container;
use crate::error::{EngineError, Result};
use crate::record::ContainerRecord;
use crate::{blocking, Engine};

/// One port to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// Container port.
    pub port: u16,
    /// Protocol.
    pub proto: Proto,
    /// Host address (None = all).
    pub host_ip: Option<Ipv4Addr>,
    /// Host port range (inclusive); None = any free port.
    pub host_ports: Option<(u16, u16)>,
}

/// Split `80/tcp` (or `80`) into port and protocol.
pub(crate) fn parse_port_key(key: &str) -> Option<(u16, Proto)> {
    let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase().parse::<Proto>().ok()?;
    Some((p.parse().ok()?, proto))
}

fn parse_host_ports(s: &str) -> Result<Option<(u16, u16)>> {
    let s = s.trim();
    // `-p 0:80` asks for any free port, as an empty host port does.
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    let bad = || EngineError::invalid(format!("invalid port specification: \"{s}\""));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

/// The ports a container publishes, in Docker's order (by port key).
pub(crate) fn wanted(
    hc: &HostConfig,
    exposed: Option<&berth_spec::api::EmptyObjectMap>,
) -> Result<Vec<Wanted>> {
    let mut out = Vec::new();
    let bindings = hc.port_bindings.clone().unwrap_or_default();
    for (key, list) in &bindings {
        let Some((port, proto)) = parse_port_key(key) else {
            return Err(EngineError::invalid(format!(
                "invalid port specification: \"{key}\""
            )));
        };
        let list = list.clone().unwrap_or_default();
        let list = if list.is_empty() {
            vec![Default::default()]
        } else {
            list
        };
        for b in list {
            let host_ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => None,
                ip => match ip.parse::<Ipv4Addr>() {
                    Ok(ip) => Some(ip),
                    // IPv6 host addresses: not supported, skipped.
                    Err(_) if ip.contains(':') => continue,
                    Err(_) => {
                        return Err(EngineError::invalid(format!("invalid IP address: {ip}")))
                    }
                },
            };
            out.push(Wanted {
                port,
                proto,
                host_ip,
                host_ports: parse_host_ports(&b.host_port)?,
            });
        }
    }
    if hc.publish_all_ports {
        for key in exposed
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let Some((port, proto)) = parse_port_key(&key) else {
                continue;
            };
            let bound = bindings
                .keys()
                .any(|k| parse_port_key(k) == Some((port, proto)));
            if !bound {
                out.push(Wanted {
                    port,
                    proto,
                    host_ip: None,
                    host_ports: None,
                });
            }
        }
    }
    Ok(out)
}

fn overlaps(a: &PortKey, b: &PortKey) -> bool {
    a.0 == b.0 && a.2 == b.2 && (a.1.is_none() || b.1.is_none() || a.1 == b.1)
}

impl Engine {
    /// Reserve and program the published ports of `rec` (pointing at
    /// `ep`'s address); appends what it did to `out` so that a failure can be undone.
    pub(crate) async fn publish_ports(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
        ep: &EndpointRec,
        bridge: &str,
        out: &mut Vec<PublishedPort>,
    ) -> Result<()> {
        let wanted = wanted(&rec.host_config, rec.config.exposed_ports.as_ref())?;
        if wanted.is_empty() {
            return Ok(());
        }
        let Some(container_ip) = ep.ip else {
            return Ok(());
        };
        let fail = |msg: String| {
            EngineError::system(format!(
                "driver failed programming external connectivity on endpoint {} ({}): {msg}",
                rec.name, ep.endpoint_id
            ))
        };
        let mut new = Vec::new();
        for w in wanted {
            // Up to thousands of bind attempts: on the blocking pool.
            let engine = Arc::clone(self);
            let w2 = w.clone();
            let (port, res) = blocking(move || Ok(engine.reserve(&w2)))
                .await?
                .map_err(fail)?;
            let key = (w.proto, w.host_ip, port);
            self.net
                .lock()
                .reservations
                .entry(c.id.clone())
                .or_default()
                .push((key, res));
            let p = PublishedPort {
                container_port: w.port,
                proto: w.proto.to_string(),
                host_ip: w.host_ip,
                host_port: port,
                container_ip,
                bridge: bridge.to_string(),
            };
            out.push(p.clone());
            new.push(p);
        }
        if self.net.fw_enabled() {
            let rules: Vec<_> = new.iter().filter_map(port_rule).collect();
            let fw = Arc::clone(&self.net.fw);
            blocking(move || Ok(fw.add_ports(&rules)?))
                .await
                .map_err(|e| fail(e.message))?;
        }
        Ok(())
    }

    /// Reserve one host port: Docker's "port is already allocated" when one
    /// of our containers holds it, the bind error otherwise.
    fn reserve(
        &self,
        w: &Wanted,
    ) -> std::result::Result<(u16, berth_network::ports::Reservation), String> {
        let ip_text = w
            .host_ip
            .map(|i| i.to_string())
            .unwrap_or_else(|| "0.0.0.0".into());
        let ours = |port: u16| {
            let g = self.net.lock();
            g.reservations
                .values()
                .flatten()
                .any(|(k, _)| overlaps(k, &(w.proto, w.host_ip, port)))
        };
        match w.host_ports {
            None => {
                berth_network::ports::reserve_any(w.proto, w.host_ip).map_err(|e| e.to_string())
            }
            Some((lo, hi)) => {
                let mut last = String::new();
                for port in lo..=hi {
                    if ours(port) {
                        last =
                            format!("Bind for {ip_text}:{port} failed: port is already allocated");
                        continue;
                    }
                    match berth_network::ports::reserve(w.proto, w.host_ip, port) {
                        Ok(r) => return Ok((port, r)),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(last)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_spec::api::PortBinding;
    use std::collections::BTreeMap;

    #[test]
    fn wanted_ports_from_bindings_and_publish_all() {
        let mut hc = HostConfig::default();
        let mut b = BTreeMap::new();
        b.insert(
            "80/tcp".to_string(),
            Some(vec![PortBinding {
                host_ip: String::new(),
                host_port: "18080".into(),
            }]),
        );
        b.insert(
            "53/udp".to_string(),
            Some(vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: String::new(),
            }]),
        );
        hc.port_bindings = Some(b);
        hc.publish_all_ports = true;
        let mut exposed = BTreeMap::new();
        exposed.insert("80/tcp".to_string(), Default::default());
        exposed.insert("90/tcp".to_string(), Default::default());
        let w = wanted(&hc, Some(&exposed)).unwrap();
        assert_eq!(
            w,
            vec![
                Wanted {
                    port: 53,
                    proto: Proto::Udp,
                    host_ip: Some(Ipv4Addr::LOCALHOST),
                    host_ports: None
                },
                Wanted {
                    port: 80,
                    proto: Proto::Tcp,
                    host_ip: None,
                    host_ports: Some((18080, 18080))
                },
                Wanted {
                    port: 90,
                    proto: Proto::Tcp,
                    host_ip: None,
                    host_ports: None
                },
            ]
        );
        assert!(overlaps(
            &(Proto::Tcp, None, 80),
            &(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), 80)
        ));
        assert!(!overlaps(&(Proto::Tcp, None, 80), &(Proto::Udp, None, 80)));
    }

    #[test]
    fn host_port_zero_means_any_free_port() {
        assert_eq!(parse_host_ports("0").unwrap(), None);
        assert_eq!(parse_host_ports("").unwrap(), None);
        assert_eq!(parse_host_ports("8080").unwrap(), Some((8080, 8080)));
    }
}
