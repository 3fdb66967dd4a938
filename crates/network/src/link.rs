//! Links, addresses and routes through rtnetlink: bridges, veth endpoints, host subnets.
//!
//! Every function opens its own netlink connection on the current tokio runtime (cheap: one
//! socket), so callers may use any runtime. Work inside a container's namespace uses a socket
//! opened by a short-lived thread that joined the namespace (see [`crate::netns::run_in`]).

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use crate::ipam::{parse_mac, Subnet};
use crate::{netns, NetError, Result};

/// The main routing table id.
const RT_TABLE_MAIN: u32 = 254;

/// The positive errno of a netlink error reply, if it is one.
fn errno_of(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| c.get().abs()),
        _ => None,
    }
}

/// The current tokio runtime (netlink connections are driven by a task on it).
fn runtime() -> Result<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .map_err(|e| NetError::Other(format!("netlink needs a tokio runtime: {e}")))
}

/// A netlink connection in the caller's network namespace.
fn connect() -> Result<Handle> {
    let rt = runtime()?;
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|e| NetError::io("opening netlink socket", e))?;
    rt.spawn(conn);
    Ok(handle)
}

/// A netlink connection whose socket lives in the network namespace `ns` (a socket stays in
/// the namespace it was created in, whichever thread uses it later).
fn connect_in(ns: &File) -> Result<Handle> {
    let rt = runtime()?;
    let enter = rt.clone();
    let (conn, handle, _) = netns::run_in(ns, move || {
        let _guard = enter.enter();
        rtnetlink::new_connection()
    })?
    .map_err(|e| NetError::io("opening netlink socket in container netns", e))?;
    rt.spawn(conn);
    Ok(handle)
}

/// The index of link `name`, None when it does not exist.
async fn link_index(handle: &Handle, name: &str) -> Result<Option<u32>> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(msg)) => Ok(Some(msg.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(NetError::netlink(format!("looking up link {name}"), e)),
    }
}

/// The index of link `name` and whether it is a bridge; None when absent.
async fn link_bridge_info(handle: &Handle, name: &str) -> Result<Option<(u32, bool)>> {
    use rtnetlink::packet_route::link::{LinkAttribute, LinkInfo};
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(msg)) => {
            let bridge = msg.attributes.iter().any(|a| match a {
                LinkAttribute::LinkInfo(infos) => infos
                    .iter()
                    .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge))),
                _ => false,
            });
            Ok(Some((msg.header.index, bridge)))
        }
        Ok(None) => Ok(None),
        Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(NetError::netlink(format!("looking up link {name}"), e)),
    }
}

/// Whether a link named `name` exists on the host, and if so whether it is
/// a bridge: None = absent, Some(true) = a bridge, Some(false) = another kind.
pub async fn link_is_bridge(name: &str) -> Result<Option<bool>> {
    let handle = connect()?;
    Ok(link_bridge_info(&handle, name).await?.map(|(_, b)| b))
}

/// IPv4 subnets in use on the host: destinations of main-table routes (except the default
/// route) and the subnets of interface addresses.
pub async fn host_subnets() -> Result<Vec<Subnet>> {
    host_subnets_except(&[]).await
}

