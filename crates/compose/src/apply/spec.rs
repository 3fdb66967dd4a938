//! A service replica as an Engine API container create request.

use std::collections::BTreeMap;

use berth_spec::api::{
    ContainerConfig, ContainerCreateRequest, EmptyObject, EndpointSettings, HealthConfig,
    HostConfig, MountSpec, PortBinding, RestartPolicy,
};
use berth_spec::network_api::{EndpointIpamConfig, NetworkingConfig};
use serde_json::json;

use super::labels::{container_labels, container_name, image_of};
use crate::model::{Project, Service, ServiceNetwork, Ulimit};

/// The networks a service joins, primary first: (key, engine name, settings).
pub fn service_networks<'a>(
    project: &'a Project,
    svc: &'a Service,
) -> Vec<(&'a str, String, Option<&'a ServiceNetwork>)> {
    svc.networks
        .iter()
        .map(|(key, cfg)| {
            let name = project
                .networks
                .get(key)
                .map(|n| n.name.clone())
                .unwrap_or_else(|| key.clone());
            (key.as_str(), name, cfg.as_ref())
        })
        .collect()
}

/// The endpoint settings of a service on one network: its name and
/// aliases resolve there.
pub fn endpoint(service: &str, cfg: Option<&ServiceNetwork>) -> EndpointSettings {
    let mut aliases = vec![service.to_string()];
    if let Some(c) = cfg {
        aliases.extend(c.aliases.iter().cloned());
    }
    EndpointSettings {
        aliases: Some(aliases),
        ipam_config: cfg
            .and_then(|c| c.ipv4_address.clone())
            .map(|ip| EndpointIpamConfig {
                ipv4_address: ip,
                ..EndpointIpamConfig::default()
            }),
        ..EndpointSettings::default()
    }
}

fn restart_policy(r: Option<&str>) -> RestartPolicy {
    match r {
        Some(r) => {
            let (name, count) = r.split_once(':').unwrap_or((r, "0"));
            RestartPolicy {
                name: name.to_string(),
                maximum_retry_count: count.parse().unwrap_or(0),
            }
        }
        None => RestartPolicy::default(),
    }
}

