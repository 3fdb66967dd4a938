//! `berth ps`: the container list with docker's columns and `--format`.

use berth_client::{Client, ListOptions};
use berth_spec::api::{ContainerSummary, Port};
use berth_spec::units::human_size;
use chrono::{DateTime, TimeZone, Utc};
use clap::Args;

use super::error::CliResult;
use super::format::{ellipsis, render, row};
use super::output::join_host_port;
use super::output::{go_quote, out};
use super::template::{Val, ECHO_KEY};
use super::timefmt::ago;

/// `berth ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print containers using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true, value_name = "int")]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// Docker's `DisplayablePorts`: ports sorted by private port, IP, public
/// port and protocol; consecutive ports published to the same numbers
/// (or only exposed) grouped into ranges (`0.0.0.0:8000-8002->8000-8002/tcp`,
/// `7000-7001/udp`); other mappings (`0.0.0.0:18080->80/tcp`) listed last.
pub fn display_ports(ports: &[Port]) -> String {
    let mut sorted: Vec<&Port> = ports.iter().collect();
    sorted.sort_by(|a, b| {
        let pa = a.public_port.unwrap_or(0);
        let pb = b.public_port.unwrap_or(0);
        (a.private_port, &a.ip, pa, &a.kind).cmp(&(b.private_port, &b.ip, pb, &b.kind))
    });
    // (key, first, last) in creation order; key is "proto" or "ip/proto".
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut result: Vec<String> = Vec::new();
    let mut mappings: Vec<String> = Vec::new();
    let form = |key: &str, first: u16, last: u16| -> String {
        let (ip, proto) = match key.rsplit_once('/') {
            Some((ip, proto)) => (ip, proto),
            None => ("", key),
        };
        let mut group = first.to_string();
        if first != last {
            group = format!("{group}-{last}");
        }
        if !ip.is_empty() {
            group = format!("{}->{group}", join_host_port(ip, &group));
        }
        format!("{group}/{proto}")
    };
    for p in sorted {
        let current = p.private_port;
        let mut key = p.kind.clone();
        if !p.ip.is_empty() {
            let public = p.public_port.unwrap_or(0);
            if public != current {
                mappings.push(format!(
                    "{}->{}/{}",
                    join_host_port(&p.ip, &public.to_string()),
                    current,
                    p.kind
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.kind);
        }
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, current, current)),
            Some(g) if u32::from(current) == u32::from(g.2) + 1 => g.2 = current,
            Some(g) => {
                result.push(form(&g.0, g.1, g.2));
                g.1 = current;
                g.2 = current;
            }
        }
    }
    for (key, first, last) in &groups {
        result.push(form(key, *first, *last));
    }
    result.extend(mappings);
    result.join(", ")
}

fn strip_id(id: &str, trunc: bool) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    if trunc {
        hex.chars().take(12).collect()
    } else {
        hex.to_string()
    }
}

/// The template value of one container row.
pub fn container_row(c: &ContainerSummary, trunc: bool, now: DateTime<Utc>) -> Val {
    let names: Vec<String> = c
        .names
        .iter()
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    let names = if trunc {
        names
            .iter()
            .find(|n| !n.contains('/'))
            .map(|n| vec![n.clone()])
            .unwrap_or(names)
    } else {
        names
    };
    let image = if c.image.starts_with("sha256:") {
        strip_id(&c.image, trunc)
    } else {
        c.image.clone()
    };
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    let mut labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    let size = {
        let rw = human_size(c.size_rw.unwrap_or(0).max(0) as u64, 3);
        match c.size_root_fs {
            Some(v) if v > 0 => format!("{rw} (virtual {})", human_size(v as u64, 3)),
            _ => rw,
        }
    };
    let created_at = Utc
        .timestamp_opt(c.created, 0)
        .single()
        .map(super::timefmt::go_time_string)
        .unwrap_or_default();
    let networks: Vec<String> = c.network_settings.networks.keys().cloned().collect();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                m.source.clone()
            } else {
                m.name.clone()
            }
        })
        .map(|m| if trunc { ellipsis(&m, 15) } else { m })
        .collect();
    let local_volumes = c.mounts.iter().filter(|m| m.driver == "local").count();
    let label_map = Val::Obj(
        c.labels
            .iter()
            .map(|(k, v)| (k.clone(), Val::s(v.clone())))
            .collect(),
    );
    row(
        vec![
            ("ID", strip_id(&c.id, trunc)),
            ("Image", image),
            ("Command", go_quote(&command)),
            ("CreatedAt", created_at),
            ("RunningFor", ago(c.created, now)),
            ("Ports", display_ports(&c.ports)),
            ("State", c.state.clone()),
            ("Status", c.status.clone()),
            ("Size", size),
            ("Names", names.join(",")),
            ("Labels", labels.join(",")),
            ("Mounts", mounts.join(",")),
            ("Networks", networks.join(",")),
            ("LocalVolumes", local_volumes.to_string()),
        ],
        vec![("Label", label_map)],
    )
}

