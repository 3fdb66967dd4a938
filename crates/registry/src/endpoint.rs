//! Where a registry is reached and how: Docker Hub's host and mirrors,
//! Docker's insecure-registry rules, and TLS (system roots plus
//! `certs.d/<host:port>/` CAs and client certificates).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::error::{RegistryError, Result};

/// The host serving Docker Hub's registry API.
pub const HUB_HOST: &str = "registry-1.docker.io";
/// The key Docker uses for Docker Hub credentials.
pub const HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";
/// The host's CA bundle (Debian's `ca-certificates`).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// How long connecting may take (Docker's dialer timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a registry may take to answer a request.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest stretch without any data on a connection.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The daemon's registry settings.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// `--insecure-registry`: `host[:port]` names or CIDR ranges.
    pub insecure: Vec<String>,
    /// `--registry-mirror`: base URLs of Docker Hub mirrors.
    pub mirrors: Vec<String>,
    /// Directories holding `<host:port>/ca.crt`, `*.cert` + `*.key`.
    pub cert_dirs: Vec<PathBuf>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            mirrors: Vec::new(),
            cert_dirs: vec![
                PathBuf::from("/etc/docker/certs.d"),
                PathBuf::from("/etc/berth/certs.d"),
            ],
        }
    }
}

/// One way of reaching a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host:port` or `http://host:port` (no trailing slash).
    pub base: String,
    /// The `host[:port]` whose `certs.d` directory applies.
    pub host: String,
    /// Whether the server certificate is verified.
    pub verify_tls: bool,
    /// Whether this is a mirror (errors fall through to the next endpoint).
    pub mirror: bool,
}

impl RegistryOptions {
    /// The registry host for a reference's domain (`docker.io` is served
    /// by [`HUB_HOST`]).
    pub fn host_of(domain: &str) -> &str {
        if domain == berth_spec::reference::DEFAULT_DOMAIN
            || domain == berth_spec::reference::LEGACY_DEFAULT_DOMAIN
        {
            HUB_HOST
        } else {
            domain
        }
    }

    /// Whether Docker would treat this host as insecure: 127.0.0.0/8 and
    /// `localhost`, plus `--insecure-registry` names and ranges.
    pub fn is_insecure(&self, host: &str) -> bool {
        let name = strip_port(host);
        if name == "localhost" {
            return true;
        }
        let ip = name.parse::<Ipv4Addr>().ok();
        if ip.is_some_and(|ip| ip.octets()[0] == 127) {
            return true;
        }
        self.insecure.iter().any(|entry| {
            let entry = entry
                .trim()
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/');
            if entry == host || entry == name {
                return true;
            }
            match (ip, parse_cidr(entry)) {
                (Some(ip), Some((net, bits))) => in_cidr(ip, net, bits),
                _ => false,
            }
        })
    }

    /// The endpoints to try for `domain`, in order.
    pub fn endpoints(&self, domain: &str) -> Vec<Endpoint> {
        let host = Self::host_of(domain);
        let mut out = Vec::new();
        if host == HUB_HOST {
            for m in &self.mirrors {
                let m = m.trim_end_matches('/');
                let (scheme, mhost) = match m.split_once("://") {
                    Some((s, h)) => (s, h),
                    None => ("https", m),
                };
                let mhost = mhost.split('/').next().unwrap_or(mhost).to_string();
                let insecure = self.is_insecure(&mhost);
                out.push(Endpoint {
                    base: format!("{scheme}://{mhost}"),
                    host: mhost,
                    verify_tls: !insecure,
                    mirror: true,
                });
            }
        }
        if self.is_insecure(host) {
            out.push(Endpoint {
                base: format!("https://{host}"),
                host: host.to_string(),
                verify_tls: false,
                mirror: false,
            });
            out.push(Endpoint {
                base: format!("http://{host}"),
                host: host.to_string(),
                verify_tls: false,
                mirror: false,
            });
        } else {
            out.push(Endpoint {
                base: format!("https://{host}"),
                host: host.to_string(),
                verify_tls: true,
                mirror: false,
            });
        }
        out
    }

