//! One service: every key of the services Compose knows, type-checked and
//! in canonical form.

use std::collections::BTreeMap;

use super::ports::{convert_expose, convert_ports};
use super::volumes::convert_volumes;
use super::{
    boolean, bytes, check_keys, duration, err, int, join, map, number, opt_string_map, raw,
    shell_command, string, string_list, string_map, string_or_list, uint, Cx, LoadError,
};
use crate::model::{
    Build, Dependency, Deploy, Device, DeviceRequest, FileRef, Healthcheck, ResourceSet, Resources,
    Service, ServiceNetwork, Ulimit,
};
use crate::node::{Node, Value};

/// Compose-spec service keys berth keeps as written without interpreting.
const PASSTHROUGH: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "dns_opt",
    "dns_search",
    "domainname",
    "external_links",
    "group_add",
    "ipc",
    "isolation",
    "logging",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "post_start",
    "pre_stop",
    "privileged",
    "runtime",
    "security_opt",
    "storage_opt",
    "sysctls",
    "userns_mode",
    "uts",
];

const RESTART: &[&str] = &["no", "always", "on-failure", "unless-stopped"];
const CONDITIONS: &[&str] = &[
    "service_started",
    "service_healthy",
    "service_completed_successfully",
];

/// Convert the service `name` (already merged, extends resolved).
pub(crate) fn convert_service(cx: &Cx, name: &str, node: &Node) -> Result<Service, LoadError> {
    let path = format!("services.{name}");
    let m = map(node, &path)?;
    let mut s = Service::default();
    let mut env_files: Option<(&Node, String)> = None;
    for (key, v) in m {
        let p = join(&path, key);
        let p = p.as_str();
        match key.as_str() {
            "build" => s.build = Some(build(cx, v, p)?),
            "cap_add" => s.cap_add = string_list(v, p)?,
            "cap_drop" => s.cap_drop = string_list(v, p)?,
            "command" => s.command = shell_command(v, p)?,
            "configs" => s.configs = file_refs(v, p)?,
            "container_name" => s.container_name = Some(string(v, p)?),
            "cpus" => s.cpus = Some(number(v, p)?),
            "depends_on" => s.depends_on = depends_on(v, p)?,
            "deploy" => s.deploy = Some(deploy(v, p)?),
            "devices" => s.devices = devices(v, p)?,
            "dns" => s.dns = string_or_list(v, p)?,
            "entrypoint" => s.entrypoint = shell_command(v, p)?,
            "environment" => s.environment = opt_string_map(v, p)?,
            "env_file" => env_files = Some((v, p.to_string())),
            "expose" => s.expose = convert_expose(v, p)?,
            "extra_hosts" => s.extra_hosts = extra_hosts(v, p)?,
            "gpus" => s.gpus = gpus(v, p)?,
            "healthcheck" => s.healthcheck = Some(healthcheck(v, p)?),
            "hostname" => s.hostname = Some(string(v, p)?),
            "image" => s.image = Some(string(v, p)?),
            "init" => s.init = Some(boolean(v, p)?),
            "labels" => s.labels = string_map(v, p)?,
            "links" => s.links = string_list(v, p)?,
            "mem_limit" => s.mem_limit = Some(bytes(v, p)?),
            "network_mode" => s.network_mode = Some(string(v, p)?),
            "networks" => s.networks = networks(v, p)?,
            "ports" => s.ports = convert_ports(v, p)?,
            "profiles" => s.profiles = string_list(v, p)?,
            "pull_policy" => s.pull_policy = Some(pull_policy(v, p)?),
            "read_only" => s.read_only = boolean(v, p)?,
            "restart" => s.restart = Some(restart(v, p)?),
            "scale" => s.scale = Some(uint(v, p)?),
            "secrets" => s.secrets = file_refs(v, p)?,
            "shm_size" => s.shm_size = Some(bytes(v, p)?),
            "stdin_open" => s.stdin_open = boolean(v, p)?,
            "stop_grace_period" => s.stop_grace_period = Some(duration(v, p)?),
            "stop_signal" => s.stop_signal = Some(string(v, p)?),
            "tmpfs" => s.tmpfs = string_or_list(v, p)?,
            "tty" => s.tty = boolean(v, p)?,
            "ulimits" => s.ulimits = ulimits(v, p)?,
            "user" => s.user = Some(string(v, p)?),
            "volumes" => s.volumes = convert_volumes(cx, v, p)?,
            "volumes_from" => s.volumes_from = string_list(v, p)?,
            "working_dir" => s.working_dir = Some(string(v, p)?),
            k if k.starts_with("x-") || PASSTHROUGH.contains(&k) => {
                s.other.insert(k.to_string(), raw(v));
            }
            _ => {
                return Err(err(
                    v,
                    &path,
                    format!("additional property {key:?} is not allowed"),
                ))
            }
        }
    }
    if let Some((v, p)) = env_files {
        let mut from_files = crate::envfile::read_env_files(cx, v, &p)?;
        for (k, val) in std::mem::take(&mut s.environment) {
            from_files.insert(k, val);
        }
        s.environment = from_files;
    }
    for (k, val) in s.environment.iter_mut() {
        if val.is_none() {
            *val = (cx.env)(k);
        }
    }
    if s.image.is_none() && s.build.is_none() {
        return Err(err(
            node,
            &path,
            format!("service {name:?} has neither an image nor a build context specified"),
        ));
    }
    if s.network_mode.is_some() && !s.networks.is_empty() {
        return Err(err(
            node,
            &path,
            format!("service {name:?} declares mutually exclusive `network_mode` and `networks`"),
        ));
    }
    Ok(s)
}

