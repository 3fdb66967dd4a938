//! `berth network ...`: create, ls, inspect, rm, prune, connect and
//! disconnect, with the docker CLI's flags, output and errors.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use berth_client::Client;
use berth_spec::api::EndpointSettings;
use berth_spec::network_api::{
    EndpointIpamConfig, Ipam, IpamPool, Network, NetworkConnectRequest, NetworkCreateRequest,
    NetworkDisconnectRequest,
};
use clap::{Args, Subcommand};

use super::error::{not_found_as, CliError, CliResult};
use super::format::{natural_cmp, render, row};
use super::inspect::{found, print_inspect};
use super::manage::{client_subcommands, kv_map};
use super::output::{confirm, out, outln};
use super::template::{Val, ECHO_KEY};
use super::timefmt::go_time_string;

/// `berth network ...`.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Connect a container to a network
    #[command(override_usage = "berth network connect [OPTIONS] NETWORK CONTAINER")]
    Connect(ConnectArgs),
    /// Create a network
    #[command(override_usage = "berth network create [OPTIONS] NETWORK")]
    Create(CreateArgs),
    /// Disconnect a container from a network
    #[command(override_usage = "berth network disconnect [OPTIONS] NETWORK CONTAINER")]
    Disconnect(DisconnectArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(RmArgs),
}

/// `berth network create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address", value_name = "map")]
    pub aux_address: Vec<String>,
    /// The network from which to copy the configuration
    #[arg(long = "config-from", value_name = "string")]
    pub config_from: Option<String>,
    /// Create a configuration only network
    #[arg(long = "config-only")]
    pub config_only: bool,
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge", value_name = "string")]
    pub driver: String,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long, value_name = "strings")]
    pub gateway: Vec<String>,
    /// Create swarm routing-mesh network
    #[arg(long)]
    pub ingress: bool,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_name = "strings")]
    pub ip_range: Vec<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default", value_name = "string")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt", value_name = "map")]
    pub ipam_opt: Vec<String>,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Set metadata on a network
    #[arg(long, value_name = "list")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    /// Control the network's scope
    #[arg(long, value_name = "string")]
    pub scope: Option<String>,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_name = "strings")]
    pub subnet: Vec<String>,
    /// The network's name
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

/// `berth network ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Provide filter values (e.g. 'driver=bridge')
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print networks using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `berth network inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Networks to inspect
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// `berth network rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Networks to remove
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// `berth network prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Provide filter values (e.g. 'until=<timestamp>')
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `berth network connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long, value_name = "strings")]
    pub alias: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_name = "strings")]
    pub driver_opt: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long, value_name = "string")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long, value_name = "string")]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long, value_name = "list")]
    pub link: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_name = "strings")]
    pub link_local_ip: Vec<String>,
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth network disconnect`.
#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

client_subcommands!(NetworkCommand {
    Create => create,
    Ls => ls,
    Inspect => inspect,
    Rm => rm,
    Prune => prune,
    Connect => connect,
    Disconnect => disconnect,
});

/// The IPv4 netmask of a prefix length (0..=32).
fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

/// An IPv4 CIDR as (network address, prefix), host bits cleared.
fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (ip, prefix) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((u32::from(ip) & mask(prefix), prefix))
}

/// docker's `subnetMatches`: whether `data` (an address or a CIDR) lies in
/// `subnet`.
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let (net, prefix) = parse_cidr(subnet)
        .ok_or_else(|| format!("Invalid subnet {subnet} : invalid CIDR address: {subnet}"))?;
    let ip = match data.split_once('/') {
        Some(_) => parse_cidr(data)
            .map(|(a, _)| a)
            .ok_or_else(|| format!("Invalid CIDR {data} : invalid CIDR address: {data}"))?,
        None => u32::from(
            data.parse::<Ipv4Addr>()
                .map_err(|_| format!("Invalid address {data}"))?,
        ),
    };
    Ok(ip & mask(prefix) == net)
}

