//! What docker-py (and other Docker clients) need from the Engine API, on the wire, one test per
//! class of fix the docker-py gate (scripts/docker-py.sh) asked for: swarm and plugin endpoints
//! answering as a dockerd outside a swarm, exec output framed by the start request, `/system/df`,
//! the archive endpoints inside volumes and binds, `DELETE ?link=true`, create options checked
//! and reported as dockerd does, network and endpoint options kept, `null` JSON members, image
//! load errors in the stream, build `cachefrom`/`extrahosts`, commit's `ContainerConfig`.
//! Every test speaks raw HTTP (or the CLI), so `BERTH_E2E_CLI=docker` runs them against dockerd.
mod common;
use common::*;
use std::path::PathBuf;
use std::time::Duration;

fn sock() -> PathBuf {
    sock_of(&h().host)
}

/// A raw API request with an optional JSON body; (status, body).
fn api(method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    api_within(method, path, body, Duration::from_secs(10))
}

/// [`api`] waiting up to `timeout` (dockerd looks a missing plugin up for a while).
fn api_within(method: &str, path: &str, body: Option<&str>, timeout: Duration) -> (u16, String) {
    let req = match body {
        Some(b) => format!(
            "{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ),
        None => format!("{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"),
    };
    http_bytes(&sock(), req.as_bytes(), timeout).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// `{"message": ...}` of an error body.
fn message(body: &str) -> String {
    json(body)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A detached `sleep` container (removed by the returned guard).
fn sleeper(name: &str, opts: &[&str]) -> Guard {
    let mut g = h().guard(&[]);
    g.container(name);
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[h().image.as_str(), "sleep", "300"]);
    h().run(&args).ok();
    g
}

const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

#[test]
fn swarm_and_plugin_endpoints_answer_as_a_node_outside_a_swarm() {
    for path in [
        "/v1.41/swarm",
        "/v1.41/services",
        "/v1.41/nodes",
        "/v1.41/tasks",
        "/v1.41/secrets",
        "/v1.41/configs",
        "/v1.41/swarm/unlockkey",
        "/v1.41/services/x",
        "/v1.41/nodes/x",
    ] {
        let (st, body) = api("GET", path, None);
        assert_eq!(
            (st, message(&body).as_str()),
            (503, NOT_A_MANAGER),
            "{path}"
        );
    }
    // docker-py's leave_swarm(force=True) treats this 503 as "not in a swarm".
    let (st, body) = api("POST", "/v1.41/swarm/leave?force=true", Some("{}"));
    assert_eq!(
        (st, message(&body).as_str()),
        (503, "This node is not part of a swarm")
    );
    let (st, body) = api("GET", "/v1.41/plugins", None);
    assert_eq!((st, json(&body)), (200, serde_json::json!([])));
    let (st, body) = api("GET", "/v1.41/plugins/nosuch/json", None);
    assert_eq!(
        (st, message(&body).as_str()),
        (404, "plugin \"nosuch\" not found")
    );
}

/// Creates an exec of `cmd` in `container` with `tty`; its ID.
fn exec_create(container: &str, cmd: &str, tty: bool) -> String {
    let body = serde_json::json!({
        "Cmd": ["sh", "-c", cmd], "Tty": tty, "AttachStdout": true, "AttachStderr": true
    })
    .to_string();
    let (st, out) = api(
        "POST",
        &format!("/v1.41/containers/{container}/exec"),
        Some(&body),
    );
    assert_eq!(st, 201, "{out}");
    json(&out)["Id"].as_str().expect("Id").to_string()
}

/// The frames of a multiplexed stream, consecutive frames of one stream joined:
/// (stream, payload). Panics on a stream that is not multiplexed.
fn frames(raw: &str) -> Vec<(u8, String)> {
    let mut bytes = raw.as_bytes();
    let mut out: Vec<(u8, String)> = Vec::new();
    while !bytes.is_empty() {
        assert!(
            bytes.len() >= 8 && bytes[1..4] == [0, 0, 0],
            "not a frame: {raw:?}"
        );
        let len = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        let payload = String::from_utf8_lossy(&bytes[8..8 + len]).into_owned();
        match out.last_mut() {
            Some((s, p)) if *s == bytes[0] => p.push_str(&payload),
            _ => out.push((bytes[0], payload)),
        }
        bytes = &bytes[8 + len..];
    }
    out
}

#[test]
fn exec_output_is_framed_by_the_start_request_tty() {
    let name = uname("pyexec");
    let _g = sleeper(&name, &[]);
    let cmd = "echo out; echo err >&2";
    // A TTY exec started with Tty=false: multiplexed frames all the same (stdout, the TTY merges).
    let id = exec_create(&name, cmd, true);
    let (st, out) = api(
        "POST",
        &format!("/v1.41/exec/{id}/start"),
        Some(r#"{"Tty":false}"#),
    );
    assert_eq!(st, 200, "{out}");
    assert_eq!(
        frames(&out),
        vec![(1, "out\r\nerr\r\n".to_string())],
        "{out:?}"
    );
    // The same exec with Tty=true: raw bytes.
    let id = exec_create(&name, cmd, true);
    let (st, out) = api(
        "POST",
        &format!("/v1.41/exec/{id}/start"),
        Some(r#"{"Tty":true}"#),
    );
    assert_eq!((st, out.as_str()), (200, "out\r\nerr\r\n"));
    // Without a TTY: one frame per stream.
    let id = exec_create(&name, "echo out", false);
    let (st, out) = api(
        "POST",
        &format!("/v1.41/exec/{id}/start"),
        Some(r#"{"Tty":false}"#),
    );
    assert_eq!(st, 200, "{out}");
    assert_eq!(frames(&out), vec![(1, "out\n".to_string())], "{out:?}");
    let (_, inspect) = api("GET", &format!("/v1.41/exec/{id}/json"), None);
    assert_eq!(json(&inspect)["ProcessConfig"]["tty"], false);
    // A finished exec cannot start again: attached, the error is in the stream (detached, it
    // is a 409); a missing exec is a 404.
    let (st, out) = api(
        "POST",
        &format!("/v1.41/exec/{id}/start"),
        Some(r#"{"Tty":false}"#),
    );
    assert_eq!(st, 200, "{out}");
    assert_eq!(
        frames(&out),
        vec![(1, format!("Error: Exec command {id} has already run\r\n"))]
    );
    let (st, _) = api("POST", "/v1.41/exec/nosuch/start", Some(r#"{"Tty":false}"#));
    assert_eq!(st, 404);
}

#[test]
fn system_df_counts_images_containers_and_volumes() {
    let name = uname("pydf");
    let vol = uname("pydfvol");
    let _g = sleeper(&name, &["-v", &format!("{vol}:/data")]);
    let (st, body) = api("GET", "/v1.41/system/df", None);
    assert_eq!(st, 200, "{body}");
    let v = json(&body);
    assert!(v["LayersSize"].as_i64().is_some_and(|s| s > 0), "{v}");
    let image = v["Images"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["Id"] == h().image_id.as_str()).cloned())
        .unwrap_or_else(|| panic!("test image missing from df: {v}"));
    assert!(
        image["Containers"].as_i64().is_some_and(|n| n >= 1),
        "{image}"
    );
    assert!(v["Containers"].as_array().is_some_and(|a| a
        .iter()
        .any(|c| c["Names"][0] == format!("/{name}").as_str())));
    let volume = v["Volumes"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["Name"] == vol.as_str()).cloned())
        .unwrap_or_else(|| panic!("volume missing from df: {v}"));
    assert_eq!(volume["UsageData"]["RefCount"], 1, "{volume}");
    assert!(
        v["BuildCache"].is_array() || v["BuildCache"].is_null(),
        "{v}"
    );
    h().run(&["rm", "-f", &name]).ok();
    h().run(&["volume", "rm", &vol]).ok();
}

#[test]
fn archive_reaches_into_volumes_and_bind_mounts() {
    let name = uname("pyarch");
    let vol = uname("pyarchvol");
    let bind = unique_tmp_dir("pyarch-bind");
    std::fs::write(bind.join("host.txt"), "from the host\n").expect("write bind file");
    let src = unique_tmp_dir("pyarch-src");
    std::fs::write(src.join("in.txt"), "into the volume\n").expect("write source");
    let mut g = h().guard(&[]);
    g.container(&name);
    // Created, never started: the mounts are not in any mount namespace yet.
    h().run(&[
        "create",
        "--name",
        &name,
        "-v",
        &format!("{vol}:/vol1"),
        "-v",
        &format!("{}:/bnd", bind.display()),
        &h().image,
        "true",
    ])
    .ok();
    let into = format!("{name}:/vol1/");
    h().run(&["cp", path_str(&src.join("in.txt")), &into]).ok();
    let mountpoint = h().run(&["volume", "inspect", "-f", "{{.Mountpoint}}", &vol]);
    if h().is_berth() {
        // The file went into the volume itself, not under the container's rootfs.
        let mp = mountpoint.ok().out();
        assert_eq!(
            std::fs::read_to_string(PathBuf::from(mp).join("in.txt")).expect("file in volume"),
            "into the volume\n"
        );
    }
    let out = unique_tmp_dir("pyarch-out");
    h().run(&[
        "cp",
        &format!("{name}:/bnd/host.txt"),
        path_str(&out.join("host.txt")),
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(out.join("host.txt")).expect("copied out"),
        "from the host\n"
    );
    // HEAD stats a path inside the volume.
    let (st, _) = api(
        "HEAD",
        &format!("/v1.41/containers/{name}/archive?path=/vol1/in.txt"),
        None,
    );
    assert_eq!(st, 200);
    let (st, body) = api(
        "HEAD",
        &format!("/v1.41/containers/{name}/archive?path=/vol1/nosuch"),
        None,
    );
    assert_eq!(st, 404, "{body}");
    drop(g);
    h().run(&["volume", "rm", &vol]).ok();
}

#[test]
fn delete_with_link_removes_only_the_link() {
    let target = uname("pylinkt");
    let linker = uname("pylinkl");
    let _g1 = sleeper(&target, &[]);
    let _g2 = sleeper(&linker, &["--link", &format!("{target}:mylink")]);
    let (st, body) = api(
        "DELETE",
        &format!("/v1.41/containers/{linker}/nolink?link=true"),
        None,
    );
    assert_eq!(
        (st, message(&body)),
        (404, format!("No such container: {linker}/nolink"))
    );
    let (st, body) = api(
        "DELETE",
        &format!("/v1.41/containers/{target}?link=true"),
        None,
    );
    assert_eq!(
        (st, message(&body).as_str()),
        (
            500,
            "Conflict, cannot remove the default link name of the container"
        )
    );
    let (st, body) = api(
        "DELETE",
        &format!("/v1.41/containers/{linker}/mylink?link=true"),
        None,
    );
    assert_eq!(st, 204, "{body}");
    let links = h().inspect_json(&linker)["HostConfig"]["Links"].clone();
    assert!(
        links.as_array().is_none_or(|l| l.is_empty()),
        "link still recorded: {links}"
    );
    // Both containers are still there.
    assert_eq!(h().status_of(&target).as_deref(), Some("running"));
    assert_eq!(h().status_of(&linker).as_deref(), Some("running"));
    let (st, _) = api(
        "DELETE",
        &format!("/v1.41/containers/{linker}/mylink?link=true"),
        None,
    );
    assert_eq!(st, 404);
}

#[test]
fn create_checks_runtime_and_log_driver_names() {
    let image = h().image.clone();
    let create = |name: &str, host_config: serde_json::Value| {
        let body = serde_json::json!({"Image": image, "Cmd": ["true"], "HostConfig": host_config});
        api_within(
            "POST",
            &format!("/v1.41/containers/create?name={name}"),
            Some(&body.to_string()),
            Duration::from_secs(90),
        )
    };
    let name = uname("pyruntime");
    let mut g = h().guard(&[]);
    g.container(&name);
    let (st, body) = create(&name, serde_json::json!({"Runtime": "runc"}));
    assert_eq!(st, 201, "{body}");
    assert_eq!(h().inspect_f(&name, "{{.HostConfig.Runtime}}"), "runc");
    let (st, body) = create(&uname("pyruntime"), serde_json::json!({"Runtime": "foo"}));
    assert_eq!(
        (st, message(&body).as_str()),
        (400, "Unknown runtime specified foo")
    );
    let (st, body) = create(
        &uname("pylog"),
        serde_json::json!({"LogConfig": {"Type": "asdf", "Config": {}}}),
    );
    assert_eq!(
        (st, message(&body).as_str()),
        (
            400,
            "error looking up logging plugin asdf: plugin \"asdf\" not found"
        )
    );
    // Names dockerd matches case-insensitively, as docker-py spells them.
    let rt = uname("pyrt");
    g.container(&rt);
    let (st, body) = create(
        &rt,
        serde_json::json!({"CPURealtimePeriod": 1000, "CPURealtimeRuntime": 500}),
    );
    assert_eq!(st, 201, "{body}");
    let v = h().inspect_json(&rt);
    assert_eq!(
        (
            &v["HostConfig"]["CpuRealtimePeriod"],
            &v["HostConfig"]["CpuRealtimeRuntime"]
        ),
        (&serde_json::json!(1000), &serde_json::json!(500))
    );
    let ex = uname("pydk");
    let _s = sleeper(&ex, &[]);
    let (st, out) = api(
        "POST",
        &format!("/v1.41/containers/{ex}/exec"),
        Some(r#"{"Cmd":["true"],"detachKeys":"ctrl-x"}"#),
    );
    assert_eq!(st, 201, "{out}");
    let id = json(&out)["Id"].as_str().expect("Id").to_string();
    let (_, out) = api("GET", &format!("/v1.41/exec/{id}/json"), None);
    // (dockerd shows the parsed keys base64-encoded, berth the sequence as given: both set.)
    assert!(
        json(&out)["DetachKeys"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "{out}"
    );
    // Nothing asked: dockerd's default runtime name.
    let plain = uname("pyruntime");
    g.container(&plain);
    let (st, body) = create(&plain, serde_json::json!({}));
    assert_eq!(st, 201, "{body}");
    assert_eq!(h().inspect_f(&plain, "{{.HostConfig.Runtime}}"), "runc");
    let (_, info) = api("GET", "/v1.41/info", None);
    let info = json(&info);
    assert!(info["Runtimes"]["runc"].is_object(), "{info}");
    assert_eq!(info["DefaultRuntime"], "runc");
}

#[test]
fn null_members_of_request_bodies_are_zero_values() {
    let name = uname("pynull");
    let mut g = h().guard(&[]);
    g.container(&name);
    let body = serde_json::json!({
        "Image": h().image, "Cmd": ["true"], "Env": null, "Entrypoint": null, "Labels": null,
        "Healthcheck": null, "Volumes": null,
        "HostConfig": {"Binds": null, "NetworkMode": null, "RestartPolicy": null, "Links": null},
        "NetworkingConfig": null
    });
    let (st, out) = api(
        "POST",
        &format!("/v1.41/containers/create?name={name}"),
        Some(&body.to_string()),
    );
    assert_eq!(st, 201, "{out}");
    let net = uname("pynullnet");
    let body = serde_json::json!({
        "Name": net, "Driver": null, "Internal": null, "Labels": null, "Options": null,
        "IPAM": {"Driver": null, "Config": null, "Options": null}
    });
    let (st, out) = api("POST", "/v1.41/networks/create", Some(&body.to_string()));
    assert_eq!(st, 201, "{out}");
    h().run(&["network", "rm", &net]).ok();
}

#[test]
fn group_add_and_mac_address_reach_the_container() {
    let name = uname("pygroups");
    let mut g = h().guard(&[]);
    g.container(&name);
    let body = serde_json::json!({
        "Image": h().image, "Cmd": ["id", "-G"], "HostConfig": {"GroupAdd": ["1000", "1001"]}
    });
    let (st, out) = api(
        "POST",
        &format!("/v1.41/containers/create?name={name}"),
        Some(&body.to_string()),
    );
    assert_eq!(st, 201, "{out}");
    let out = h().run(&["start", "-a", &name]).ok().out();
    let groups: Vec<&str> = out.split_whitespace().collect();
    assert!(
        groups.contains(&"1000") && groups.contains(&"1001"),
        "{out}"
    );
    let mac_name = uname("pymac");
    g.container(&mac_name);
    let body = serde_json::json!({
        "Image": h().image, "Cmd": ["sleep", "300"], "MacAddress": "02:42:ac:11:00:0a"
    });
    let (st, out) = api(
        "POST",
        &format!("/v1.41/containers/create?name={mac_name}"),
        Some(&body.to_string()),
    );
    assert_eq!(st, 201, "{out}");
    h().run(&["start", &mac_name]).ok();
    assert_eq!(
        h().inspect_f(&mac_name, "{{.NetworkSettings.MacAddress}}"),
        "02:42:ac:11:00:0a"
    );
    let link = h()
        .run(&["exec", &mac_name, "cat", "/sys/class/net/eth0/address"])
        .ok()
        .out();
    assert_eq!(link, "02:42:ac:11:00:0a");
}

#[test]
fn network_and_endpoint_options_are_kept() {
    let net = uname("pyipam");
    let body = serde_json::json!({
        "Name": net,
        "IPAM": {"Driver": "default", "Config": [{
            "Subnet": "172.29.130.0/24", "IPRange": "172.29.130.128/25",
            "Gateway": "172.29.130.254",
            "AuxiliaryAddresses": {"a": "172.29.130.129", "b": "172.29.130.130"}
        }]}
    });
    let (st, out) = api("POST", "/v1.41/networks/create", Some(&body.to_string()));
    assert_eq!(st, 201, "{out}");
    let (_, out) = api("GET", &format!("/v1.41/networks/{net}"), None);
    assert_eq!(
        json(&out)["IPAM"]["Config"][0]["AuxiliaryAddresses"],
        serde_json::json!({"a": "172.29.130.129", "b": "172.29.130.130"}),
        "{out}"
    );
    // Given aliases only until the container joins the network (at start).
    let name = uname("pyalias");
    let mut g = h().guard(&[]);
    g.container(&name);
    let body = serde_json::json!({
        "Image": h().image, "Cmd": ["sleep", "300"],
        "HostConfig": {"NetworkMode": net},
        "NetworkingConfig": {"EndpointsConfig": {net.clone(): {
            "Aliases": ["hello"], "DriverOpts": {"key1": "a"}
        }}}
    });
    let (st, out) = api(
        "POST",
        &format!("/v1.41/containers/create?name={name}"),
        Some(&body.to_string()),
    );
    assert_eq!(st, 201, "{out}");
    let v = h().inspect_json(&name);
    let ep = &v["NetworkSettings"]["Networks"][net.as_str()];
    assert_eq!(ep["Aliases"], serde_json::json!(["hello"]), "{ep}");
    assert_eq!(ep["DriverOpts"], serde_json::json!({"key1": "a"}), "{ep}");
    h().run(&["start", &name]).ok();
    let v = h().inspect_json(&name);
    let ep = &v["NetworkSettings"]["Networks"][net.as_str()];
    let short = &v["Id"].as_str().expect("Id")[..12];
    assert_eq!(ep["Aliases"], serde_json::json!(["hello", short]), "{ep}");
    // The auxiliary addresses are never handed out.
    let ip = ep["IPAddress"].as_str().unwrap_or_default().to_string();
    assert!(
        ip.starts_with("172.29.130.") && ip != "172.29.130.129" && ip != "172.29.130.130",
        "{ep}"
    );
    // API 1.41 creates a container on one network only.
    let body = serde_json::json!({
        "Image": h().image, "Cmd": ["true"], "HostConfig": {"NetworkMode": net},
        "NetworkingConfig": {"EndpointsConfig": {net.clone(): {}, "bar": {}}}
    });
    let (st, out) = api("POST", "/v1.41/containers/create", Some(&body.to_string()));
    let mut both = [net.as_str(), "bar"];
    both.sort();
    assert_eq!(
        (st, message(&out)),
        (
            400,
            format!(
                "Container cannot be connected to network endpoints: {}",
                both.join(", ")
            )
        )
    );
    // A MAC address given at connect shows before the container runs.
    let mc = uname("pymacc");
    g.container(&mc);
    h().run(&["create", "--name", &mc, &h().image, "true"]).ok();
    let body =
        serde_json::json!({"Container": mc, "EndpointConfig": {"MacAddress": "02:42:ac:11:00:02"}});
    let (st, out) = api(
        "POST",
        &format!("/v1.41/networks/{net}/connect"),
        Some(&body.to_string()),
    );
    assert_eq!(st, 200, "{out}");
    let v = h().inspect_json(&mc);
    assert_eq!(
        v["NetworkSettings"]["Networks"][net.as_str()]["MacAddress"],
        "02:42:ac:11:00:02"
    );
    // Link-local addresses of an endpoint on the default bridge are recorded and reported.
    let ll = uname("pyll");
    g.container(&ll);
    let body = serde_json::json!({
        "Image": h().image, "Cmd": ["true"],
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkingConfig": {"EndpointsConfig": {"bridge": {
            "IPAMConfig": {"LinkLocalIPs": ["169.254.8.8"]}
        }}}
    });
    let (st, out) = api(
        "POST",
        &format!("/v1.41/containers/create?name={ll}"),
        Some(&body.to_string()),
    );
    assert_eq!(st, 201, "{out}");
    let v = h().inspect_json(&ll);
    assert_eq!(
        v["NetworkSettings"]["Networks"]["bridge"]["IPAMConfig"]["LinkLocalIPs"],
        serde_json::json!(["169.254.8.8"])
    );
    drop(g);
    let rm = h().run(&["network", "rm", &net]);
    assert_eq!(rm.code, 0, "{rm:?}");
}

#[test]
fn image_errors_as_dockerd_reports_them() {
    // A bad archive: 200, then the error in the JSON stream (docker-py's ImageLoadError).
    let req = "POST /v1.41/images/load HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/x-tar\r\nContent-Length: 3\r\n\r\nabc";
    let (st, body) = http(&sock(), req).expect("load");
    assert_eq!(st, 200, "{body}");
    let last = body
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let v = json(last);
    assert!(
        v["error"].is_string() && v["errorDetail"]["message"] == v["error"],
        "{body}"
    );
    // A volume driver that is not installed: 404.
    let name = uname("pyvoldrv");
    let body = serde_json::json!({"Name": name, "Driver": "invalid.driver"}).to_string();
    let (st, out) = api_within(
        "POST",
        "/v1.41/volumes/create",
        Some(&body),
        Duration::from_secs(90),
    );
    assert_eq!(
        (st, message(&out)),
        (
            404,
            format!(
                "create {name}: error looking up volume plugin invalid.driver: plugin \"invalid.driver\" not found"
            )
        )
    );
}

/// A build context: a tar of one Dockerfile.
fn context(dockerfile: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    b.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .expect("tar");
    b.into_inner().expect("tar")
}

/// `POST /build?QUERY` with `ctx`; the stream's body.
fn build(query: &str, ctx: &[u8]) -> String {
    let mut req = format!(
        "POST /v1.41/build?{query} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        ctx.len()
    )
    .into_bytes();
    req.extend_from_slice(ctx);
    let (st, body) = http_bytes(&sock(), &req, Duration::from_secs(120)).expect("build");
    assert_eq!(st, 200, "{body}");
    assert!(!body.contains("errorDetail"), "{body}");
    body
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn build_cache_from_extra_hosts_commit_and_image_count() {
    let first = uname("pycache");
    let second = uname("pycache");
    let mut g = h().guard(&[]);
    g.image(&first);
    g.image(&second);
    let df = format!(
        "FROM {}\nENV FOO={first}\nRUN touch /baz\nRUN grep -q 'extrahost.local.test' /etc/hosts\n",
        h().image
    );
    let ctx = context(&df);
    let hosts = pct("extrahost.local.test:127.0.0.1");
    build(&format!("t={first}&extrahosts={hosts}"), &ctx);
    let cached = |out: &str| out.matches("Using cache").count();
    // Only the named images' steps are reused...
    let out = build(
        &format!(
            "t={second}&extrahosts={hosts}&cachefrom={}",
            pct(&format!("[\"{first}\"]"))
        ),
        &ctx,
    );
    assert_eq!(cached(&out), 3, "{out}");
    // ...and none when the named image does not exist.
    h().run(&["rmi", &second]).ok();
    let out = build(
        &format!(
            "t={second}&extrahosts={hosts}&cachefrom={}",
            pct("[\"nosuchtag\"]")
        ),
        &ctx,
    );
    assert_eq!(cached(&out), 0, "{out}");

    // commit with an empty config: the image records the container's image as given.
    let name = uname("pycommit");
    g.container(&name);
    h().run(&["run", "--name", &name, &h().image, "touch", "/x"])
        .ok();
    let (st, out) = api(
        "POST",
        &format!("/v1.41/commit?container={name}"),
        Some("{}"),
    );
    assert_eq!(st, 201, "{out}");
    let id = json(&out)["Id"].as_str().expect("Id").to_string();
    g.image(&id);
    let v = h().inspect_json(&id);
    assert_eq!(v["ContainerConfig"]["Image"], h().image.as_str(), "{v}");

    // info counts every image, intermediate ones too (one per ID, as `images -a`).
    let (_, all) = api("GET", "/v1.41/images/json?all=1", None);
    let mut ids: Vec<String> = json(&all)
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["Id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids.dedup();
    let (_, info) = api("GET", "/v1.41/info", None);
    assert_eq!(json(&info)["Images"], ids.len(), "{all}");
}
