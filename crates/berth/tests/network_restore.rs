//! Networking across daemon crashes and on failure paths, each test on a private daemon (own
//! data root, so own bridges and firewall chains): after `kill -9` and a restart, published
//! ports, names and address allocation survive; a host port held by another process fails
//! the start cleanly; a container on two user networks resolves names on both; published
//! ports are reachable from containers through the host's address; `--dns` on a user network
//! is used by the embedded DNS; bridge-name, `--ip-range`, `-p 0:80` and `-p` with host or
//! container network modes behave as dockerd.
//!
//! Tests only touch loopback, the host's own address, and the links and namespaces the
//! daemons under test (or the test itself) create; the daemons are removed by their guards.
mod common;
use common::*;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A busybox httpd serving `text` on port 80.
fn run_server(d: &Daemon, name: &str, opts: &[&str], text: &str) {
    let script =
        format!("mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www");
    d.run_d(name, opts, &["sh", "-c", &script]).ok();
}

/// `exec C timeout 5 wget -qO- URL` polled until it prints `want`.
#[track_caller]
fn wait_fetch(d: &Daemon, container: &str, url: &str, want: &str) {
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let o = d.run(&["exec", container, "timeout", "5", "wget", "-qO-", url]);
        if o.code == 0 && o.stdout.trim() == want {
            return;
        }
        last = format!("{o:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{container} could not fetch {url} (want {want:?}) in 20 s; last: {last}");
}

/// `nslookup NAME` inside `container` polled until its output names `ip`.
#[track_caller]
fn wait_resolves(d: &Daemon, container: &str, name: &str, ip: &str) {
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let o = d.run(&["exec", container, "nslookup", name]);
        if o.code == 0 && o.stdout.contains(&format!("Address: {ip}")) {
            return;
        }
        last = format!("{o:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{name} did not resolve to {ip} in {container}; last: {last}");
}

/// The container's address on network `net`.
fn ip_on(d: &Daemon, container: &str, net: &str) -> String {
    let o = d.run(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        container,
    ]);
    let ip = o.ok().out();
    assert!(
        ip.parse::<std::net::Ipv4Addr>().is_ok(),
        "{container} on {net}: {o:?}"
    );
    ip
}

/// The Linux bridge of network `net`: the link holding its gateway address.
fn bridge_of(d: &Daemon, net: &str) -> String {
    let gw = d
        .run(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            net,
        ])
        .ok()
        .out();
    bridge_holding(&gw)
}

/// Whether a link named `name` exists on the host.
fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

#[test]
fn kill9_and_restart_keep_published_ports_names_and_addresses() {
    let d = Daemon::with_busybox("netkill");
    let p = free_port();
    d.run(&["network", "create", "n1"]).ok();
    run_server(
        &d,
        "srv",
        &["--network", "n1", "-p", &format!("{p}:80")],
        "hello",
    );
    d.run_d("cli", &["--network", "n1"], &["sleep", "1000"])
        .ok();
    let url = format!("http://127.0.0.1:{p}/");
    wait_curl(&url, "hello");
    let srv_ip = ip_on(&d, "srv", "n1");
    let cli_ip = ip_on(&d, "cli", "n1");
    wait_resolves(&d, "cli", "srv", &srv_ip);

    d.kill9();
    d.start();

    assert_eq!(
        d.run(&["inspect", "-f", "{{.State.Status}}", "srv"])
            .ok()
            .out(),
        "running"
    );
    wait_curl(&url, "hello");
    wait_resolves(&d, "cli", "srv", &srv_ip);
    wait_fetch(&d, "cli", "http://srv/", "hello");
    // The port is still held by berth: another container can't take it.
    let o = d.run_d("thief", &["-p", &format!("{p}:80")], &["sleep", "1000"]);
    assert!(
        o.code != 0 && o.stderr.contains("port is already allocated"),
        "{o:?}"
    );
    // New containers get addresses no running container holds.
    for name in ["new1", "new2", "new3"] {
        d.run_d(name, &["--network", "n1"], &["sleep", "1000"]).ok();
        let ip = ip_on(&d, name, "n1");
        assert!(
            ip != srv_ip && ip != cli_ip,
            "{name} got {ip}, held by a running container"
        );
    }
    let new1 = ip_on(&d, "new1", "n1");
    wait_resolves(&d, "new1", "cli", &cli_ip);
    wait_resolves(&d, "cli", "new1", &new1);
}