/// A file mode: an integer, octal when written with a leading 0.
pub(crate) fn file_mode(v: &Node, p: &str) -> Result<u32, LoadError> {
    let s = string(v, p)?;
    let parsed = if let Some(o) = s.strip_prefix("0o") {
        u32::from_str_radix(o, 8).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    };
    parsed.ok_or_else(|| err(v, p, format!("invalid file mode {s:?}")))
}

fn build(cx: &Cx, v: &Node, p: &str) -> Result<Build, LoadError> {
    let absolute_context = |c: &str| {
        if c.contains("://") || c.starts_with("git@") {
            c.to_string()
        } else {
            cx.absolute(c)
        }
    };
    if let Value::Scalar(_) = v.value {
        return Ok(Build {
            context: absolute_context(&string(v, p)?),
            dockerfile: "Dockerfile".into(),
            ..Build::default()
        });
    }
    check_keys(
        v,
        p,
        &[
            "context",
            "dockerfile",
            "dockerfile_inline",
            "args",
            "target",
            "labels",
            "cache_from",
            "cache_to",
            "network",
            "shm_size",
            "extra_hosts",
            "ssh",
            "secrets",
            "tags",
            "platforms",
            "no_cache",
            "pull",
            "isolation",
            "privileged",
            "additional_contexts",
            "ulimits",
        ],
    )?;
    let m = map(v, p)?;
    let mut b = Build {
        context: absolute_context(
            &m.get("context")
                .map(|c| string(c, &join(p, "context")))
                .transpose()?
                .unwrap_or_else(|| ".".into()),
        ),
        dockerfile: "Dockerfile".into(),
        ..Build::default()
    };
    if let Some(d) = m.get("dockerfile") {
        b.dockerfile = string(d, &join(p, "dockerfile"))?;
    }
    if let Some(a) = m.get("args") {
        b.args = opt_string_map(a, &join(p, "args"))?;
    }
    if let Some(t) = m.get("target") {
        b.target = Some(string(t, &join(p, "target"))?);
    }
    if let Some(l) = m.get("labels") {
        b.labels = string_map(l, &join(p, "labels"))?;
    }
    if let Some(c) = m.get("cache_from") {
        b.cache_from = string_list(c, &join(p, "cache_from"))?;
    }
    Ok(b)
}

