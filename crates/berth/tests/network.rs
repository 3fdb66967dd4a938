//! Networking end to end: user networks with name and alias resolution, `network connect` on
//! running containers, `--link` on the default bridge, published ports reachable from the host,
//! `port`/`ps` output, the `network` subcommands' output, outbound access (apt) and coexistence
//! with dockerd. Every test also runs against the reference dockerd (`BERTH_E2E_CLI=docker`),
//! except the berth-only ones that need both engines at once.
//!
//! Tests only touch loopback, the host's own address (for published ports) and the bridges and
//! namespaces the daemon under test creates; networks are removed by guards.
mod common;
use common::*;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Removes these networks when dropped (declare it before the container guard, so that the
/// containers go first).
struct NetGuard {
    h: &'static Harness,
    nets: Vec<String>,
}

impl Drop for NetGuard {
    fn drop(&mut self) {
        if !self.nets.is_empty() {
            let mut args = vec!["network", "rm"];
            args.extend(self.nets.iter().map(String::as_str));
            let _ = self.h.run_opts(&args, None, Duration::from_secs(30));
        }
    }
}

/// `network create [opts] NAME` (asserts success) with a guard that removes it.
fn net(h: &'static Harness, name: &str, opts: &[&str]) -> NetGuard {
    let mut args = vec!["network", "create"];
    args.extend_from_slice(opts);
    args.push(name);
    let o = h.run(&args);
    o.ok();
    assert!(
        is_full_id(&o.out()),
        "network create printed {:?}",
        o.stdout
    );
    NetGuard {
        h,
        nets: vec![name.to_string()],
    }
}

/// A busybox command line serving `text` over HTTP on `port`.
fn serve(text: &str, port: u16) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p {port} -h /www"
        ),
    ]
}

/// `run -d --name NAME OPTS... busybox <serve text 80>`.
fn run_server(h: &Harness, name: &str, opts: &[&str], text: &str) {
    let cmd = serve(text, 80);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    h.run_d(name, opts, &cmd).ok();
}

/// `exec C timeout 5 wget -qO- URL` (the exec's output and status). busybox's own `wget -T`
/// crashes (SIGSEGV) in the static Debian build, hence `timeout`.
fn fetch_in(h: &Harness, container: &str, url: &str) -> Out {
    h.run(&["exec", container, "timeout", "5", "wget", "-qO-", url])
}