/// Column titles of the container table.
pub fn container_header() -> Val {
    row(
        vec![
            ("ID", "CONTAINER ID".into()),
            ("Image", "IMAGE".into()),
            ("Command", "COMMAND".into()),
            ("CreatedAt", "CREATED AT".into()),
            ("RunningFor", "CREATED".into()),
            ("Ports", "PORTS".into()),
            ("State", "STATE".into()),
            ("Status", "STATUS".into()),
            ("Size", "SIZE".into()),
            ("Names", "NAMES".into()),
            ("Labels", "LABELS".into()),
            ("Mounts", "MOUNTS".into()),
            ("Networks", "NETWORKS".into()),
            ("LocalVolumes", "LOCAL VOLUMES".into()),
        ],
        vec![("Label", Val::s(ECHO_KEY))],
    )
}

/// `berth ps`.
pub async fn ps(client: &Client, args: &PsArgs) -> CliResult {
    let filters = super::filters_from(&args.filter)?;
    let mut opts = ListOptions {
        all: args.all,
        limit: None,
        size: args.size,
        filters,
    };
    if args.latest {
        opts.limit = Some(1);
        opts.all = true;
    }
    if args.last > 0 {
        opts.limit = Some(args.last);
        opts.all = true;
    }
    let format = match (&args.format, args.quiet) {
        (_, true) => "{{.ID}}".to_string(),
        (Some(f), false) if !f.is_empty() && f != "table" => f.clone(),
        _ if args.size => format!("{DEFAULT_FORMAT}\t{{{{.Size}}}}"),
        _ => DEFAULT_FORMAT.to_string(),
    };
    // Sizes are only worth computing when shown.
    opts.size =
        opts.size || (!args.quiet && (format.contains(".Size") || format.contains("json .")));
    let list = client.containers_list(&opts).await?;
    let now = Utc::now();
    let rows: Vec<Val> = list
        .iter()
        .map(|c| container_row(c, !args.no_trunc, now))
        .collect();
    out(&render(&format, &container_header(), &rows)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sample(now: DateTime<Utc>) -> ContainerSummary {
        ContainerSummary {
            id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            names: vec!["/web".into()],
            image: "busybox:local".into(),
            command: "sleep 1000000000000000".into(),
            created: now.timestamp() - 125,
            status: "Up 2 minutes".into(),
            state: "running".into(),
            labels: BTreeMap::from([("a".to_string(), "1".to_string())]),
            ..Default::default()
        }
    }

    #[test]
    fn ps_table_matches_docker_layout() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let rows = vec![container_row(&sample(now), true, now)];
        let out = render(DEFAULT_FORMAT, &container_header(), &rows).unwrap();
        let want = "CONTAINER ID   IMAGE           COMMAND                  CREATED         STATUS         PORTS     NAMES\n\
                    0123456789ab   busybox:local   \"sleep 1000000000000…\"   2 minutes ago   Up 2 minutes             web\n";
        assert_eq!(out, want);
    }

    #[test]
    fn ps_formats_and_labels() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let rows = vec![container_row(&sample(now), false, now)];
        let out = render(
            "{{.Names}} {{.Label \"a\"}} {{.Labels}} {{.State}}",
            &container_header(),
            &rows,
        )
        .unwrap();
        assert_eq!(out, "web 1 a=1 running\n");
        let out = render("{{json .}}", &container_header(), &rows).unwrap();
        assert!(
            out.starts_with("{\"Command\":\"\\\"sleep 1000000000000000\\\"\",\"CreatedAt\":"),
            "{out}"
        );
        assert!(!out.contains("Label\""), "{out}");
    }

    #[test]
    fn ports_display() {
        let ports = vec![
            Port {
                ip: "0.0.0.0".into(),
                private_port: 80,
                public_port: Some(8080),
                kind: "tcp".into(),
            },
            Port {
                ip: String::new(),
                private_port: 443,
                public_port: None,
                kind: "tcp".into(),
            },
        ];
        assert_eq!(display_ports(&ports), "443/tcp, 0.0.0.0:8080->80/tcp");
    }

    #[test]
    fn ports_group_ranges_like_docker() {
        let p = |ip: &str, private: u16, public: Option<u16>, kind: &str| Port {
            ip: ip.into(),
            private_port: private,
            public_port: public,
            kind: kind.into(),
        };
        let mut ports = vec![
            p("127.0.0.1", 9000, Some(9000), "tcp"),
            p("0.0.0.0", 80, Some(18080), "tcp"),
            p("::", 80, Some(18080), "tcp"),
            p("127.0.0.1", 90, Some(32769), "udp"),
            p("", 6379, None, "tcp"),
            p("", 7000, None, "udp"),
            p("", 7001, None, "udp"),
        ];
        for port in 8000..=8002 {
            ports.push(p("0.0.0.0", port, Some(port), "tcp"));
            ports.push(p("::", port, Some(port), "tcp"));
        }
        assert_eq!(
            display_ports(&ports),
            "6379/tcp, 7000-7001/udp, 0.0.0.0:8000-8002->8000-8002/tcp, [::]:8000-8002->8000-8002/tcp, \
             127.0.0.1:9000->9000/tcp, 0.0.0.0:18080->80/tcp, [::]:18080->80/tcp, 127.0.0.1:32769->90/udp"
        );
        let gap = vec![
            p("", 80, None, "tcp"),
            p("", 82, None, "tcp"),
            p("", 83, None, "tcp"),
        ];
        assert_eq!(display_ports(&gap), "80/tcp, 82-83/tcp");
    }
}