fn nanos(d: Option<crate::units::Duration>) -> i64 {
    d.map(|d| i64::try_from(d.nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The create request of replica `number` of `service`.
pub fn create_request(
    project: &Project,
    service: &str,
    svc: &Service,
    number: u64,
) -> ContainerCreateRequest {
    let mut exposed: BTreeMap<String, EmptyObject> = BTreeMap::new();
    let mut bindings: BTreeMap<String, Option<Vec<PortBinding>>> = BTreeMap::new();
    for p in &svc.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        exposed.insert(key.clone(), EmptyObject {});
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: p.host_ip.clone().unwrap_or_default(),
                host_port: p.published.clone().unwrap_or_default(),
            });
    }
    for e in &svc.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(key, EmptyObject {});
    }
    let healthcheck = svc.healthcheck.as_ref().map(|h| HealthConfig {
        test: if h.disable {
            Some(vec!["NONE".into()])
        } else if h.test.is_empty() {
            None
        } else {
            Some(h.test.clone())
        },
        interval: nanos(h.interval),
        timeout: nanos(h.timeout),
        start_period: nanos(h.start_period),
        retries: h.retries.map(|r| r as i64).unwrap_or(0),
    });
    let config = ContainerConfig {
        hostname: svc.hostname.clone().unwrap_or_default(),
        user: svc.user.clone().unwrap_or_default(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: svc.tty,
        open_stdin: svc.stdin_open,
        env: Some(
            svc.environment
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect(),
        ),
        cmd: svc.command.clone(),
        healthcheck,
        image: image_of(project, service, svc),
        working_dir: svc.working_dir.clone().unwrap_or_default(),
        entrypoint: svc.entrypoint.clone(),
        labels: Some(container_labels(project, service, svc, number)),
        stop_signal: svc.stop_signal.clone().unwrap_or_default(),
        stop_timeout: svc
            .stop_grace_period
            .map(|d| (d.nanos() / 1_000_000_000) as i64),
        ..ContainerConfig::default()
    };

    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    for v in &svc.volumes {
        let create_path = v.bind.as_ref().is_some_and(|b| b.create_host_path);
        if v.kind == "bind" && create_path {
            let ro = if v.read_only { ":ro" } else { "" };
            binds.push(format!(
                "{}:{}{ro}",
                v.source.clone().unwrap_or_default(),
                v.target
            ));
            continue;
        }
        let source = match (v.kind.as_str(), &v.source) {
            ("volume", Some(key)) => project
                .volumes
                .get(key)
                .map(|vol| vol.name.clone())
                .unwrap_or_else(|| key.clone()),
            (_, Some(s)) => s.clone(),
            (_, None) => String::new(),
        };
        mounts.push(MountSpec {
            kind: v.kind.clone(),
            source,
            target: v.target.clone(),
            read_only: v.read_only,
            volume_options: v
                .volume
                .as_ref()
                .filter(|o| o.nocopy)
                .map(|_| json!({"NoCopy": true})),
            tmpfs_options: v
                .tmpfs
                .as_ref()
                .and_then(|t| t.size)
                .map(|s| json!({"SizeBytes": s})),
            bind_options: v
                .bind
                .as_ref()
                .and_then(|b| b.propagation.clone())
                .map(|p| json!({"Propagation": p})),
            ..MountSpec::default()
        });
    }
    // File secrets and configs are read-only binds of their file.
    for (refs, defined, default_dir) in [
        (&svc.secrets, &project.secrets, "/run/secrets/"),
        (&svc.configs, &project.configs, "/"),
    ] {
        for r in refs {
            let Some(file) = defined.get(&r.source).and_then(|o| o.file.clone()) else {
                continue;
            };
            let target = match &r.target {
                Some(t) if t.starts_with('/') => t.clone(),
                Some(t) => format!("{default_dir}{t}"),
                None => format!("{default_dir}{}", r.source),
            };
            mounts.push(MountSpec {
                kind: "bind".into(),
                source: file,
                target,
                read_only: true,
                ..MountSpec::default()
            });
        }
    }
    let limits = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    let memory = svc.mem_limit.or_else(|| limits.and_then(|l| l.memory));
    let cpus = svc.cpus.or_else(|| limits.and_then(|l| l.cpus));
    let networks = service_networks(project, svc);
    let network_mode = match &svc.network_mode {
        Some(m) => match m.strip_prefix("service:") {
            Some(target) => {
                let t = project.services.get(target);
                let name = t
                    .map(|t| container_name(project, target, t, 1))
                    .unwrap_or_else(|| target.to_string());
                format!("container:{name}")
            }
            None => m.clone(),
        },
        None => networks
            .first()
            .map(|(_, n, _)| n.clone())
            .unwrap_or_else(|| "default".into()),
    };
    let volumes_from: Vec<String> = svc
        .volumes_from
        .iter()
        .map(|v| match v.strip_prefix("container:") {
            Some(c) => c.to_string(),
            None => {
                let (name, mode) = v
                    .split_once(':')
                    .map(|(a, b)| (a, Some(b)))
                    .unwrap_or((v, None));
                let target = project
                    .services
                    .get(name)
                    .map(|t| container_name(project, name, t, 1))
                    .unwrap_or_else(|| name.to_string());
                match mode {
                    Some(m) => format!("{target}:{m}"),
                    None => target,
                }
            }
        })
        .collect();
    let links: Vec<String> = svc
        .links
        .iter()
        .map(|l| {
            let (name, alias) = l.split_once(':').unwrap_or((l, l));
            let target = project
                .services
                .get(name)
                .map(|t| container_name(project, name, t, 1))
                .unwrap_or_else(|| name.to_string());
            format!("{target}:{alias}")
        })
        .collect();
    let host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        mounts: (!mounts.is_empty()).then_some(mounts),
        network_mode,
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        restart_policy: restart_policy(svc.restart.as_deref()),
        volumes_from: (!volumes_from.is_empty()).then_some(volumes_from),
        links: (!links.is_empty()).then_some(links),
        cap_add: (!svc.cap_add.is_empty()).then(|| svc.cap_add.clone()),
        cap_drop: (!svc.cap_drop.is_empty()).then(|| svc.cap_drop.clone()),
        dns: (!svc.dns.is_empty()).then(|| svc.dns.clone()),
        extra_hosts: (!svc.extra_hosts.is_empty()).then(|| svc.extra_hosts.iter().map(|h| h.replacen('=', ":", 1)).collect()),
        readonly_rootfs: svc.read_only,
        tmpfs: (!svc.tmpfs.is_empty()).then(|| {
            svc.tmpfs
                .iter()
                .map(|t| match t.split_once(':') {
                    Some((p, o)) => (p.to_string(), o.to_string()),
                    None => (t.clone(), String::new()),
                })
                .collect()
        }),
        shm_size: svc.shm_size.map(|s| s as i64).unwrap_or(0),
        memory: memory.map(|m| m as i64).unwrap_or(0),
        nano_cpus: cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
        pids_limit: limits.and_then(|l| l.pids),
        ulimits: (!svc.ulimits.is_empty()).then(|| {
            svc.ulimits
                .iter()
                .map(|(name, u)| {
                    let (soft, hard) = match u {
                        Ulimit::Single(v) => (*v, *v),
                        Ulimit::Pair { soft, hard } => (*soft, *hard),
                    };
                    json!({"Name": name, "Soft": soft, "Hard": hard})
                })
                .collect()
        }),
        devices: (!svc.devices.is_empty()).then(|| {
            svc.devices
                .iter()
                .map(|d| json!({"PathOnHost": d.source, "PathInContainer": d.target, "CgroupPermissions": d.permissions}))
                .collect()
        }),
        init: svc.init,
        ..HostConfig::default()
    };
    let networking_config = if svc.network_mode.is_none() {
        networks.first().map(|(_, name, cfg)| NetworkingConfig {
            endpoints_config: Some(BTreeMap::from([(name.clone(), endpoint(service, *cfg))])),
        })
    } else {
        None
    };
    ContainerCreateRequest {
        config,
        host_config,
        networking_config,
    }
}

