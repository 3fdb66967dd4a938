//! Networking end to end on a real engine (root; own data root, so its
//! bridges and firewall chains are its own): the default bridge, a user
//! network with DNS, distinct addresses, a published port reached through
//! 127.0.0.1, and a teardown that leaves nothing behind. Needs the `berth`
//! binary (the shim) at target/debug/berth.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_engine::{Engine, EngineConfig, WaitCondition};
use berth_spec::api::{ContainerCreateRequest, PortBinding};
use berth_spec::network_api::NetworkCreateRequest;

fn config(root: &Path) -> EngineConfig {
    EngineConfig {
        data_root: root.join("data"),
        exec_root: root.join("exec"),
        shim_exe: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/berth"),
        daemon_log: None,
    }
}

/// A rootfs tar with busybox and all its applets.
fn busybox_tar() -> Vec<u8> {
    let bb = std::fs::read("/bin/busybox").expect("busybox-static installed");
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o755);
    h.set_size(bb.len() as u64);
    b.append_data(&mut h, "bin/busybox", &bb[..]).unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet == "busybox" {
            continue;
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}

async fn engine(root: &Path) -> Arc<Engine> {
    let cfg = config(root);
    assert!(
        cfg.shim_exe.exists(),
        "{} is not built: run `cargo build -p berth` first",
        cfg.shim_exe.display()
    );
    let e = Engine::open(cfg).await.unwrap();
    e.store()
        .import_rootfs(
            &busybox_tar()[..],
            &berth_store::ImportOptions {
                tag: Some("bb:latest".into()),
                ..Default::default()
            },
        )
        .unwrap();
    e
}

fn request(network: &str, cmd: &[&str]) -> ContainerCreateRequest {
    let mut req = ContainerCreateRequest::default();
    req.config.image = "bb".into();
    req.config.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
    req.host_config.network_mode = network.into();
    req
}

async fn run(e: &Arc<Engine>, name: &str, req: ContainerCreateRequest) -> String {
    let id = e.create(req, Some(name.into())).await.unwrap().id;
    e.start(&id).await.unwrap();
    id
}

async fn exit_code(e: &Arc<Engine>, name: &str) -> i64 {
    let wait = e.wait(name, WaitCondition::NotRunning).unwrap();
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("container did not exit")
        .status_code
}

fn bridge_dir(name: &str) -> PathBuf {
    Path::new("/sys/class/net").join(name)
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"GET /i HTTP/1.0\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_networks_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path()).await;

    // The default bridge exists from the start, host and none too.
    let nets = e.network_list(Default::default()).await.unwrap();
    let names: Vec<&str> = nets.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, vec!["bridge", "host", "none"]);
    let bridge = e.network_inspect("bridge").await.unwrap();
    assert_eq!(bridge.driver, "bridge");
    let bridge_dev = bridge.options["com.docker.network.bridge.name"].clone();
    assert!(bridge_dev.starts_with("bt"), "{bridge_dev}");

    // A user network; two containers find each other by name and alias.
    let created = e
        .network_create(NetworkCreateRequest {
            name: "appnet".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let dup = e
        .network_create(NetworkCreateRequest {
            name: "appnet".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(dup.status(), 409);
    assert_eq!(dup.message, "network with name appnet already exists");
    let mut req = request("appnet", &["sleep", "60"]);
    let mut eps = BTreeMap::new();
    eps.insert(
        "appnet".to_string(),
        berth_spec::api::EndpointSettings {
            aliases: Some(vec!["db".into()]),
            ..Default::default()
        },
    );
    req.networking_config = Some(berth_spec::network_api::NetworkingConfig {
        endpoints_config: Some(eps),
    });
    run(&e, "server", req).await;
    run(
        &e,
        "client",
        request(
            "appnet",
            &[
                "sh",
                "-c",
                "ping -c1 -W3 server && ping -c1 -W3 db && nslookup server",
            ],
        ),
    )
    .await;
    assert_eq!(
        exit_code(&e, "client").await,
        0,
        "client could not reach server"
    );
    let net = e.network_inspect("appnet").await.unwrap();
    assert_eq!(net.id, created.id);
    assert_eq!(net.containers.len(), 1, "only the running server is listed");

    // Distinct addresses, MAC derived from the IP.
    run(&e, "other", request("appnet", &["sleep", "60"])).await;
    let a = e.inspect("server", false).await.unwrap();
    let b = e.inspect("other", false).await.unwrap();
    let (ea, eb) = (
        &a.network_settings.networks["appnet"],
        &b.network_settings.networks["appnet"],
    );
    assert!(!ea.ip_address.is_empty());
    assert_ne!(ea.ip_address, eb.ip_address);
    let octets: Vec<u8> = ea
        .ip_address
        .split('.')
        .map(|o| o.parse().unwrap())
        .collect();
    assert_eq!(
        ea.mac_address,
        format!(
            "02:42:{:02x}:{:02x}:{:02x}:{:02x}",
            octets[0], octets[1], octets[2], octets[3]
        )
    );
    assert_eq!(ea.aliases.as_deref().unwrap()[0], "db");

    // A published port on the default bridge, reached through 127.0.0.1.
    let mut req = request(
        "default",
        &[
            "sh",
            "-c",
            "mkdir /www && echo hello > /www/i && httpd -f -p 80 -h /www",
        ],
    );
    let mut pb = BTreeMap::new();
    pb.insert(
        "80/tcp".to_string(),
        Some(vec![PortBinding {
            host_ip: String::new(),
            host_port: String::new(),
        }]),
    );
    req.host_config.port_bindings = Some(pb);
    run(&e, "web", req).await;
    let web = e.inspect("web", false).await.unwrap();
    let port: u16 = web.network_settings.ports["80/tcp"].as_ref().unwrap()[0]
        .host_port
        .parse()
        .unwrap();
    assert!(port >= 32768, "{port}");
    assert!(!web.network_settings.ip_address.is_empty());
    assert!(web
        .network_settings
        .sandbox_key
        .starts_with(tmp.path().to_str().unwrap()));
    let mut body = String::new();
    for _ in 0..50 {
        match http_get(port) {
            Ok(b) if b.contains("hello") => {
                body = b;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(
        body.contains("hello"),
        "no answer through the published port: {body:?}"
    );

    // The user network cannot go while in use.
    let err = e.network_remove("appnet").await.unwrap_err();
    assert_eq!(err.status(), 403);
    assert!(
        err.message.contains("has active endpoints"),
        "{}",
        err.message
    );

    // Teardown: no netns, no veth on our bridges, then no bridges.
    for n in ["server", "other", "web", "client"] {
        e.remove(n, true, false).await.unwrap();
    }
    e.network_remove("appnet").await.unwrap();
    let netns: Vec<_> = std::fs::read_dir(tmp.path().join("exec/netns"))
        .map(|rd| rd.flatten().map(|d| d.file_name()).collect())
        .unwrap_or_default();
    assert!(netns.is_empty(), "netns left: {netns:?}");
    // The veths go with their netns (the kernel frees it asynchronously).
    let mut ports = Vec::new();
    for _ in 0..50 {
        ports = std::fs::read_dir(bridge_dir(&bridge_dev).join("brif"))
            .unwrap()
            .flatten()
            .map(|d| d.file_name())
            .collect();
        if ports.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ports.is_empty(), "veths left on {bridge_dev}: {ports:?}");
    e.shutdown_network().await;
    assert!(
        !bridge_dir(&bridge_dev).exists(),
        "bridge {bridge_dev} left"
    );
    assert!(http_get(port).is_err());
}