/// Like [`host_subnets`], ignoring routes and addresses of the interfaces named in `ignore`
/// (e.g. this daemon's own bridges, so that their subnets stay reusable after a restart).
pub async fn host_subnets_except(ignore: &[String]) -> Result<Vec<Subnet>> {
    let handle = connect()?;
    let mut ignored = Vec::new();
    for name in ignore {
        if let Some(i) = link_index(&handle, name).await? {
            ignored.push(i);
        }
    }
    let mut out = Vec::new();
    let mut routes = handle
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute();
    while let Some(r) = routes
        .try_next()
        .await
        .map_err(|e| NetError::netlink("listing IPv4 routes", e))?
    {
        let mut table = u32::from(r.header.table);
        let mut dst = None;
        let mut oif = None;
        for a in &r.attributes {
            match a {
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = Some(*ip),
                RouteAttribute::Oif(i) => oif = Some(*i),
                _ => {}
            }
        }
        if table != RT_TABLE_MAIN || r.header.destination_prefix_length == 0 {
            continue;
        }
        if oif.is_some_and(|i| ignored.contains(&i)) {
            continue;
        }
        if let Some(ip) = dst {
            out.push(Subnet::new(ip, r.header.destination_prefix_length));
        }
    }
    let mut addrs = handle.address().get().execute();
    while let Some(a) = addrs
        .try_next()
        .await
        .map_err(|e| NetError::netlink("listing addresses", e))?
    {
        if a.header.family != AddressFamily::Inet || ignored.contains(&a.header.index) {
            continue;
        }
        let ip = a.attributes.iter().find_map(|at| match at {
            AddressAttribute::Local(IpAddr::V4(ip)) | AddressAttribute::Address(IpAddr::V4(ip)) => {
                Some(*ip)
            }
            _ => None,
        });
        if let Some(ip) = ip {
            out.push(Subnet::new(ip, a.header.prefix_len));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Creates bridge `name` if missing, gives it `gateway/prefix` if it lacks it, brings it up
/// and sets `route_localnet=1` on it (so DNAT of 127.0.0.1 to containers works). Idempotent.
/// An existing link of another kind is an error (never adopted). A bridge it
/// creates gets the fixed MAC `02:42:` + the gateway's bytes, as its ports change.
pub async fn ensure_bridge(name: &str, subnet: Subnet, gateway: Ipv4Addr) -> Result<()> {
    let handle = connect()?;
    let index = match link_bridge_info(&handle, name).await? {
        Some((i, true)) => i,
        Some((_, false)) => {
            return Err(NetError::Other(format!(
                "existing interface {name} is not a bridge"
            )))
        }
        None => {
            // A fixed MAC: otherwise the kernel gives the bridge the lowest
            // MAC of its ports, which changes as veths come and go and leaves
            // containers with a stale ARP entry for the gateway.
            let mac = crate::ipam::mac_from_ip(gateway);
            let mut builder = LinkBridge::new(name).up();
            if let Some(m) = parse_mac(&mac) {
                builder = builder.address(m.to_vec());
            }
            match handle.link().add(builder.build()).execute().await {
                Ok(()) => {}
                Err(e) if errno_of(&e) == Some(libc::EEXIST) => {}
                Err(e) => return Err(NetError::netlink(format!("creating bridge {name}"), e)),
            }
            link_index(&handle, name)
                .await?
                .ok_or_else(|| NetError::Other(format!("bridge {name} vanished after creation")))?
        }
    };
    let mut has_addr = false;
    let mut addrs = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    while let Some(a) = addrs
        .try_next()
        .await
        .map_err(|e| NetError::netlink(format!("listing addresses of {name}"), e))?
    {
        let ours = a.header.prefix_len == subnet.prefix
            && a.attributes.iter().any(|at| {
                matches!(at, AddressAttribute::Local(IpAddr::V4(ip)) | AddressAttribute::Address(IpAddr::V4(ip)) if *ip == gateway)
            });
        has_addr |= ours;
    }
    if !has_addr {
        match handle
            .address()
            .add(index, IpAddr::V4(gateway), subnet.prefix)
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if errno_of(&e) == Some(libc::EEXIST) => {}
            Err(e) => {
                return Err(NetError::netlink(
                    format!("adding {gateway}/{} to {name}", subnet.prefix),
                    e,
                ))
            }
        }
    }
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| NetError::netlink(format!("setting {name} up"), e))?;
    let knob = format!("/proc/sys/net/ipv4/conf/{name}/route_localnet");
    std::fs::write(&knob, "1").map_err(|e| NetError::io(format!("writing {knob}"), e))?;
    Ok(())
}

/// Deletes bridge (or any link) `name`; Ok if absent.
pub async fn delete_bridge(name: &str) -> Result<()> {
    delete_link(name).await
}

async fn delete_link(name: &str) -> Result<()> {
    let handle = connect()?;
    let Some(index) = link_index(&handle, name).await? else {
        return Ok(());
    };
    match handle.link().del(index).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(()),
        Err(e) => Err(NetError::netlink(format!("deleting link {name}"), e)),
    }
}