#[test]
fn port_held_by_another_process_fails_the_start_and_leaves_nothing() {
    let d = Daemon::with_busybox("netbusy");
    let holder = TcpListener::bind(("0.0.0.0", 0)).expect("bind");
    let p = holder.local_addr().expect("addr").port();
    d.run(&["network", "create", "n1"]).ok();
    let o = d.run_d(
        "busy",
        &["--network", "n1", "-p", &format!("{p}:80")],
        &["sleep", "1000"],
    );
    assert!(
        o.code != 0 && o.stderr.contains("address already in use"),
        "{o:?}"
    );
    let st = d
        .run(&["inspect", "-f", "{{.State.Status}}", "busy"])
        .ok()
        .out();
    assert_eq!(st, "created");
    let br = bridge_of(&d, "n1");
    assert!(link_exists(&br), "bridge {br} of n1 is up");
    // The kernel destroys a namespace (and the veth peer in it) asynchronously: poll.
    wait_until(
        &format!("no veth left on {br}"),
        Duration::from_secs(20),
        || links_on(&br).is_empty(),
    );
    let id = d.run(&["inspect", "-f", "{{.Id}}", "busy"]).ok().out();
    assert!(
        !d.exec_root.join("netns").join(&id).exists(),
        "netns of the failed start is gone"
    );
    // Its address went back: once the port is free, it starts and the next one is not shared.
    drop(holder);
    d.run(&["start", "busy"]).ok();
    d.run_d("other", &["--network", "n1"], &["sleep", "1000"])
        .ok();
    assert_ne!(ip_on(&d, "busy", "n1"), ip_on(&d, "other", "n1"));
    assert_eq!(links_on(&br).len(), 2, "{:?}", links_on(&br));
}

#[test]
fn container_on_two_user_networks_resolves_names_on_both() {
    let d = Daemon::with_busybox("nettwo");
    d.run(&["network", "create", "na"]).ok();
    d.run(&["network", "create", "nb"]).ok();
    run_server(&d, "on-a", &["--network", "na"], "a");
    run_server(
        &d,
        "on-b",
        &["--network", "nb", "--network-alias", "bee"],
        "b",
    );
    d.run_d("both", &["--network", "na"], &["sleep", "1000"])
        .ok();
    d.run(&["network", "connect", "nb", "both"]).ok();
    let (a_ip, b_ip) = (ip_on(&d, "on-a", "na"), ip_on(&d, "on-b", "nb"));
    wait_resolves(&d, "both", "on-a", &a_ip);
    wait_resolves(&d, "both", "on-b", &b_ip);
    wait_resolves(&d, "both", "bee", &b_ip);
    wait_fetch(&d, "both", "http://on-b/", "b");
    // A container only on nb resolves `both` to its address on nb.
    let both_b = ip_on(&d, "both", "nb");
    wait_resolves(&d, "on-b", "both", &both_b);
    // ... and does not resolve on-a (not on a network they share).
    let o = d.run(&["exec", "on-b", "nslookup", "on-a"]);
    assert!(o.code != 0 && !o.stdout.contains(&a_ip), "{o:?}");
}

#[test]
fn containers_reach_published_ports_through_the_host_address() {
    let d = Daemon::with_busybox("nethair");
    let p = free_port();
    run_server(&d, "web", &["-p", &format!("{p}:80")], "hairpin");
    d.run_d("client", &[], &["sleep", "1000"]).ok();
    let url = format!("http://{}:{p}/", host_ip());
    wait_curl(&url, "hairpin");
    wait_fetch(&d, "client", &url, "hairpin");
    // Its own published port, through the host (hairpin NAT).
    wait_fetch(&d, "web", &url, "hairpin");
}