    /// An HTTP agent for `ep`: its TLS roots, client certificate and
    /// verification mode, proxies from the environment, Docker's timeouts.
    pub fn agent(&self, ep: &Endpoint) -> Result<ureq::Agent> {
        let mut tls = TlsConfig::builder().root_certs(self.root_certs(&ep.host)?);
        if let Some(cert) = self.client_cert(&ep.host)? {
            tls = tls.client_cert(Some(cert));
        }
        if !ep.verify_tls {
            tls = tls.disable_verification(true);
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(10)
            .proxy(ureq::Proxy::try_from_env())
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT))
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .accept_encoding("identity")
            .tls_config(tls.build())
            .build();
        Ok(ureq::Agent::new_with_config(config))
    }

    /// The `certs.d` directories of `host` that exist.
    fn host_dirs(&self, host: &str) -> Vec<PathBuf> {
        self.cert_dirs
            .iter()
            .map(|d| d.join(host))
            .filter(|d| d.is_dir())
            .collect()
    }

    fn root_certs(&self, host: &str) -> Result<RootCerts> {
        let mut certs: Vec<Certificate<'static>> = Vec::new();
        if let Ok(pem) = std::fs::read(CA_BUNDLE) {
            certs.extend(pem_certs(&pem));
        }
        for dir in self.host_dirs(host) {
            for f in files_with_ext(&dir, "crt") {
                let pem = std::fs::read(&f)
                    .map_err(|e| RegistryError::Connect(format!("reading {}: {e}", f.display())))?;
                certs.extend(pem_certs(&pem));
            }
        }
        if certs.is_empty() {
            return Ok(RootCerts::WebPki);
        }
        Ok(RootCerts::Specific(Arc::new(certs)))
    }

    /// A client certificate: `<name>.cert` with its `<name>.key`, as Docker
    /// reads them.
    fn client_cert(&self, host: &str) -> Result<Option<ClientCert>> {
        let first = self
            .host_dirs(host)
            .into_iter()
            .flat_map(|dir| files_with_ext(&dir, "cert"))
            .next();
        let Some(cert_path) = first else {
            return Ok(None);
        };
        let key_path = cert_path.with_extension("key");
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| RegistryError::Connect(format!("reading {}: {e}", p.display())))
        };
        let chain = pem_certs(&read(&cert_path)?);
        let key_pem = read(&key_path).map_err(|_| {
            RegistryError::Connect(format!(
                "missing key {} for client certificate {}. CA certificates must use the extension .crt",
                key_path.display(),
                cert_path.display()
            ))
        })?;
        let key = ureq::tls::parse_pem(&key_pem).find_map(|i| match i {
            Ok(PemItem::PrivateKey(k)) => Some(k),
            _ => None,
        });
        let key: PrivateKey<'static> = key.ok_or_else(|| {
            RegistryError::Connect(format!("no private key in {}", key_path.display()))
        })?;
        Ok(Some(ClientCert::new_with_certs(&chain, key)))
    }
}

fn pem_certs(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let bits: u8 = bits.parse().ok().filter(|b| *b <= 32)?;
    Some((ip.parse().ok()?, bits))
}

fn in_cidr(ip: Ipv4Addr, net: Ipv4Addr, bits: u8) -> bool {
    if bits == 0 {
        return true;
    }
    let mask = u32::MAX << (32 - u32::from(bits));
    (u32::from(ip) & mask) == (u32::from(net) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_hosts_are_insecure() {
        let o = RegistryOptions {
            insecure: vec!["10.1.0.0/16".into(), "reg.example:5000".into()],
            ..Default::default()
        };
        assert!(o.is_insecure("127.0.0.1:5000"));
        assert!(o.is_insecure("127.5.6.7"));
        assert!(o.is_insecure("localhost:5000"));
        assert!(o.is_insecure("10.1.200.3:443"));
        assert!(o.is_insecure("reg.example:5000"));
        assert!(!o.is_insecure("reg.example:5001"));
        assert!(!o.is_insecure("10.2.0.1"));
        assert!(!o.is_insecure("registry-1.docker.io"));
    }

    #[test]
    fn insecure_hosts_try_https_then_http() {
        let o = RegistryOptions::default();
        let eps = o.endpoints("127.0.0.1:5000");
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].base, "https://127.0.0.1:5000");
        assert!(!eps[0].verify_tls);
        assert_eq!(eps[1].base, "http://127.0.0.1:5000");
        let eps = o.endpoints("ghcr.io");
        assert_eq!(eps.len(), 1);
        assert!(eps[0].verify_tls);
    }

    #[test]
    fn hub_goes_through_mirrors_first() {
        let o = RegistryOptions {
            mirrors: vec![
                "https://mirror.example/".into(),
                "http://127.0.0.1:5001".into(),
            ],
            ..Default::default()
        };
        let eps = o.endpoints("docker.io");
        let bases: Vec<&str> = eps.iter().map(|e| e.base.as_str()).collect();
        assert_eq!(
            bases,
            [
                "https://mirror.example",
                "http://127.0.0.1:5001",
                "https://registry-1.docker.io"
            ]
        );
        assert!(eps[0].mirror && eps[0].verify_tls);
        assert!(!eps[2].mirror);
        // Mirrors are for Docker Hub only.
        assert_eq!(o.endpoints("quay.io").len(), 1);
    }
}