/// docker's `consolidateIpam`: one pool per subnet, with the ranges and
/// gateways that fall in it.
pub fn consolidate_ipam(
    subnets: &[String],
    ranges: &[String],
    gateways: &[String],
    aux: &BTreeMap<String, String>,
) -> Result<Vec<IpamPool>, String> {
    if subnets.len() < ranges.len() || subnets.len() < gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut pools: Vec<IpamPool> = Vec::new();
    for s in subnets {
        for p in &pools {
            if subnet_matches(s, &p.subnet)? || subnet_matches(&p.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not allowed".into());
            }
        }
        pools.push(IpamPool {
            subnet: s.clone(),
            ..Default::default()
        });
    }
    for r in ranges {
        let mut matched = false;
        for p in pools.iter_mut() {
            if !subnet_matches(&p.subnet, r)? {
                continue;
            }
            if !p.ip_range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({})",
                    p.ip_range, p.subnet
                ));
            }
            p.ip_range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in gateways {
        let mut matched = false;
        for p in pools.iter_mut() {
            if !subnet_matches(&p.subnet, g)? {
                continue;
            }
            if !p.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                    p.gateway, p.subnet
                ));
            }
            p.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, addr) in aux {
        let mut matched = false;
        for p in pools.iter_mut() {
            if !subnet_matches(&p.subnet, addr)? {
                continue;
            }
            p.auxiliary_addresses
                .get_or_insert_with(BTreeMap::new)
                .insert(key.clone(), addr.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    Ok(pools)
}

/// The create request the docker CLI sends for these flags.
pub fn create_request(a: &CreateArgs) -> Result<NetworkCreateRequest, String> {
    let pools = consolidate_ipam(&a.subnet, &a.ip_range, &a.gateway, &kv_map(&a.aux_address))?;
    Ok(NetworkCreateRequest {
        name: a.name.clone(),
        check_duplicate: true,
        driver: a.driver.clone(),
        scope: a.scope.clone().unwrap_or_default(),
        enable_ipv6: a.ipv6,
        ipam: Some(Ipam {
            driver: a.ipam_driver.clone(),
            options: Some(kv_map(&a.ipam_opt)),
            config: pools,
        }),
        internal: a.internal,
        attachable: a.attachable,
        ingress: a.ingress,
        config_only: a.config_only,
        config_from: a
            .config_from
            .as_ref()
            .map(|n| berth_spec::network_api::ConfigReference { network: n.clone() }),
        options: Some(kv_map(&a.opt)),
        labels: Some(kv_map(&a.label)),
    })
}

async fn create(client: &Client, a: &CreateArgs) -> CliResult {
    let req = create_request(a).map_err(CliError::msg)?;
    let resp = client.network_create(&req).await?;
    if !resp.warning.is_empty() {
        eprintln!("{}", resp.warning);
    }
    outln(&resp.id)
}

const LS_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// The template value of one `network ls` row.
pub fn network_row(n: &Network, trunc: bool) -> Val {
    let id = if trunc {
        n.id.chars().take(12).collect()
    } else {
        n.id.clone()
    };
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let label_map = Val::Obj(
        n.labels
            .iter()
            .map(|(k, v)| (k.clone(), Val::s(v.clone())))
            .collect(),
    );
    row(
        vec![
            ("ID", id),
            ("Name", n.name.clone()),
            ("Driver", n.driver.clone()),
            ("Scope", n.scope.clone()),
            ("IPv6", n.enable_ipv6.to_string()),
            ("Internal", n.internal.to_string()),
            ("Labels", labels.join(",")),
            (
                "CreatedAt",
                chrono::DateTime::parse_from_rfc3339(&n.created)
                    .map(|t| go_time_string(t.with_timezone(&chrono::Utc)))
                    .unwrap_or_else(|_| n.created.clone()),
            ),
        ],
        vec![("Label", label_map)],
    )
}

/// Column titles of `network ls`.
pub fn network_header() -> Val {
    row(
        vec![
            ("ID", "NETWORK ID".into()),
            ("Name", "NAME".into()),
            ("Driver", "DRIVER".into()),
            ("Scope", "SCOPE".into()),
            ("IPv6", "IPV6".into()),
            ("Internal", "INTERNAL".into()),
            ("Labels", "LABELS".into()),
            ("CreatedAt", "CREATED AT".into()),
        ],
        vec![("Label", Val::s(ECHO_KEY))],
    )
}

async fn ls(client: &Client, a: &LsArgs) -> CliResult {
    let filters = super::filters_from(&a.filter)?;
    let mut list = client.networks_list(&filters).await?;
    list.sort_by(|x, y| natural_cmp(&x.name, &y.name));
    let format = match (&a.format, a.quiet) {
        (_, true) => "{{.ID}}".to_string(),
        (Some(f), false) if !f.is_empty() && f != "table" => f.clone(),
        _ => LS_FORMAT.to_string(),
    };
    let rows: Vec<Val> = list.iter().map(|n| network_row(n, !a.no_trunc)).collect();
    out(&render(&format, &network_header(), &rows)?)
}

async fn inspect(client: &Client, a: &InspectArgs) -> CliResult {
    print_inspect(&a.networks, a.format.as_deref(), "network", async |name| {
        found(client.network_inspect_raw(name).await)
    })
    .await
}

async fn rm(client: &Client, a: &RmArgs) -> CliResult {
    let mut failed = false;
    for name in &a.networks {
        match client.network_remove(name).await {
            Ok(()) => outln(name)?,
            Err(e) => {
                failed = true;
                eprintln!("{}", not_found_as(e, "network", name));
            }
        }
    }
    if failed {
        Err(CliError::msg(""))
    } else {
        Ok(())
    }
}

async fn prune(client: &Client, a: &PruneArgs) -> CliResult {
    let filters = super::filters_from(&a.filter)?;
    if !a.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?",
        )
    {
        return Ok(());
    }
    let report = client.networks_prune(&filters).await?;
    let deleted = report.networks_deleted.unwrap_or_default();
    if deleted.is_empty() {
        return Ok(());
    }
    out(&super::output::prune_report(
        "Deleted Networks:",
        &deleted,
        None,
    ))
}

/// The endpoint settings `network connect` sends.
pub fn connect_request(a: &ConnectArgs) -> Result<NetworkConnectRequest, String> {
    let links = super::netopts::parse_links(&a.link)?;
    let driver_opts = if a.driver_opt.is_empty() {
        None
    } else {
        Some(serde_json::to_value(kv_map(&a.driver_opt)).map_err(|e| e.to_string())?)
    };
    Ok(NetworkConnectRequest {
        container: a.container.clone(),
        endpoint_config: Some(EndpointSettings {
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: a.ip.clone().unwrap_or_default(),
                ipv6_address: a.ip6.clone().unwrap_or_default(),
                link_local_ips: (!a.link_local_ip.is_empty()).then(|| a.link_local_ip.clone()),
            }),
            links,
            aliases: (!a.alias.is_empty()).then(|| a.alias.clone()),
            driver_opts,
            ..Default::default()
        }),
    })
}