/// A one-shot DNS server on `addr:53` answering every A query with `answer` (others: empty).
fn fake_dns(sock: UdpSocket, answer: [u8; 4]) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        sock.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            // The question: labels, then type and class.
            let mut i = 12;
            let mut labels = Vec::new();
            while i < n && q[i] != 0 {
                let l = usize::from(q[i]);
                labels.push(String::from_utf8_lossy(&q[i + 1..(i + 1 + l).min(n)]).into_owned());
                i += 1 + l;
            }
            let qend = i + 5;
            if qend > n {
                continue;
            }
            let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
            let name = labels.join(".");
            let mut r = q[..qend].to_vec();
            r[2] = 0x81; // QR, RD
            r[3] = 0x80; // RA, NOERROR
            r[6..12].copy_from_slice(&[0, 0, 0, 0, 0, 0]);
            if qtype == 1 {
                r[7] = 1;
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                r.extend_from_slice(&answer);
            }
            let _ = sock.send_to(&r, peer);
            seen.push(name.clone());
            if name == "stop.test" {
                break;
            }
        }
        seen
    })
}

#[test]
fn dns_option_on_a_user_network_is_the_embedded_servers_upstream() {
    let d = Daemon::with_busybox("netdns");
    // The container's own server: on a loopback address of the host, where the embedded
    // DNS server (host network namespace) forwards to.
    let sock = UdpSocket::bind("127.0.77.53:53").expect("bind 127.0.77.53:53");
    let server = fake_dns(sock, [10, 1, 2, 3]);
    d.run(&["network", "create", "n1"]).ok();
    d.run_d("peer", &["--network", "n1"], &["sleep", "1000"])
        .ok();
    d.run_d(
        "asker",
        &["--network", "n1", "--dns", "127.0.77.53"],
        &["sleep", "1000"],
    )
    .ok();
    // Container names are still answered by the embedded server ...
    let peer_ip = ip_on(&d, "peer", "n1");
    wait_resolves(&d, "asker", "peer", &peer_ip);
    // ... other names go to the container's --dns server.
    wait_resolves(&d, "asker", "anything.test", "10.1.2.3");
    let _ = d.run(&["exec", "asker", "nslookup", "stop.test"]);
    let seen = server.join().expect("fake dns thread");
    assert!(seen.iter().any(|n| n == "anything.test"), "{seen:?}");
    assert!(!seen.iter().any(|n| n == "peer"), "{seen:?}");
}

#[test]
fn bridge_name_option_refuses_other_links_and_never_deletes_them() {
    let d = Daemon::with_busybox("netbr");
    // A link of another kind is refused and left alone.
    let o = d.run(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.name=lo",
        "nlo",
    ]);
    assert!(
        o.code != 0 && o.stderr.contains("existing interface lo is not a bridge"),
        "{o:?}"
    );
    assert!(link_exists("lo"));
    // The bridge of another network is refused.
    let br = format!("btfn{}", std::process::id() % 100000);
    d.run(&[
        "network",
        "create",
        "-o",
        &format!("com.docker.network.bridge.name={br}"),
        "n1",
    ])
    .ok();
    assert!(link_exists(&br));
    let o = d.run(&[
        "network",
        "create",
        "-o",
        &format!("com.docker.network.bridge.name={br}"),
        "n2",
    ]);
    assert!(
        o.code != 0 && o.stderr.contains("networks have same bridge name"),
        "{o:?}"
    );
    assert!(link_exists(&br), "the refused network left {br} alone");
    // A bridge berth created goes with its network.
    d.run(&["network", "rm", "n1"]).ok();
    assert!(!link_exists(&br), "{br} removed with n1");
    // A bridge that existed before is used (as dockerd) but never deleted.
    let ext = format!("btfx{}", std::process::id() % 100000);
    let _link = LinkGuard::bridge(&ext);
    d.run(&[
        "network",
        "create",
        "-o",
        &format!("com.docker.network.bridge.name={ext}"),
        "n3",
    ])
    .ok();
    d.run(&["network", "rm", "n3"]).ok();
    assert!(link_exists(&ext), "pre-existing bridge {ext} was deleted");
}