fn depends_on(v: &Node, p: &str) -> Result<BTreeMap<String, Dependency>, LoadError> {
    let mut out = BTreeMap::new();
    match &v.value {
        Value::Seq(_) => {
            for s in string_list(v, p)? {
                out.insert(
                    s,
                    Dependency {
                        condition: "service_started".into(),
                        restart: false,
                        required: true,
                    },
                );
            }
        }
        Value::Map(m) => {
            for (svc, d) in m {
                let dp = join(p, svc);
                check_keys(d, &dp, &["condition", "restart", "required"])?;
                let dm = map(d, &dp)?;
                let condition = match dm.get("condition") {
                    Some(c) => {
                        let s = string(c, &join(&dp, "condition"))?;
                        if !CONDITIONS.contains(&s.as_str()) {
                            return Err(err(
                                c,
                                &join(&dp, "condition"),
                                format!("invalid condition {s:?}"),
                            ));
                        }
                        s
                    }
                    None => return Err(err(d, &dp, "missing property \"condition\"")),
                };
                let flag = |k: &str, default: bool| -> Result<bool, LoadError> {
                    dm.get(k)
                        .map(|n| boolean(n, &join(&dp, k)))
                        .transpose()
                        .map(|o| o.unwrap_or(default))
                };
                out.insert(
                    svc.clone(),
                    Dependency {
                        condition,
                        restart: flag("restart", false)?,
                        required: flag("required", true)?,
                    },
                );
            }
        }
        _ => {
            return Err(err(
                v,
                p,
                format!("must be a list or mapping, not {}", v.kind()),
            ))
        }
    }
    Ok(out)
}

fn resource_set(v: &Node, p: &str) -> Result<ResourceSet, LoadError> {
    check_keys(
        v,
        p,
        &["cpus", "memory", "pids", "devices", "generic_resources"],
    )?;
    let m = map(v, p)?;
    Ok(ResourceSet {
        cpus: m
            .get("cpus")
            .map(|n| number(n, &join(p, "cpus")))
            .transpose()?,
        memory: m
            .get("memory")
            .map(|n| bytes(n, &join(p, "memory")))
            .transpose()?,
        pids: m
            .get("pids")
            .map(|n| int(n, &join(p, "pids")))
            .transpose()?,
        devices: match m.get("devices") {
            Some(d) => device_requests(d, &join(p, "devices"))?,
            None => Vec::new(),
        },
    })
}

fn deploy(v: &Node, p: &str) -> Result<Deploy, LoadError> {
    check_keys(
        v,
        p,
        &[
            "replicas",
            "resources",
            "mode",
            "labels",
            "restart_policy",
            "placement",
            "update_config",
            "rollback_config",
            "endpoint_mode",
        ],
    )?;
    let m = map(v, p)?;
    let mut d = Deploy {
        replicas: m
            .get("replicas")
            .map(|n| uint(n, &join(p, "replicas")))
            .transpose()?,
        ..Deploy::default()
    };
    if let Some(r) = m.get("resources") {
        let rp = join(p, "resources");
        check_keys(r, &rp, &["limits", "reservations"])?;
        let rm = map(r, &rp)?;
        d.resources = Some(Resources {
            limits: rm
                .get("limits")
                .map(|n| resource_set(n, &join(&rp, "limits")))
                .transpose()?,
            reservations: rm
                .get("reservations")
                .map(|n| resource_set(n, &join(&rp, "reservations")))
                .transpose()?,
        });
    }
    Ok(d)
}