/// One container interface: a veth pair between a bridge and a network namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The bridge the host side is attached to.
    pub bridge: String,
    /// The container's network namespace file.
    pub netns: PathBuf,
    /// Host-side interface name (`veth` + 7 hex).
    pub host_ifname: String,
    /// Interface name inside the namespace (`eth0`, ...).
    pub ifname: String,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The subnet prefix length.
    pub prefix: u8,
    /// The container-side MAC (`aa:bb:cc:dd:ee:ff`).
    pub mac: String,
    /// Default route via this gateway when Some.
    pub gateway: Option<Ipv4Addr>,
}

/// A random host-side veth name: `veth` + 7 hex digits.
pub fn random_veth_name() -> String {
    format!("veth{:07x}", rand::random::<u32>() & 0x0fff_ffff)
}

/// Creates the endpoint: a veth whose peer is created directly inside `ep.netns` as
/// `ep.ifname` with `ep.mac`; the host side enslaved to `ep.bridge` and up; then inside the
/// namespace the peer is set up (the kernel refuses `up` on a peer created in another
/// namespace: ENOTCONN), gets its address and (when `ep.gateway` is Some) the default route.
/// All-or-nothing.
pub async fn add_endpoint(ep: &Endpoint) -> Result<()> {
    let mac = parse_mac(&ep.mac)
        .ok_or_else(|| NetError::Other(format!("invalid MAC address {:?}", ep.mac)))?;
    let ns = netns::open(&ep.netns)?;
    let handle = connect()?;
    let bridge = link_index(&handle, &ep.bridge)
        .await?
        .ok_or_else(|| NetError::Other(format!("bridge {} not found", ep.bridge)))?;
    let peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(ep.ifname.clone())
        .address(mac.to_vec())
        .setns_by_fd(ns.as_raw_fd())
        .build();
    let veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(ep.host_ifname.clone())
        .controller(bridge)
        .up()
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    handle.link().add(veth).execute().await.map_err(|e| {
        NetError::netlink(
            format!(
                "creating veth {} (peer {} in {})",
                ep.host_ifname,
                ep.ifname,
                ep.netns.display()
            ),
            e,
        )
    })?;
    // Hairpin mode: a container reaching its own published port through a
    // host address has its packets DNATed back out of the port they came in
    // (bridge netfilter), which a bridge drops unless the port allows it.
    let hairpin = format!("/sys/class/net/{}/brport/hairpin_mode", ep.host_ifname);
    let configured = match std::fs::write(&hairpin, "1") {
        Ok(()) => configure_inside(&ns, ep).await,
        Err(e) => Err(NetError::io(format!("writing {hairpin}"), e)),
    };
    match configured {
        Ok(()) => Ok(()),
        Err(e) => {
            // Deleting the host side deletes its peer too.
            let _ = delete_link(&ep.host_ifname).await;
            Err(e)
        }
    }
}

/// Address and default route inside the endpoint's namespace.
async fn configure_inside(ns: &File, ep: &Endpoint) -> Result<()> {
    let handle = connect_in(ns)?;
    let index = link_index(&handle, &ep.ifname).await?.ok_or_else(|| {
        NetError::Other(format!(
            "{} not found in {} after creation",
            ep.ifname,
            ep.netns.display()
        ))
    })?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| NetError::netlink(format!("setting {} up", ep.ifname), e))?;
    handle
        .address()
        .add(index, IpAddr::V4(ep.ip), ep.prefix)
        .execute()
        .await
        .map_err(|e| {
            NetError::netlink(
                format!("adding {}/{} to {}", ep.ip, ep.prefix, ep.ifname),
                e,
            )
        })?;
    if let Some(gw) = ep.gateway {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gw)
            .output_interface(index)
            .build();
        handle
            .route()
            .add(route)
            .execute()
            .await
            .map_err(|e| NetError::netlink(format!("adding default route via {gw}"), e))?;
    }
    Ok(())
}

/// Deletes the veth `host_ifname` (and with it its peer); Ok if absent.
///
/// This is slow (15-35 ms measured here: the kernel waits for RCU grace periods while deleting
/// a device). When the container's namespace is being removed anyway, [`crate::netns::remove`]
/// alone is enough: once nothing holds the namespace, the kernel destroys it and its veth
/// pairs in the background.
pub async fn remove_endpoint(host_ifname: &str) -> Result<()> {
    delete_link(host_ifname).await
}