/// A bridge created by the test, deleted when dropped.
struct LinkGuard(String);

impl LinkGuard {
    fn bridge(name: &str) -> LinkGuard {
        run_cmd(
            &PathBuf::from("ip"),
            &["link", "add", name, "type", "bridge"],
            &[],
            None,
            Duration::from_secs(10),
        )
        .ok();
        LinkGuard(name.to_string())
    }
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        let _ = run_cmd(
            &PathBuf::from("ip"),
            &["link", "del", &self.0],
            &[],
            None,
            Duration::from_secs(10),
        );
    }
}

#[test]
fn ip_range_bounds_the_addresses_of_containers() {
    let d = Daemon::with_busybox("netrange");
    let b = 100 + std::process::id() % 100;
    let subnet = format!("10.{b}.0.0/16");
    let o = d.run(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--ip-range",
        "10.250.9.0/24",
        "bad",
    ]);
    assert!(
        o.code != 0 && o.stderr.contains("no matching subnet for range"),
        "{o:?}"
    );
    d.run(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--ip-range",
        &format!("10.{b}.7.0/24"),
        "ranged",
    ])
    .ok();
    for name in ["r1", "r2"] {
        d.run_d(name, &["--network", "ranged"], &["sleep", "1000"])
            .ok();
        let ip = ip_on(&d, name, "ranged");
        assert!(ip.starts_with(&format!("10.{b}.7.")), "{name} got {ip}");
    }
}

#[test]
fn publish_port_zero_host_and_container_modes_as_dockerd() {
    let d = Daemon::with_busybox("netpub");
    // -p 0:80 is any free port.
    run_server(&d, "zero", &["-p", "0:80"], "zero");
    let o = d.run(&["port", "zero", "80"]);
    let port: u16 = o
        .ok()
        .lines()
        .first()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("port output {o:?}"));
    assert_ne!(port, 0);
    let url = format!("http://127.0.0.1:{port}/");
    wait_curl(&url, "zero");
    // Host network: the bindings are dropped with dockerd's warning.
    let o = d.run_d("hostnet", &["--network", "host", "-p", "80:80"], &["true"]);
    o.ok();
    assert!(
        o.stderr
            .contains("Published ports are discarded when using host network mode"),
        "{o:?}"
    );
    // Container network mode: refused at create.
    let o = d.run(&[
        "create",
        "--name",
        "joiner",
        "--network",
        "container:zero",
        "-p",
        "81:80",
        "busybox:e2e",
        "true",
    ]);
    assert!(
        o.code != 0
            && o.stderr.contains(
                "conflicting options: port publishing and the container type network mode"
            ),
        "{o:?}"
    );
}

#[test]
fn network_setup_failure_fails_the_start_and_is_retried_at_the_next_one() {
    let d = Daemon::with_busybox("netretry");
    d.run(&["network", "create", "n1"]).ok();
    d.run_d("peer", &["--network", "n1"], &["sleep", "1000"])
        .ok();
    d.run(&["rm", "-f", "peer"]).ok();
    let gw = d
        .run(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            "n1",
        ])
        .ok()
        .out();
    // A crash leaves the bridge (and its address); the next daemon sets the network up
    // lazily, at the first container. Someone else holds the DNS port meanwhile.
    d.kill9();
    let squatter = UdpSocket::bind((gw.as_str(), 53)).expect("bind the gateway's DNS port");
    d.start();
    let o = d.run_d("c1", &["--network", "n1"], &["sleep", "1000"]);
    assert!(
        o.code != 0
            && o.stderr.contains("failed to set up container networking")
            && o.stderr.contains("DNS server of network n1"),
        "{o:?}"
    );
    assert_eq!(
        d.run(&["inspect", "-f", "{{.State.Status}}", "c1"])
            .ok()
            .out(),
        "created"
    );
    // Once the port is free, the next start sets the network up: names resolve.
    drop(squatter);
    d.run(&["start", "c1"]).ok();
    d.run_d("c2", &["--network", "n1"], &["sleep", "1000"]).ok();
    let c2 = ip_on(&d, "c2", "n1");
    wait_resolves(&d, "c1", "c2", &c2);
}