#[cfg(test)]
mod tests {
    use super::super::labels::{config_hash, replicas};
    use super::super::start_order;
    use super::*;
    use crate::{load, Options};

    fn project(text: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), text).unwrap();
        load(&Options {
            working_dir: dir.path().to_path_buf(),
            project_name: Some("p".into()),
            ..Options::default()
        })
        .unwrap()
    }

    #[test]
    fn a_service_becomes_a_create_request() {
        let p = project(
            r#"
services:
  web:
    image: nginx
    command: ["serve", "--port", "80"]
    environment: {A: "1", UNSET: null}
    ports: ["127.0.0.1:8080:80", "9000-9001:90-91/udp"]
    expose: [3000]
    volumes: ["data:/data:ro", "./src:/src", {type: tmpfs, target: /tmp, tmpfs: {size: 1m}}]
    networks:
      back: {aliases: [api], ipv4_address: 172.30.0.9}
      default:
    restart: on-failure:3
    mem_limit: 64m
    cpus: 1.5
    ulimits: {nofile: {soft: 10, hard: 20}}
    extra_hosts: ["db:10.0.0.2"]
    healthcheck: {test: curl -f localhost, interval: 2s, retries: 4}
    secrets: [pw]
    stop_grace_period: 20s
    depends_on: [db]
    links: ["db:database"]
    volumes_from: ["db:ro"]
  db:
    image: pg
volumes: {data: {}}
networks: {back: {}}
secrets: {pw: {file: ./pw.txt}}
"#,
        );
        let web = &p.services["web"];
        let r = create_request(&p, "web", web, 1);
        assert_eq!(r.config.image, "nginx");
        assert_eq!(
            r.config.cmd,
            Some(vec!["serve".into(), "--port".into(), "80".into()])
        );
        assert_eq!(r.config.env, Some(vec!["A=1".to_string()]));
        assert_eq!(r.config.stop_timeout, Some(20));
        let ports = r.host_config.port_bindings.as_ref().unwrap();
        assert_eq!(
            ports["80/tcp"].as_ref().unwrap()[0],
            PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: "8080".into()
            }
        );
        assert_eq!(ports["91/udp"].as_ref().unwrap()[0].host_port, "9001");
        assert!(r
            .config
            .exposed_ports
            .as_ref()
            .unwrap()
            .contains_key("3000/tcp"));
        let mounts = r.host_config.mounts.as_ref().unwrap();
        assert_eq!(
            (mounts[0].source.as_str(), mounts[0].read_only),
            ("p_data", true)
        );
        assert_eq!(mounts[1].tmpfs_options, Some(json!({"SizeBytes": 1048576})));
        assert_eq!(
            (mounts[2].target.as_str(), mounts[2].read_only),
            ("/run/secrets/pw", true)
        );
        assert!(mounts[2].source.ends_with("/pw.txt"));
        assert!(r.host_config.binds.as_ref().unwrap()[0].ends_with("/src:/src"));
        assert_eq!(r.host_config.network_mode, "p_back");
        let eps = r
            .networking_config
            .as_ref()
            .unwrap()
            .endpoints_config
            .as_ref()
            .unwrap();
        assert_eq!(
            eps["p_back"].aliases,
            Some(vec!["web".to_string(), "api".to_string()])
        );
        assert_eq!(
            eps["p_back"].ipam_config.as_ref().unwrap().ipv4_address,
            "172.30.0.9"
        );
        assert_eq!(
            r.host_config.restart_policy,
            RestartPolicy {
                name: "on-failure".into(),
                maximum_retry_count: 3
            }
        );
        assert_eq!(r.host_config.memory, 64 << 20);
        assert_eq!(r.host_config.nano_cpus, 1_500_000_000);
        assert_eq!(
            r.host_config.extra_hosts,
            Some(vec!["db:10.0.0.2".to_string()])
        );
        assert_eq!(
            r.host_config.links,
            Some(vec!["p-db-1:database".to_string()])
        );
        assert_eq!(
            r.host_config.volumes_from,
            Some(vec!["p-db-1:ro".to_string()])
        );
        let hc = r.config.healthcheck.as_ref().unwrap();
        assert_eq!(
            hc.test,
            Some(vec![
                "CMD-SHELL".to_string(),
                "curl -f localhost".to_string()
            ])
        );
        assert_eq!((hc.interval, hc.retries), (2_000_000_000, 4));
        let labels = r.config.labels.as_ref().unwrap();
        assert_eq!(labels["com.docker.compose.project"], "p");
        assert_eq!(labels["com.docker.compose.container-number"], "1");
        assert_eq!(
            labels["com.docker.compose.depends_on"],
            "db:service_started:false"
        );
        assert_eq!(service_networks(&p, web).len(), 2);
        assert_eq!(start_order(&p), ["db", "web"]);
    }

    #[test]
    fn network_mode_of_another_service_and_names() {
        let p = project(
            "services:\n  vpn: {image: v, container_name: tunnel}\n  app: {image: a, network_mode: service:vpn, scale: 2}\n",
        );
        let app = &p.services["app"];
        let r = create_request(&p, "app", app, 2);
        assert_eq!(r.host_config.network_mode, "container:tunnel");
        assert!(r.networking_config.is_none());
        assert_eq!(container_name(&p, "app", app, 2), "p-app-2");
        assert_eq!(replicas(app), 2);
        // The service whose network stack is shared starts first.
        assert_eq!(start_order(&p), ["vpn", "app"]);
    }

    #[test]
    fn config_hash_ignores_what_does_not_change_a_container() {
        let a = project("services:\n  w: {image: x, scale: 1, depends_on: [d]}\n  d: {image: y}\n");
        let b = project("services:\n  w: {image: x, scale: 3}\n  d: {image: y}\n");
        let c = project("services:\n  w: {image: x, environment: [A=1]}\n  d: {image: y}\n");
        let h = |p: &Project| config_hash(&p.services["w"]);
        assert_eq!(h(&a), h(&b));
        assert_ne!(h(&a), h(&c));
    }
}
