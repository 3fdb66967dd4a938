//! Integration tests (root): own bridge, own namespaces, own firewall prefix; everything is
//! cleaned up by guards even when an assertion fails.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_network::firewall::{Firewall, NetworkRules, PortRule, Proto};
use berth_network::ipam::{choose_subnet, mac_from_ip, Subnet};
use berth_network::link::{self, Endpoint};
use berth_network::{netns, ports};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Deletes the bridge, the namespaces and the firewall chains on drop.
struct Guard {
    bridges: Vec<String>,
    namespaces: Vec<PathBuf>,
    firewall: Option<Firewall>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(fw) = &self.firewall {
            let _ = fw.teardown();
        }
        for ns in &self.namespaces {
            let _ = netns::remove(ns);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for b in &self.bridges {
            let _ = rt.block_on(link::delete_bridge(b));
        }
    }
}

/// A free /24 in 10.<second>.x.0 not used on the host.
fn pick_subnet(rt: &tokio::runtime::Runtime, second: u8) -> Subnet {
    let taken = rt.block_on(link::host_subnets()).unwrap();
    let pid = std::process::id();
    let cands: Vec<Subnet> = (0..64u32)
        .map(|i| Subnet::new(Ipv4Addr::new(10, second, ((pid + i) % 256) as u8, 0), 24))
        .collect();
    choose_subnet(&cands, &taken).expect("free test subnet")
}

fn endpoint(bridge: &str, ns: &Path, subnet: Subnet, n: u32) -> Endpoint {
    let ip = subnet.nth(n).unwrap();
    Endpoint {
        bridge: bridge.into(),
        netns: ns.to_path_buf(),
        host_ifname: link::random_veth_name(),
        ifname: "eth0".into(),
        ip,
        prefix: subnet.prefix,
        mac: mac_from_ip(ip),
        gateway: Some(subnet.gateway()),
    }
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn iptables_save() -> String {
    String::from_utf8(Command::new("iptables-save").output().unwrap().stdout).unwrap()
}

fn echo_once(listener: TcpListener) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    })
}

fn roundtrip(mut s: TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
}