/// Whether something is mounted at `path`.
fn mounted_at(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let p = path_str(path);
    mounts.lines().any(|l| l.split(' ').nth(4) == Some(p))
}

#[test]
fn failed_network_setup_unmounts_the_volumes_it_mounted() {
    let d = Daemon::with_busybox("netvol");
    let holder = TcpListener::bind(("0.0.0.0", 0)).expect("bind");
    let p = holder.local_addr().expect("addr").port();
    d.run(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "tv",
    ])
    .ok();
    let data = d.data_root.join("volumes").join("tv").join("_data");
    let o = d.run_d(
        "withvol",
        &["-v", "tv:/data", "-p", &format!("{p}:80")],
        &["sleep", "1000"],
    );
    assert!(
        o.code != 0 && o.stderr.contains("address already in use"),
        "{o:?}"
    );
    assert!(!mounted_at(&data), "{} still mounted", data.display());
    // With the port free it starts, and the volume is mounted while it runs.
    drop(holder);
    d.run(&["start", "withvol"]).ok();
    assert!(
        mounted_at(&data),
        "{} mounted while running",
        data.display()
    );
}

/// Rewrites the record of `container` as a daemon that died between the shim spawn and the
/// start's record update leaves it: status `created`, no pid, but (persisted before the
/// spawn) its network state.
fn forget_start(d: &Daemon, id: &str) {
    let path = d
        .data_root
        .join("containers")
        .join(id)
        .join("config.v2.json");
    let text = std::fs::read_to_string(&path).expect("record");
    let mut rec: serde_json::Value = serde_json::from_str(&text).expect("record JSON");
    assert!(
        rec["network"]["sandbox_key"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "network state persisted: {}",
        rec["network"]
    );
    rec["state"]["status"] = "created".into();
    rec["state"]["pid"] = 0.into();
    rec["state"]["shim_pid"] = 0.into();
    std::fs::write(&path, serde_json::to_vec(&rec).expect("json")).expect("write record");
}

#[test]
fn crash_between_spawn_and_record_update_keeps_the_network_of_a_live_container() {
    let d = Daemon::with_busybox("netwin");
    let p = free_port();
    d.run(&["network", "create", "n1"]).ok();
    run_server(
        &d,
        "srv",
        &["--network", "n1", "-p", &format!("{p}:80")],
        "win",
    );
    let srv_ip = ip_on(&d, "srv", "n1");
    let id = d.run(&["inspect", "-f", "{{.Id}}", "srv"]).ok().out();
    d.kill9();
    forget_start(&d, &id);
    d.start();
    assert_eq!(
        d.run(&["inspect", "-f", "{{.State.Status}}", "srv"])
            .ok()
            .out(),
        "running"
    );
    let url = format!("http://127.0.0.1:{p}/");
    wait_curl(&url, "win");
    let o = d.run_d("thief", &["-p", &format!("{p}:80")], &["sleep", "1000"]);
    assert!(
        o.code != 0 && o.stderr.contains("port is already allocated"),
        "{o:?}"
    );
    d.run_d("next", &["--network", "n1"], &["sleep", "1000"])
        .ok();
    assert_ne!(ip_on(&d, "next", "n1"), srv_ip);
    wait_resolves(&d, "next", "srv", &srv_ip);
}

#[test]
fn crash_between_spawn_and_record_update_releases_the_network_of_a_dead_container() {
    let d = Daemon::with_busybox("netdead");
    let p = free_port();
    d.run(&["network", "create", "n1"]).ok();
    run_server(
        &d,
        "srv",
        &["--network", "n1", "-p", &format!("{p}:80")],
        "dead",
    );
    let id = d.run(&["inspect", "-f", "{{.Id}}", "srv"]).ok().out();
    let pid: i32 = d
        .run(&["inspect", "-f", "{{.State.Pid}}", "srv"])
        .ok()
        .out()
        .parse()
        .expect("pid");
    let dir = d.data_root.join("containers").join(&id);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).expect("state.json"))
            .expect("state JSON");
    let shim = state["shim_pid"].as_i64().expect("shim_pid");
    d.kill9();
    forget_start(&d, &id);
    // The container dies while no daemon runs; its shim records the exit and goes.
    // SAFETY: kill(2) on a pid we read from the daemon; no memory is involved.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    wait_until("the shim exits", Duration::from_secs(20), || {
        !Path::new(&format!("/proc/{shim}")).exists()
            || std::fs::read_to_string(format!("/proc/{shim}/stat"))
                .unwrap_or_default()
                .split(") ")
                .nth(1)
                .is_some_and(|s| s.starts_with('Z'))
    });
    d.start();
    assert_ne!(
        d.run(&["inspect", "-f", "{{.State.Status}}", "srv"])
            .ok()
            .out(),
        "running"
    );
    assert!(
        !d.exec_root.join("netns").join(&id).exists(),
        "netns of the dead container released"
    );
    assert_eq!(
        d.run(&["network", "inspect", "-f", "{{len .Containers}}", "n1"])
            .ok()
            .out(),
        "0"
    );
    // Its host port is free again: berth itself can publish it.
    run_server(&d, "again", &["-p", &format!("{p}:80")], "again");
    let url = format!("http://127.0.0.1:{p}/");
    wait_curl(&url, "again");
}