/// Polls `exec C wget URL` until it prints `want` (20 s).
#[track_caller]
fn wait_fetch(h: &Harness, container: &str, url: &str, want: &str) {
    let mut last = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let o = fetch_in(h, container, url);
        if o.code == 0 && o.stdout.trim() == want {
            return;
        }
        last = format!(
            "exit {} stdout {:?} stderr {:?}",
            o.code, o.stdout, o.stderr
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{container} could not fetch {url} (want {want:?}); last: {last}");
}

#[test]
fn user_network_names_and_aliases_resolve_other_networks_do_not() {
    let h = h();
    let (n1, n2) = (uname("neta"), uname("netb"));
    let (srv, cli, other, near) = (uname("srv"), uname("cli"), uname("other"), uname("near"));
    let mut nets = net(h, &n1, &[]);
    nets.nets.append(&mut net(h, &n2, &[]).nets);
    let _g = h.guard(&[&srv, &cli, &other, &near]);
    run_server(
        h,
        &srv,
        &["--network", &n1, "--network-alias", "web"],
        "hello",
    );
    run_server(h, &near, &["--network", &n2], "neighbour");
    h.run_d(&cli, &["--network", &n1], &["sleep", "1000"]).ok();
    h.run_d(&other, &["--net", &n2], &["sleep", "1000"]).ok();
    wait_fetch(h, &cli, &format!("http://{srv}/"), "hello");
    wait_fetch(h, &cli, "http://web/", "hello");
    // The short ID is a name on the network too.
    let short = h.inspect_f(&srv, "{{.Id}}")[..12].to_string();
    wait_fetch(h, &cli, &format!("http://{short}/"), "hello");
    // Another network neither resolves nor reaches it. Positive controls first: from that
    // network the same probes do work against a server on it, so a failure below is
    // isolation and not a broken probe.
    let ip_on = |c: &str, n: &str| {
        h.inspect_f(
            c,
            &format!("{{{{(index .NetworkSettings.Networks \"{n}\").IPAddress}}}}"),
        )
    };
    let (ip, near_ip) = (ip_on(&srv, &n1), ip_on(&near, &n2));
    wait_fetch(h, &other, &format!("http://{near}/"), "neighbour");
    let o = h.run(&["exec", &other, "nslookup", &near]);
    assert!(o.code == 0 && o.stdout.contains(&near_ip), "{o:?}");
    let o = fetch_in(h, &other, &format!("http://{near_ip}/"));
    assert!(o.code == 0 && o.stdout.trim() == "neighbour", "{o:?}");
    // The name does not resolve there (nslookup fails without printing srv's address) ...
    let o = h.run(&["exec", &other, "nslookup", &srv]);
    assert!(o.code == 1 && !o.stdout.contains(&ip), "{o:?}");
    // ... and its address is not reachable: the packets are dropped, so wget hangs until
    // `timeout` kills it (143 = SIGTERM), where a reachable server answers (above) and a
    // closed port is refused at once (exit 1).
    let o = fetch_in(h, &other, &format!("http://{ip}/"));
    assert!(o.code == 143 && !o.stdout.contains("hello"), "{o:?}");
    // inspect: the network's Containers and the container's Networks agree.
    let v = h.run(&["network", "inspect", &n1]).ok().stdout.clone();
    let v: serde_json::Value = serde_json::from_str(&v).expect("network inspect JSON");
    let containers = v[0]["Containers"].as_object().expect("Containers map");
    let ep = containers
        .values()
        .find(|c| c["Name"] == srv.as_str())
        .unwrap_or_else(|| panic!("{srv} missing from {v}"));
    let cidr = ep["IPv4Address"].as_str().expect("IPv4Address");
    assert!(cidr.starts_with(&format!("{ip}/")), "{cidr} vs {ip}");
    assert!(
        ep["MacAddress"]
            .as_str()
            .unwrap_or("")
            .starts_with("02:42:"),
        "{ep}"
    );
    assert_eq!(containers.len(), 2, "{v}");
    let aliases = h.inspect_f(
        &srv,
        &format!("{{{{json (index .NetworkSettings.Networks \"{n1}\").Aliases}}}}"),
    );
    assert!(aliases.contains("\"web\""), "{aliases}");
}

/// Removes this volume when dropped.
struct VolGuard {
    h: &'static Harness,
    name: String,
}

impl Drop for VolGuard {
    fn drop(&mut self) {
        let _ = self
            .h
            .run_opts(&["volume", "rm", &self.name], None, Duration::from_secs(30));
    }
}

#[test]
fn inspect_commands_print_what_they_find_and_fail_on_the_rest() {
    let h = h();
    let (n, v, missing) = (uname("insp"), uname("inspv"), uname("nosuch"));
    let _nets = net(h, &n, &[]);
    h.run(&["volume", "create", &v]).ok();
    let _vol = VolGuard { h, name: v.clone() };
    // The error of each missing object, after the output of the found ones.
    let not_found = |o: &Out, noun: &str, name: &str| {
        if h.is_berth() {
            o.stderr_has(&format!("Error: No such {noun}: {name}"));
        } else {
            o.stderr_has(name);
        }
    };
    // network inspect: a template per found object, in order; a JSON array otherwise.
    let o = h.run(&["network", "inspect", "-f", "{{.Name}}", &n, &missing, &n]);
    o.code(1).stdout_is(&format!("{n}\n{n}\n"));
    not_found(&o, "network", &missing);
    let o = h.run(&["network", "inspect", &missing, &n]);
    o.code(1);
    assert!(
        o.stdout.starts_with("[\n    {\n        \"Name\": "),
        "{o:?}"
    );
    let j: serde_json::Value = serde_json::from_str(&o.stdout).expect("JSON");
    assert_eq!(j.as_array().map(Vec::len), Some(1), "{j}");
    assert_eq!(j[0]["Name"], n.as_str());
    not_found(&o, "network", &missing);
    // volume inspect: the same shape.
    let o = h.run(&["volume", "inspect", "-f", "{{.Name}}", &missing, &v]);
    o.code(1).stdout_is(&format!("{v}\n"));
    not_found(&o, "volume", &missing);
    let o = h.run(&["volume", "inspect", &v, &missing]);
    o.code(1);
    assert!(
        o.stdout.starts_with("[\n    {\n        \"CreatedAt\": "),
        "{o:?}"
    );
    let j: serde_json::Value = serde_json::from_str(&o.stdout).expect("JSON");
    assert_eq!(j.as_array().map(Vec::len), Some(1), "{j}");
    assert_eq!(j[0]["Name"], v.as_str());
    // The generic inspect finds networks and volumes; --type narrows it.
    h.run(&["inspect", "-f", "{{.Name}}", &n, &v])
        .ok()
        .stdout_is(&format!("{n}\n{v}\n"));
    h.run(&["inspect", "--type", "volume", "-f", "{{.Driver}}", &v])
        .ok()
        .stdout_is("local\n");
    // (nothing found with a template: a lone newline, as the docker CLI prints)
    let o = h.run(&["inspect", "--type", "network", "-f", "{{.Name}}", &v]);
    o.code(1).stdout_is("\n");
    not_found(&o, "network", &v);
    let o = h.run(&["inspect", &missing]);
    o.code(1)
        .stdout_is("[]\n")
        .stderr_has(&format!("Error: No such object: {missing}"));
}

/// The names of the networks a container is attached to (sorted).
fn networks_of(h: &Harness, container: &str) -> Vec<String> {
    let raw = h.inspect_f(container, "{{json .NetworkSettings.Networks}}");
    let v: serde_json::Value = serde_json::from_str(&raw).expect("Networks JSON");
    let mut names: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn network_connect_on_running_default_bridge_containers_makes_names_resolve() {
    let h = h();
    let n = uname("book");
    let (pg, nb) = (uname("pg"), uname("nb"));
    let _nets = net(h, &n, &[]);
    let _g = h.guard(&[&pg, &nb]);
    run_server(h, &pg, &[], "db");
    h.run_d(&nb, &[], &["sleep", "1000"]).ok();
    // Default bridge: no names.
    let o = fetch_in(h, &nb, &format!("http://{pg}/"));
    assert!(o.code != 0 && !o.stdout.contains("db"), "{o:?}");
    h.run(&["network", "connect", "--alias", "this_postgres", &n, &pg])
        .ok()
        .stdout_is("");
    h.run(&["network", "connect", &n, &nb]).ok();
    wait_fetch(h, &nb, &format!("http://{pg}/"), "db");
    wait_fetch(h, &nb, "http://this_postgres/", "db");
    assert_eq!(networks_of(h, &nb), ["bridge".to_string(), n.clone()]);
    // Connected twice: the daemon refuses.
    h.run(&["network", "connect", &n, &nb])
        .code(1)
        .stderr_has("Error response from daemon: ");
    h.run(&["network", "disconnect", &n, &nb]).ok();
    assert_eq!(networks_of(h, &nb), ["bridge"]);
    // A network in use cannot be removed.
    h.run(&["network", "rm", &n])
        .code(1)
        .stderr_has("Error response from daemon: ");
}

#[test]
fn link_on_default_bridge_sets_env_hosts_and_exec_sees_them() {
    let h = h();
    let (redis, linker) = (uname("redis"), uname("linker"));
    let _g = h.guard(&[&linker, &redis]);
    let cmd = serve("pong", 6379);
    let mut args = vec!["--expose", "6379", "-e", "REDIS_VERSION=7.0"];
    args.extend(cmd.iter().map(String::as_str));
    let (opts, c) = args.split_at(4);
    h.run_d(&redis, opts, c).ok();
    let ip = h.inspect_f(&redis, "{{.NetworkSettings.IPAddress}}");
    assert!(!ip.is_empty(), "no IP for {redis}");
    let short = h.inspect_f(&redis, "{{.Id}}")[..12].to_string();
    h.run_d(
        &linker,
        &["--link", &format!("{redis}:al")],
        &["sleep", "1000"],
    )
    .ok();
    let env = h.run(&["exec", &linker, "env"]).ok().stdout.clone();
    let mut env: Vec<&str> = env.lines().filter(|l| l.starts_with("AL_")).collect();
    env.sort();
    assert_eq!(
        env,
        vec![
            "AL_ENV_REDIS_VERSION=7.0".to_string(),
            format!("AL_NAME=/{linker}/al"),
            format!("AL_PORT=tcp://{ip}:6379"),
            format!("AL_PORT_6379_TCP=tcp://{ip}:6379"),
            format!("AL_PORT_6379_TCP_ADDR={ip}"),
            "AL_PORT_6379_TCP_PORT=6379".to_string(),
            "AL_PORT_6379_TCP_PROTO=tcp".to_string(),
        ]
    );
    let hosts = h
        .run(&["exec", &linker, "cat", "/etc/hosts"])
        .ok()
        .stdout
        .clone();
    let line = hosts
        .lines()
        .find(|l| l.starts_with(&format!("{ip}\t")))
        .unwrap_or_else(|| panic!("no {ip} line in /etc/hosts:\n{hosts}"));
    let names: Vec<&str> = line.split_whitespace().skip(1).collect();
    assert_eq!(names, ["al", short.as_str(), redis.as_str()], "{line}");
    // The alias and the name resolve through /etc/hosts.
    wait_fetch(h, &linker, "http://al:6379/", "pong");
    wait_fetch(h, &linker, &format!("http://{redis}:6379/"), "pong");
    let links = h.inspect_f(&linker, "{{json .HostConfig.Links}}");
    assert_eq!(links, format!("[\"/{redis}:/{linker}/al\"]"));
}

#[test]
fn published_ports_reach_the_host_and_show_in_port_and_ps() {
    let h = h();
    let n = uname("pub");
    let (web, dup, auto) = (uname("web"), uname("dup"), uname("auto"));
    let _nets = net(h, &n, &[]);
    let _g = h.guard(&[&web, &dup, &auto]);
    let p = free_port();
    let spec = format!("{p}:80");
    run_server(h, &web, &["--network", &n, "-p", &spec], "hello");
    wait_curl(&format!("http://127.0.0.1:{p}/"), "hello");
    wait_curl(&format!("http://{}:{p}/", host_ip()), "hello");
    // (dockerd also binds [::]; the order of the lines is not specified.)
    let port = h.run(&["port", &web]).ok().stdout.clone();
    assert!(
        port.lines().any(|l| l == format!("80/tcp -> 0.0.0.0:{p}")),
        "{port}"
    );
    let one = h.run(&["port", &web, "80"]).ok().stdout.clone();
    assert!(one.lines().any(|l| l == format!("0.0.0.0:{p}")), "{one}");
    h.run(&["port", &web, "81"])
        .code(1)
        .stderr_has("Error: No public port '81")
        .stderr_has(&format!("published for {web}"));
    let ps = h.run(&["ps", "-f", &format!("name={web}"), "--format", "{{.Ports}}"]);
    ps.ok().stdout_has(&format!("0.0.0.0:{p}->80/tcp"));
    let table = h
        .run(&["ps", "-f", &format!("name={web}")])
        .ok()
        .stdout
        .clone();
    assert!(table.contains(&format!("0.0.0.0:{p}->80/tcp")), "{table}");

    // The same host port again: docker's error, exit 125, the container stays Created, and no
    // endpoint is left on the bridge.
    let gw = h.inspect_f(
        &web,
        &format!("{{{{(index .NetworkSettings.Networks \"{n}\").Gateway}}}}"),
    );
    let before = links_on(&bridge_holding(&gw));
    assert_eq!(before.len(), 1, "{before:?}");
    let o = h.run(&[
        "run",
        "-d",
        "--name",
        &dup,
        "--network",
        &n,
        "-p",
        &spec,
        &h.image,
        "sleep",
        "100",
    ]);
    o.code(125).stderr_has(&format!(
        "Bind for 0.0.0.0:{p} failed: port is already allocated"
    ));
    assert_eq!(h.status_of(&dup).as_deref(), Some("created"));
    assert_eq!(links_on(&bridge_holding(&gw)), before);
    wait_curl(&format!("http://127.0.0.1:{p}/"), "hello");

    // -P publishes the exposed port on a free port.
    let cmd = serve("auto", 80);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    h.run_d(&auto, &["-P", "--expose", "80"], &cmd).ok();
    let line = h.run(&["port", &auto, "80/tcp"]).ok().stdout.clone();
    let hp: u16 = line
        .lines()
        .find_map(|l| l.strip_prefix("0.0.0.0:"))
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("port printed {line:?}"));
    assert!(hp >= 1024, "{hp}");
    wait_curl(&format!("http://127.0.0.1:{hp}/"), "auto");
    h.run(&[
        "ps",
        "-f",
        &format!("name={auto}"),
        "--format",
        "{{.Ports}}",
    ])
    .ok()
    .stdout_has(&format!("0.0.0.0:{hp}->80/tcp"));
}

#[test]
fn port_ranges_udp_and_exposed_only_ports_in_ps() {
    let h = h();
    let c = uname("ranges");
    let _g = h.guard(&[&c]);
    let base = free_port();
    // Three consecutive free ports.
    let mut b = base;
    while !(1..3).all(|i| TcpListener::bind(("0.0.0.0", b + i)).is_ok()) {
        b = free_port();
    }
    let range = format!("{b}-{}:{b}-{}", b + 2, b + 2);
    h.run_d(
        &c,
        &["-p", &range, "-p", "127.0.0.1::90/udp", "--expose", "6379"],
        &["sleep", "1000"],
    )
    .ok();
    let ps = h
        .run(&["ps", "-f", &format!("name={c}"), "--format", "{{.Ports}}"])
        .ok()
        .out();
    assert!(ps.starts_with("6379/tcp, "), "{ps}");
    assert!(
        ps.contains(&format!("0.0.0.0:{b}-{}->{b}-{}/tcp", b + 2, b + 2)),
        "{ps}"
    );
    assert!(ps.contains("->90/udp") && ps.contains("127.0.0.1:"), "{ps}");
    let port = h.run(&["port", &c]).ok().stdout.clone();
    // IPv4 lines only (dockerd also binds [::]); the order is not specified.
    let mut v4: Vec<&str> = port.lines().filter(|l| !l.contains("::")).collect();
    v4.sort();
    assert_eq!(v4.len(), 4, "{port}");
    assert_eq!(v4[0], format!("{b}/tcp -> 0.0.0.0:{b}"));
    assert_eq!(v4[2], format!("{}/tcp -> 0.0.0.0:{}", b + 2, b + 2));
    assert!(v4[3].starts_with("90/udp -> 127.0.0.1:"), "{port}");
}

#[test]
fn network_ls_inspect_rm_prune_output() {
    let h = h();
    let (n, m) = (uname("lsa"), uname("lsb"));
    let label = format!("e2e.prune={}", uname("l"));
    let mut g = net(
        h,
        &n,
        &[
            "--label",
            &label,
            "--subnet",
            "10.231.7.0/24",
            "--gateway",
            "10.231.7.254",
        ],
    );
    let id = h
        .run(&["network", "inspect", "-f", "{{.Id}}", &n])
        .ok()
        .out();
    assert!(is_full_id(&id), "{id}");
    // ls: docker's columns, 12-character IDs, the predefined networks.
    let ls = h.run(&["network", "ls"]).ok().stdout.clone();
    let lines: Vec<&str> = ls.lines().collect();
    assert!(lines[0].starts_with("NETWORK ID     NAME   "), "{ls}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    );
    for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
        assert!(
            lines.iter().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() == 4
                    && f[1] == name
                    && f[2] == driver
                    && f[3] == "local"
                    && f[0].len() == 12
            }),
            "{name}/{driver} missing:\n{ls}"
        );
    }
    let row = lines
        .iter()
        .find(|l| l.split_whitespace().nth(1) == Some(n.as_str()))
        .unwrap_or_else(|| panic!("{n} missing:\n{ls}"));
    assert!(row.starts_with(&format!("{}   {n}", &id[..12])), "{row}");
    h.run(&["network", "ls", "-q", "-f", &format!("name={n}")])
        .ok()
        .stdout_is(&format!("{}\n", &id[..12]));
    h.run(&[
        "network",
        "ls",
        "--no-trunc",
        "-q",
        "-f",
        &format!("label={label}"),
    ])
    .ok()
    .stdout_is(&format!("{id}\n"));
    h.run(&[
        "network",
        "ls",
        "-f",
        &format!("id={id}"),
        "--format",
        "{{.Name}} {{.Driver}} {{.Internal}} {{.Labels}}",
    ])
    .ok()
    .stdout_is(&format!("{n} bridge false {label}\n"));
    // inspect: JSON array, 4-space indent, IPAM as asked.
    let o = h.run(&["network", "inspect", &n]);
    o.ok();
    assert!(
        o.stdout.starts_with("[\n    {\n        \"Name\": "),
        "{}",
        o.stdout
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("JSON");
    assert_eq!(v[0]["Name"], n.as_str());
    assert_eq!(v[0]["Driver"], "bridge");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], "10.231.7.0/24");
    assert_eq!(v[0]["IPAM"]["Config"][0]["Gateway"], "10.231.7.254");
    let (lk, lv) = label.split_once('=').unwrap();
    assert_eq!(v[0]["Labels"][lk], lv);
    // The generic inspect finds networks too.
    assert_eq!(h.inspect_f(&n, "{{.Driver}}"), "bridge");
    // Errors.
    let o = h.run(&["network", "inspect", "e2e-no-such-net"]);
    o.code(1).stdout_is("[]\n");
    if h.is_berth() {
        o.stderr_has("Error: No such network: e2e-no-such-net");
    } else {
        o.stderr_has("e2e-no-such-net");
    }
    h.run(&["network", "create", &n])
        .code(1)
        .stderr_has(&format!(
            "Error response from daemon: network with name {n} already exists"
        ));
    h.run(&["network", "create", "--gateway", "10.1.1.1", &m])
        .code(1)
        .stderr_has("every ip-range or gateway must have a corresponding subnet");
    h.run(&["network", "rm", "bridge"])
        .code(1)
        .stderr_has("bridge is a pre-defined network and cannot be removed");
    // rm prints each removed name; a missing one fails the command.
    let mut gm = net(h, &m, &["--label", &label]);
    let o = h.run(&["network", "rm", &m, "e2e-no-such-net"]);
    o.code(1)
        .stdout_is(&format!("{m}\n"))
        .stderr_has("e2e-no-such-net");
    gm.nets.clear();
    // prune: only unused networks that match the filter.
    g.nets.clear();
    let o = h.run(&[
        "network",
        "prune",
        "-f",
        "--filter",
        &format!("label={label}"),
    ]);
    o.ok().stdout_is(&format!("Deleted Networks:\n{n}\n\n"));
    h.run(&[
        "network",
        "prune",
        "-f",
        "--filter",
        &format!("label={label}"),
    ])
    .ok()
    .stdout_is("");
    h.run(&["network", "ls", "-q", "-f", &format!("name={n}")])
        .ok()
        .stdout_is("");
}