#[test]
fn bridge_endpoints_firewall_and_published_port() {
    let rt = runtime();
    let pid = std::process::id();
    let bridge = format!("btta{:x}", pid);
    let prefix = format!("BTT{pid}");
    let dir = tempfile::tempdir().unwrap();
    let ns_a = dir.path().join("netns/a");
    let ns_b = dir.path().join("netns/b");
    let ns_c = dir.path().join("netns/c");
    let mut guard = Guard {
        bridges: vec![bridge.clone()],
        namespaces: vec![ns_a.clone(), ns_b.clone(), ns_c.clone()],
        firewall: Some(Firewall::new(&prefix)),
    };
    let subnet = pick_subnet(&rt, 213);
    let gw = subnet.gateway();

    // bridge, twice (idempotent); its subnet then shows up on the host, unless ignored
    rt.block_on(link::ensure_bridge(&bridge, subnet, gw))
        .unwrap();
    rt.block_on(link::ensure_bridge(&bridge, subnet, gw))
        .unwrap();
    assert!(link_exists(&bridge));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"))
            .unwrap()
            .trim(),
        "1"
    );
    assert!(rt.block_on(link::host_subnets()).unwrap().contains(&subnet));
    assert!(!rt
        .block_on(link::host_subnets_except(std::slice::from_ref(&bridge)))
        .unwrap()
        .contains(&subnet));

    // firewall for the network
    let fw = guard.firewall.as_ref().unwrap();
    let nr = NetworkRules {
        bridge: bridge.clone(),
        subnet,
        internal: false,
    };
    fw.add_network(&nr).unwrap();
    let saved = iptables_save();
    assert!(
        saved.contains(&format!("-A FORWARD -j {prefix}-FORWARD")),
        "{saved}"
    );
    assert!(saved.contains(&format!(
        "-A {prefix}-FORWARD -i {bridge} -o {bridge} -j ACCEPT"
    )));
    assert!(saved.contains(&format!("-j {prefix}-PORTS")));

    // namespaces and endpoints
    netns::create(&ns_a).unwrap();
    netns::create(&ns_b).unwrap();
    assert!(netns::exists(&ns_a));
    assert!(
        netns::create(&ns_a).is_err(),
        "second create on the same file"
    );
    let ep_a = endpoint(&bridge, &ns_a, subnet, 2);
    let ep_b = endpoint(&bridge, &ns_b, subnet, 3);
    rt.block_on(link::add_endpoint(&ep_a)).unwrap();
    rt.block_on(link::add_endpoint(&ep_b)).unwrap();
    assert!(link_exists(&ep_a.host_ifname));
    assert_eq!(
        std::fs::read_to_string(format!("/sys/class/net/{}/master/uevent", ep_a.host_ifname))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("INTERFACE="))
            .unwrap(),
        format!("INTERFACE={bridge}")
    );

    // inside A: eth0 has the MAC, the address and the default route; lo is up
    let ip_in = |args: &str| {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", ns_a.display()))
            .arg("ip")
            .args(args.split(' '))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let l = ip_in("-o link show eth0");
    assert!(l.contains(&format!("link/ether {}", ep_a.mac)), "{l}");
    assert!(l.contains("state UP") || l.contains(",UP"), "{l}");
    assert!(ip_in("-o -4 addr show eth0").contains(&format!("inet {}/24", ep_a.ip)));
    assert!(ip_in("-4 route show default").contains(&format!("default via {gw} dev eth0")));
    assert!(ip_in("-o link show lo").contains("LOOPBACK,UP"));
    let fa = netns::open(&ns_a).unwrap();

    // A listens on its address; B connects (bridge + FORWARD accept of same-bridge traffic)
    let port = 5555;
    let la = netns::run_in(&fa, move || TcpListener::bind((ep_a_ip(&subnet), port)))
        .unwrap()
        .unwrap();
    let server = echo_once(la);
    let fb = netns::open(&ns_b).unwrap();
    let target = SocketAddr::from((subnet.nth(2).unwrap(), port));
    let s = netns::run_in(&fb, move || {
        TcpStream::connect_timeout(&target, Duration::from_secs(5))
    })
    .unwrap()
    .expect("B reaches A over the bridge");
    roundtrip(s);
    server.join().unwrap();

    // host reaches A directly
    let la = netns::run_in(&fa, move || TcpListener::bind(("0.0.0.0", 5556)))
        .unwrap()
        .unwrap();
    let server = echo_once(la);
    roundtrip(
        TcpStream::connect_timeout(
            &SocketAddr::from((subnet.nth(2).unwrap(), 5556)),
            Duration::from_secs(5),
        )
        .unwrap(),
    );
    server.join().unwrap();

    // published port: 127.0.0.1:HP on the host -> A:80
    let lo = Some(Ipv4Addr::LOCALHOST);
    let (hp, reservation) = ports::reserve_any(Proto::Tcp, lo).unwrap();
    let rule = PortRule {
        proto: Proto::Tcp,
        host_ip: lo,
        host_port: hp,
        container_ip: subnet.nth(2).unwrap(),
        container_port: 80,
        bridge: bridge.clone(),
    };
    fw.add_ports(std::slice::from_ref(&rule)).unwrap();
    let la = netns::run_in(&fa, || TcpListener::bind(("0.0.0.0", 80)))
        .unwrap()
        .unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = la.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
        peer
    });
    roundtrip(
        TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, hp)),
            Duration::from_secs(5),
        )
        .expect("DNAT from 127.0.0.1"),
    );
    let peer = server.join().unwrap();
    // masqueraded to the bridge address
    assert_eq!(peer.ip(), std::net::IpAddr::V4(gw));

    // B reaches A's published port through the host address (hairpin via the gateway)
    let la = netns::run_in(&fa, || TcpListener::bind(("0.0.0.0", 80)))
        .unwrap()
        .unwrap();
    let hairpin_rule = PortRule {
        host_ip: Some(gw),
        ..rule.clone()
    };
    fw.add_ports(std::slice::from_ref(&hairpin_rule)).unwrap();
    let server = echo_once(la);
    let target = SocketAddr::from((gw, hp));
    let s = netns::run_in(&fb, move || {
        TcpStream::connect_timeout(&target, Duration::from_secs(5))
    })
    .unwrap()
    .expect("B reaches A's published port via the gateway");
    roundtrip(s);
    server.join().unwrap();

    fw.remove_ports(&[rule.clone(), hairpin_rule]).unwrap();
    assert!(!iptables_save().contains(&format!("--dport {hp} -j DNAT")));
    fw.remove_ports(std::slice::from_ref(&rule)).unwrap(); // already gone: fine
    drop(reservation);

    // sync rewrites everything in one go
    fw.sync(std::slice::from_ref(&nr), std::slice::from_ref(&rule))
        .unwrap();
    let saved = iptables_save();
    assert_eq!(
        saved
            .matches(&format!("-A FORWARD -j {prefix}-FORWARD"))
            .count(),
        1
    );
    assert_eq!(saved.matches(&format!("--dport {hp} -j DNAT")).count(), 1);
    let same_bridge = format!("-A {prefix}-FORWARD -i {bridge} -o {bridge} -j ACCEPT");
    assert_eq!(saved.matches(&same_bridge).count(), 1, "{saved}");
    // re-adding a network replaces it; a second network gets isolation rules; removal re-renders
    fw.add_network(&nr).unwrap();
    let other = NetworkRules {
        bridge: format!("bttz{:x}", pid),
        subnet: "10.254.254.0/24".parse().unwrap(),
        internal: true,
    };
    fw.add_network(&other).unwrap();
    let saved = iptables_save();
    assert_eq!(saved.matches(&same_bridge).count(), 1, "{saved}");
    assert!(saved.contains(&format!(
        "-A {prefix}-FORWARD -i {bridge} -o {} -j DROP",
        other.bridge
    )));
    assert!(!saved.contains(&format!(
        "-s 10.254.254.0/24 ! -o {} -j MASQUERADE",
        other.bridge
    )));
    fw.remove_network(&other).unwrap();
    let saved = iptables_save();
    assert!(!saved.contains(&other.bridge));
    assert_eq!(saved.matches(&same_bridge).count(), 1);

    // timing of the per-container path (5 rounds)
    for round in 0..5 {
        let t = Instant::now();
        netns::create(&ns_c).unwrap();
        let t_create = t.elapsed();
        let ep_c = endpoint(&bridge, &ns_c, subnet, 4 + round);
        let t2 = Instant::now();
        rt.block_on(link::add_endpoint(&ep_c)).unwrap();
        let t_add = t2.elapsed();
        let t3 = Instant::now();
        rt.block_on(link::remove_endpoint(&ep_c.host_ifname))
            .unwrap();
        let t_rm_ep = t3.elapsed();
        let t4 = Instant::now();
        netns::remove(&ns_c).unwrap();
        let t_rm_ns = t4.elapsed();
        eprintln!(
            "TIMING netns::create {t_create:?}, add_endpoint {t_add:?}, remove_endpoint {t_rm_ep:?}, netns::remove {t_rm_ns:?}, total {:?}",
            t.elapsed()
        );
    }

    // endpoint removal, namespace removal
    rt.block_on(link::remove_endpoint(&ep_a.host_ifname))
        .unwrap();
    rt.block_on(link::remove_endpoint(&ep_a.host_ifname))
        .unwrap(); // absent: Ok
    assert!(!link_exists(&ep_a.host_ifname));
    netns::remove(&ns_a).unwrap();
    netns::remove(&ns_a).unwrap();
    assert!(!netns::exists(&ns_a));
    assert!(!ns_a.exists());

    // teardown leaves nothing of this prefix
    let fw = guard.firewall.take().unwrap();
    fw.teardown().unwrap();
    assert!(!iptables_save().contains(&prefix));
    rt.block_on(link::delete_bridge(&bridge)).unwrap();
    assert!(!link_exists(&bridge));
    rt.block_on(link::delete_bridge(&bridge)).unwrap();
}