/// `ip ARGS...`, asserting success.
fn ip_cmd(args: &[&str]) {
    let o = run_cmd(
        &PathBuf::from("ip"),
        args,
        &[],
        None,
        Duration::from_secs(10),
    );
    assert_eq!(o.code, 0, "ip {args:?}: {o:?}");
}

#[test]
fn an_idle_network_moves_off_a_subnet_another_interface_took() {
    let d = Daemon::with_busybox("netmoved");
    let subnet_of = |d: &Daemon| {
        d.run(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Subnet}}",
            "bridge",
        ])
        .ok()
        .out()
    };
    d.run_d("first", &[], &["sleep", "1000"]).ok();
    let old_ip: std::net::Ipv4Addr = ip_on(&d, "first", "bridge").parse().unwrap();
    let old_subnet = subnet_of(&d);
    d.run(&["rm", "-f", "first"]).ok();
    // A graceful stop with no container running takes the bridge down.
    d.terminate();
    // Another interface (a bridge of this test, not berth's) takes the subnet meanwhile.
    let dummy = LinkGuard::bridge(&format!("btdm{}", std::process::id() % 1_000_000));
    assert!(link_exists(&dummy.0));
    let [a, b, _, _] = old_ip.octets();
    ip_cmd(&[
        "addr",
        "add",
        &format!("{a}.{b}.255.254/16"),
        "dev",
        &dummy.0,
    ]);
    ip_cmd(&["link", "set", &dummy.0, "up"]);
    d.start();
    d.run_d("second", &[], &["sleep", "1000"]).ok();
    let new_ip: std::net::Ipv4Addr = ip_on(&d, "second", "bridge").parse().unwrap();
    let new_subnet = subnet_of(&d);
    assert_ne!(
        new_subnet, old_subnet,
        "the default bridge kept a taken subnet"
    );
    assert_ne!(
        new_ip.octets()[..2],
        old_ip.octets()[..2],
        "{new_ip} in {old_subnet}"
    );
    // The moved bridge works: the container reaches its gateway.
    let gw = d
        .run(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            "bridge",
        ])
        .ok()
        .out();
    assert!(new_subnet.starts_with(&format!("{}.{}.", new_ip.octets()[0], new_ip.octets()[1])));
    d.run(&["exec", "second", "ping", "-c", "1", "-W", "5", &gw])
        .ok();
    d.shutdown();
}