/// The Debian fixture imported once per daemon (`scripts/fixtures.sh --debian`).
fn debian(h: &Harness) -> &'static str {
    static DONE: Mutex<bool> = Mutex::new(false);
    let img = "berth-e2e/debian:bookworm";
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if !*done {
        let tar = fixture("debian-bookworm.tar");
        h.run_opts(
            &["import", path_str(&tar), img],
            None,
            Duration::from_secs(300),
        )
        .ok();
        *done = true;
    }
    img
}

#[test]
fn outbound_apt_update_on_default_bridge_and_user_network() {
    let h = h();
    let img = debian(h);
    let n = uname("apt");
    let _nets = net(h, &n, &[]);
    for network in ["default", n.as_str()] {
        let o = h.run_opts(
            &[
                "run",
                "--rm",
                "--network",
                network,
                img,
                "apt-get",
                "update",
            ],
            None,
            Duration::from_secs(300),
        );
        o.ok().stdout_has("Reading package lists");
    }
    // The user network's container resolves through the embedded DNS, with the host's search
    // and options lines.
    let conf = h
        .run(&[
            "run",
            "--rm",
            "--network",
            &n,
            img,
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .stdout
        .clone();
    let ns: Vec<&str> = conf
        .lines()
        .filter(|l| l.starts_with("nameserver"))
        .collect();
    assert_eq!(ns.len(), 1, "{conf}");
}

#[test]
fn berth_and_dockerd_containers_reach_the_outside_at_the_same_time() {
    let h = h();
    if h.berth_only("berth_and_dockerd_containers_reach_the_outside_at_the_same_time") {
        return;
    }
    let img = debian(h);
    let docker = PathBuf::from(
        std::env::var("BERTH_E2E_DOCKER").unwrap_or_else(|_| "/usr/bin/docker".into()),
    );
    let oracle = std::env::var("BERTH_E2E_ORACLE")
        .unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into());
    let denv = [("DOCKER_HOST", oracle.as_str())];
    let tar = fixture("debian-bookworm.tar");
    run_cmd(
        &docker,
        &["import", path_str(&tar), img],
        &denv,
        None,
        Duration::from_secs(300),
    )
    .ok();
    let apt = ["run", "--rm", img, "apt-get", "update"];
    let docker2 = docker.clone();
    let oracle2 = oracle.clone();
    let theirs = std::thread::spawn(move || {
        run_cmd(
            &docker2,
            &apt,
            &[("DOCKER_HOST", oracle2.as_str())],
            None,
            Duration::from_secs(300),
        )
    });
    let ours = h.run_opts(&apt, None, Duration::from_secs(300));
    let theirs = theirs.join().expect("docker thread");
    ours.ok().stdout_has("Reading package lists");
    theirs.ok().stdout_has("Reading package lists");
}

#[test]
fn docker_cli_drives_berth_networks_and_ports() {
    let h = h();
    if h.berth_only("docker_cli_drives_berth_networks_and_ports") {
        return;
    }
    let docker = PathBuf::from(
        std::env::var("BERTH_E2E_DOCKER").unwrap_or_else(|_| "/usr/bin/docker".into()),
    );
    let env = [("DOCKER_HOST", h.host.as_str())];
    let d = |args: &[&str]| run_cmd(&docker, args, &env, None, CMD_TIMEOUT);
    let n = uname("dk");
    let (srv, cli) = (uname("dsrv"), uname("dcli"));
    let _nets = NetGuard {
        h,
        nets: vec![n.clone()],
    };
    let _g = h.guard(&[&srv, &cli]);
    let id = d(&["network", "create", &n]).ok().out();
    assert!(is_full_id(&id), "{id}");
    d(&["network", "ls", "-q", "-f", &format!("name={n}")])
        .ok()
        .stdout_is(&format!("{}\n", &id[..12]));
    let p = free_port();
    let cmd = serve("viadocker", 80);
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &srv,
        "--network",
        &n,
        "--network-alias",
        "www",
    ];
    let spec = format!("{p}:80");
    args.extend(["-p", &spec, &h.image]);
    args.extend(cmd.iter().map(String::as_str));
    d(&args).ok();
    d(&[
        "run",
        "-d",
        "--name",
        &cli,
        "--network",
        &n,
        &h.image,
        "sleep",
        "1000",
    ])
    .ok();
    wait_fetch(h, &cli, "http://www/", "viadocker");
    wait_fetch(h, &cli, &format!("http://{srv}/"), "viadocker");
    wait_curl(&format!("http://127.0.0.1:{p}/"), "viadocker");
    d(&["port", &srv])
        .ok()
        .stdout_has(&format!("80/tcp -> 0.0.0.0:{p}"));
    let v = d(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        &n,
    ])
    .ok()
    .out();
    let mut names: Vec<&str> = v.split_whitespace().collect();
    names.sort();
    let mut want = vec![srv.as_str(), cli.as_str()];
    want.sort();
    assert_eq!(names, want);
}