fn ep_a_ip(subnet: &Subnet) -> Ipv4Addr {
    subnet.nth(2).unwrap()
}

#[test]
fn add_endpoint_is_all_or_nothing() {
    let rt = runtime();
    let pid = std::process::id();
    let bridge = format!("bttb{:x}", pid);
    let dir = tempfile::tempdir().unwrap();
    let ns = dir.path().join("ns");
    let _guard = Guard {
        bridges: vec![bridge.clone()],
        namespaces: vec![ns.clone()],
        firewall: None,
    };
    let subnet = pick_subnet(&rt, 214);
    rt.block_on(link::ensure_bridge(&bridge, subnet, subnet.gateway()))
        .unwrap();
    netns::create(&ns).unwrap();
    // gateway outside the subnet: the route fails after the veth exists -> rolled back
    let mut ep = endpoint(&bridge, &ns, subnet, 2);
    ep.gateway = Some(Ipv4Addr::new(192, 0, 2, 77));
    let err = rt.block_on(link::add_endpoint(&ep)).unwrap_err();
    assert!(err.to_string().contains("default route"), "{err}");
    assert!(!link_exists(&ep.host_ifname));
    // the namespace is clean: the same endpoint can be made again
    ep.gateway = Some(subnet.gateway());
    rt.block_on(link::add_endpoint(&ep)).unwrap();
    assert!(link_exists(&ep.host_ifname));
    // missing bridge / missing netns are errors, nothing is left behind
    let mut bad = endpoint("bttnobridge", &ns, subnet, 3);
    bad.ifname = "eth1".into();
    assert!(rt.block_on(link::add_endpoint(&bad)).is_err());
    let mut bad = endpoint(&bridge, &dir.path().join("nope"), subnet, 3);
    bad.ifname = "eth1".into();
    assert!(rt.block_on(link::add_endpoint(&bad)).is_err());
    assert!(!link_exists(&bad.host_ifname));
}

#[test]
fn removing_the_netns_removes_its_veth() {
    let rt = runtime();
    let pid = std::process::id();
    let bridge = format!("bttc{:x}", pid);
    let dir = tempfile::tempdir().unwrap();
    let ns = dir.path().join("ns");
    let _guard = Guard {
        bridges: vec![bridge.clone()],
        namespaces: vec![ns.clone()],
        firewall: None,
    };
    let subnet = pick_subnet(&rt, 215);
    rt.block_on(link::ensure_bridge(&bridge, subnet, subnet.gateway()))
        .unwrap();
    netns::create(&ns).unwrap();
    let ep = endpoint(&bridge, &ns, subnet, 2);
    rt.block_on(link::add_endpoint(&ep)).unwrap();
    assert!(link_exists(&ep.host_ifname));
    netns::remove(&ns).unwrap();
    // the kernel destroys the namespace, and with it the veth pair, asynchronously
    let deadline = Instant::now() + Duration::from_secs(10);
    while link_exists(&ep.host_ifname) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !link_exists(&ep.host_ifname),
        "veth gone after the netns was removed"
    );
}