async fn connect(client: &Client, a: &ConnectArgs) -> CliResult {
    let req = connect_request(a)
        .map_err(|e| CliError::status(125, format!("{e}\nSee 'berth network connect --help'.")))?;
    client.network_connect(&a.network, &req).await?;
    Ok(())
}

async fn disconnect(client: &Client, a: &DisconnectArgs) -> CliResult {
    let req = NetworkDisconnectRequest {
        container: a.container.clone(),
        force: a.force,
    };
    client.network_disconnect(&a.network, &req).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn ipam_consolidates_like_docker() {
        let none = BTreeMap::new();
        let pools = consolidate_ipam(
            &s(&["10.99.0.0/24"]),
            &s(&["10.99.0.128/25"]),
            &s(&["10.99.0.254"]),
            &none,
        )
        .unwrap();
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].subnet, "10.99.0.0/24");
        assert_eq!(pools[0].ip_range, "10.99.0.128/25");
        assert_eq!(pools[0].gateway, "10.99.0.254");
        assert_eq!(
            consolidate_ipam(&[], &[], &s(&["1.2.3.4"]), &none).unwrap_err(),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            consolidate_ipam(&s(&["10.0.0.0/8"]), &[], &s(&["11.0.0.1"]), &none).unwrap_err(),
            "no matching subnet for gateway 11.0.0.1"
        );
        assert_eq!(
            consolidate_ipam(&s(&["10.0.0.0/8", "10.1.0.0/16"]), &[], &[], &none).unwrap_err(),
            "multiple overlapping subnet configuration is not allowed"
        );
    }

    #[test]
    fn create_request_has_docker_fields() {
        let a = CreateArgs {
            attachable: false,
            aux_address: vec![],
            config_from: None,
            config_only: false,
            driver: "bridge".into(),
            gateway: vec![],
            ingress: false,
            internal: true,
            ip_range: vec![],
            ipam_driver: "default".into(),
            ipam_opt: vec![],
            ipv6: false,
            label: s(&["a", "b=c"]),
            opt: s(&["x=y"]),
            scope: None,
            subnet: s(&["10.9.0.0/24"]),
            name: "n1".into(),
        };
        let req = create_request(&a).unwrap();
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["Name"], "n1");
        assert_eq!(v["CheckDuplicate"], true);
        assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "10.9.0.0/24");
        assert_eq!(v["Labels"]["a"], "");
        assert_eq!(v["Labels"]["b"], "c");
        assert_eq!(v["Options"]["x"], "y");
        assert_eq!(v["Internal"], true);
    }

    #[test]
    fn ls_table_matches_docker_layout() {
        let nets = [
            Network {
                name: "bridge".into(),
                id: "dc16cab7791a0000000000000000000000000000000000000000000000000000".into(),
                driver: "bridge".into(),
                scope: "local".into(),
                created: "2026-11-21T11:05:38.12549499Z".into(),
                ..Default::default()
            },
            Network {
                name: "none".into(),
                id: "6791779c2ca90000000000000000000000000000000000000000000000000000".into(),
                driver: "null".into(),
                scope: "local".into(),
                ..Default::default()
            },
        ];
        let rows: Vec<Val> = nets.iter().map(|n| network_row(n, true)).collect();
        let text = render(LS_FORMAT, &network_header(), &rows).unwrap();
        assert_eq!(
            text,
            "NETWORK ID     NAME      DRIVER    SCOPE\n\
             dc16cab7791a   bridge    bridge    local\n\
             6791779c2ca9   none      null      local\n"
        );
        let text = render("{{.CreatedAt}} {{.IPv6}}", &network_header(), &rows[..1]).unwrap();
        assert_eq!(text, "2026-11-21 11:05:38.12549499 +0000 UTC false\n");
    }

    #[test]
    fn connect_request_carries_endpoint_config() {
        let a = ConnectArgs {
            alias: s(&["db"]),
            driver_opt: vec![],
            ip: Some("172.20.0.9".into()),
            ip6: None,
            link: s(&["web:w"]),
            link_local_ip: vec![],
            network: "n".into(),
            container: "c".into(),
        };
        let v = serde_json::to_value(connect_request(&a).unwrap()).unwrap();
        assert_eq!(v["Container"], "c");
        assert_eq!(v["EndpointConfig"]["Aliases"][0], "db");
        assert_eq!(v["EndpointConfig"]["Links"][0], "web:w");
        assert_eq!(
            v["EndpointConfig"]["IPAMConfig"]["IPv4Address"],
            "172.20.0.9"
        );
    }
}