fn device_requests(v: &Node, p: &str) -> Result<Vec<DeviceRequest>, LoadError> {
    let Value::Seq(items) = &v.value else {
        return Err(err(v, p, format!("must be a list, not {}", v.kind())));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let ip = format!("{p}[{i}]");
            check_keys(
                n,
                &ip,
                &["capabilities", "driver", "count", "device_ids", "options"],
            )?;
            let m = map(n, &ip)?;
            let count = match m.get("count") {
                Some(c) if c.as_str() == Some("all") => Some(-1),
                Some(c) => Some(int(c, &join(&ip, "count"))?),
                None => None,
            };
            Ok(DeviceRequest {
                capabilities: m
                    .get("capabilities")
                    .map(|c| string_list(c, &join(&ip, "capabilities")))
                    .transpose()?
                    .unwrap_or_default(),
                driver: m
                    .get("driver")
                    .map(|c| string(c, &join(&ip, "driver")))
                    .transpose()?,
                count,
                device_ids: m
                    .get("device_ids")
                    .map(|c| string_list(c, &join(&ip, "device_ids")))
                    .transpose()?
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn gpus(v: &Node, p: &str) -> Result<Vec<DeviceRequest>, LoadError> {
    if v.as_str() == Some("all") {
        return Ok(vec![DeviceRequest {
            capabilities: vec!["gpu".into()],
            count: Some(-1),
            ..DeviceRequest::default()
        }]);
    }
    device_requests(v, p)
}

fn devices(v: &Node, p: &str) -> Result<Vec<Device>, LoadError> {
    let Value::Seq(items) = &v.value else {
        return Err(err(v, p, format!("must be a list, not {}", v.kind())));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let ip = format!("{p}[{i}]");
            if let Value::Map(m) = &n.value {
                check_keys(n, &ip, &["source", "target", "permissions"])?;
                let get = |k: &str| m.get(k).map(|x| string(x, &join(&ip, k))).transpose();
                let source =
                    get("source")?.ok_or_else(|| err(n, &ip, "missing property \"source\""))?;
                return Ok(Device {
                    target: get("target")?.unwrap_or_else(|| source.clone()),
                    permissions: get("permissions")?.unwrap_or_else(|| "rwm".into()),
                    source,
                });
            }
            let s = string(n, &ip)?;
            let parts: Vec<&str> = s.split(':').collect();
            let (source, target, perm) = match parts.as_slice() {
                [a] => (*a, *a, "rwm"),
                [a, b] if b.chars().all(|c| "rwm".contains(c)) && !b.is_empty() => (*a, *a, *b),
                [a, b] => (*a, *b, "rwm"),
                [a, b, c] => (*a, *b, *c),
                _ => return Err(err(n, &ip, format!("invalid device {s:?}"))),
            };
            Ok(Device {
                source: source.into(),
                target: target.into(),
                permissions: perm.into(),
            })
        })
        .collect()
}

fn extra_hosts(v: &Node, p: &str) -> Result<Vec<String>, LoadError> {
    let mut out = Vec::new();
    match &v.value {
        Value::Map(m) => {
            for (host, ips) in m {
                for ip in string_or_list(ips, &join(p, host))? {
                    out.push(format!("{host}={ip}"));
                }
            }
        }
        _ => {
            for (i, s) in string_list(v, p)?.into_iter().enumerate() {
                let (host, ip) = match s.split_once('=') {
                    Some(x) => x,
                    None => s.split_once(':').ok_or_else(|| {
                        let item = v.as_seq().and_then(|x| x.get(i)).unwrap_or(v);
                        err(
                            item,
                            &format!("{p}[{i}]"),
                            format!("invalid extra host {s:?}"),
                        )
                    })?,
                };
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                out.push(format!("{host}={ip}"));
            }
        }
    }
    Ok(out)
}

fn healthcheck(v: &Node, p: &str) -> Result<Healthcheck, LoadError> {
    check_keys(
        v,
        p,
        &[
            "test",
            "interval",
            "timeout",
            "retries",
            "start_period",
            "start_interval",
            "disable",
        ],
    )?;
    let m = map(v, p)?;
    let d = |k: &str| m.get(k).map(|n| duration(n, &join(p, k))).transpose();
    let test = match m.get("test") {
        Some(t) => match &t.value {
            Value::Scalar(s) => vec!["CMD-SHELL".to_string(), s.text.clone()],
            _ => {
                let l = string_list(t, &join(p, "test"))?;
                if let Some(first) = l.first() {
                    if !matches!(first.as_str(), "NONE" | "CMD" | "CMD-SHELL") {
                        return Err(err(t, &join(p, "test"), format!("the first item must be \"NONE\", \"CMD\" or \"CMD-SHELL\", not {first:?}")));
                    }
                }
                l
            }
        },
        None => Vec::new(),
    };
    Ok(Healthcheck {
        test,
        interval: d("interval")?,
        timeout: d("timeout")?,
        retries: m
            .get("retries")
            .map(|n| uint(n, &join(p, "retries")))
            .transpose()?,
        start_period: d("start_period")?,
        start_interval: d("start_interval")?,
        disable: m
            .get("disable")
            .map(|n| boolean(n, &join(p, "disable")))
            .transpose()?
            .unwrap_or(false),
    })
}

fn networks(v: &Node, p: &str) -> Result<BTreeMap<String, Option<ServiceNetwork>>, LoadError> {
    let mut out = BTreeMap::new();
    match &v.value {
        Value::Seq(_) => {
            for n in string_list(v, p)? {
                out.insert(n, None);
            }
        }
        Value::Map(m) => {
            for (name, cfg) in m {
                let np = join(p, name);
                if cfg.is_null() {
                    out.insert(name.clone(), None);
                    continue;
                }
                check_keys(
                    cfg,
                    &np,
                    &[
                        "aliases",
                        "ipv4_address",
                        "ipv6_address",
                        "priority",
                        "link_local_ips",
                        "mac_address",
                        "driver_opts",
                        "gw_priority",
                        "interface_name",
                    ],
                )?;
                let cm = map(cfg, &np)?;
                let sn = ServiceNetwork {
                    aliases: cm
                        .get("aliases")
                        .map(|a| string_list(a, &join(&np, "aliases")))
                        .transpose()?
                        .unwrap_or_default(),
                    ipv4_address: cm
                        .get("ipv4_address")
                        .map(|a| string(a, &join(&np, "ipv4_address")))
                        .transpose()?,
                    ipv6_address: cm
                        .get("ipv6_address")
                        .map(|a| string(a, &join(&np, "ipv6_address")))
                        .transpose()?,
                };
                if let Some(ip) = &sn.ipv4_address {
                    if ip.parse::<std::net::Ipv4Addr>().is_err() {
                        let n = cm.get("ipv4_address").unwrap_or(cfg);
                        return Err(err(
                            n,
                            &join(&np, "ipv4_address"),
                            format!("invalid IPv4 address {ip:?}"),
                        ));
                    }
                }
                let empty = sn == ServiceNetwork::default();
                out.insert(name.clone(), (!empty).then_some(sn));
            }
        }
        _ => {
            return Err(err(
                v,
                p,
                format!("must be a list or mapping, not {}", v.kind()),
            ))
        }
    }
    Ok(out)
}

fn pull_policy(v: &Node, p: &str) -> Result<String, LoadError> {
    let s = string(v, p)?;
    let ok = matches!(
        s.as_str(),
        "always" | "never" | "missing" | "if_not_present" | "build" | "daily" | "weekly"
    ) || s
        .strip_prefix("every_")
        .is_some_and(|d| crate::units::parse_duration(d).is_some());
    if ok {
        Ok(s)
    } else {
        Err(err(v, p, format!("invalid pull policy {s:?}")))
    }
}

fn restart(v: &Node, p: &str) -> Result<String, LoadError> {
    let s = string(v, p)?;
    let ok = RESTART.contains(&s.as_str())
        || s.strip_prefix("on-failure:")
            .is_some_and(|n| n.parse::<u32>().is_ok());
    if ok {
        Ok(s)
    } else {
        Err(err(v, p, format!("invalid restart policy {s:?}")))
    }
}

fn file_refs(v: &Node, p: &str) -> Result<Vec<FileRef>, LoadError> {
    let Value::Seq(items) = &v.value else {
        return Err(err(v, p, format!("must be a list, not {}", v.kind())));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let ip = format!("{p}[{i}]");
            if let Value::Scalar(_) = n.value {
                return Ok(FileRef {
                    source: string(n, &ip)?,
                    target: None,
                    uid: None,
                    gid: None,
                    mode: None,
                });
            }
            check_keys(n, &ip, &["source", "target", "uid", "gid", "mode"])?;
            let m = map(n, &ip)?;
            let get = |k: &str| m.get(k).map(|x| string(x, &join(&ip, k))).transpose();
            Ok(FileRef {
                source: get("source")?.ok_or_else(|| err(n, &ip, "missing property \"source\""))?,
                target: get("target")?,
                uid: get("uid")?,
                gid: get("gid")?,
                mode: m
                    .get("mode")
                    .map(|x| file_mode(x, &join(&ip, "mode")))
                    .transpose()?,
            })
        })
        .collect()
}

fn ulimits(v: &Node, p: &str) -> Result<BTreeMap<String, Ulimit>, LoadError> {
    let mut out = BTreeMap::new();
    for (name, u) in map(v, p)? {
        let up = join(p, name);
        let limit = match &u.value {
            Value::Map(m) => {
                check_keys(u, &up, &["soft", "hard"])?;
                let get = |k: &str| {
                    m.get(k)
                        .ok_or_else(|| err(u, &up, format!("missing property {k:?}")))
                        .and_then(|x| int(x, &join(&up, k)))
                };
                let (soft, hard) = (get("soft")?, get("hard")?);
                if soft > hard {
                    return Err(err(
                        u,
                        &up,
                        format!("soft limit {soft} is greater than hard limit {hard}"),
                    ));
                }
                Ulimit::Pair { soft, hard }
            }
            _ => Ulimit::Single(int(u, &up)?),
        };
        out.insert(name.clone(), limit);
    }
    Ok(out)
}
