//! Volumes and mounts end to end: the `volume` commands, named and anonymous
//! volumes with copy-up of the image's content, bind mounts, tmpfs,
//! `--volumes-from`, `rm -v`, and a Redis database whose data outlives its
//! containers and a daemon restart. Every test but the daemon restart also
//! runs against dockerd (`BERTH_E2E_CLI=docker`).
mod common;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// Removes these volumes when dropped (after the containers using them).
struct Volumes(Vec<String>);

impl Drop for Volumes {
    fn drop(&mut self) {
        for v in &self.0 {
            let _ = h().run(&["volume", "rm", "-f", v]);
        }
    }
}

/// `run --rm <opts> IMAGE sh -c SCRIPT`, asserting success; its stdout trimmed.
fn sh(opts: &[&str], image: &str, script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[image, "sh", "-c", script]);
    h().run(&args).ok().out()
}

/// Builds (once per process) the busybox image with a `/data` owned by 1000
/// holding `f`, declared a `VOLUME`.
fn data_image() -> String {
    static IMG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMG.get_or_init(|| {
        let img = uname("voldata");
        let dir = unique_tmp_dir("voldf");
        let df = dir.join("Dockerfile");
        std::fs::write(
            &df,
            format!(
                "FROM {}\nRUN mkdir -p /data && echo hi > /data/f && chown -R 1000:1000 /data && chmod 750 /data\nVOLUME /data\n",
                h().image
            ),
        )
        .unwrap();
        h().run_env(
            &["build", "-q", "-t", &img, "-"],
            &[],
            Some(&df),
            CMD_TIMEOUT,
        )
        .ok();
        img
    })
    .clone()
}

#[test]
fn volume_commands_as_docker() {
    let h = h();
    let name = uname("vol");
    let label = uname("lbl");
    let _v = Volumes(vec![name.clone()]);
    h.run(&[
        "volume",
        "create",
        "--label",
        &format!("{label}=yes"),
        &name,
    ])
    .ok()
    .stdout_is(&format!("{name}\n"));
    // Creating an existing volume returns it.
    h.run(&["volume", "create", &name])
        .ok()
        .stdout_is(&format!("{name}\n"));
    let ls = h.run(&["volume", "ls", "-f", &format!("name={name}")]);
    ls.ok()
        .stdout_is(&format!("DRIVER    VOLUME NAME\nlocal     {name}\n"));
    h.run(&["volume", "ls", "-q", "-f", &format!("label={label}")])
        .ok()
        .stdout_is(&format!("{name}\n"));
    h.run(&["volume", "ls", "-q", "-f", "bogus=1"])
        .fails()
        .stderr_has("Invalid filter 'bogus'");
    let out = h.run(&["volume", "inspect", &name]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let v = &v[0];
    assert_eq!(v["Name"], name.as_str());
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    // The CLI sends an empty map of options: kept as such (not null).
    assert_eq!(v["Options"], serde_json::json!({}), "{}", out.stdout);
    assert_eq!(v["Labels"][&label], "yes");
    assert!(v["Mountpoint"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/volumes/{name}/_data")));
    let created = v["CreatedAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    h.run(&["volume", "inspect", "-f", "{{.Name}} {{.Scope}}", &name])
        .ok()
        .stdout_is(&format!("{name} local\n"));
    h.run(&["volume", "create", "--name", "a1", "a2"])
        .fails()
        .stderr_has(
            "conflicting options: either specify --name or provide positional arg, not both",
        );
    h.run(&["volume", "create", "x y"]).fails().stderr_has(
        "create x y: \"x y\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
    );
    let missing = uname("nosuch");
    h.run(&["volume", "inspect", &missing])
        .fails()
        .stderr_has(&format!("Error: No such volume: {missing}"));
    h.run(&["volume", "rm", &name])
        .ok()
        .stdout_is(&format!("{name}\n"));
    h.run(&["volume", "rm", &name])
        .fails()
        .stderr_has(&format!("Error: No such volume: {name}"));
    // -f: a missing volume is no error.
    h.run(&["volume", "rm", "-f", &name]).ok();
}

#[test]
fn prune_removes_unused_volumes() {
    let h = h();
    let label = uname("prune");
    let (unused, used) = (uname("pu"), uname("pk"));
    let c = uname("prunec");
    let _v = Volumes(vec![unused.clone(), used.clone()]);
    let _g = h.guard(&[&c]);
    for v in [&unused, &used] {
        h.run(&["volume", "create", "--label", &label, v]).ok();
    }
    h.run(&[
        "create",
        "--name",
        &c,
        "-v",
        &format!("{used}:/u"),
        &h.image,
        "true",
    ])
    .ok();
    let filter = format!("label={label}");
    h.run(&["volume", "prune", "-f", "--filter", &filter])
        .ok()
        .stdout_is(&format!(
            "Deleted Volumes:\n{unused}\n\nTotal reclaimed space: 0B\n"
        ));
    h.run(&["volume", "prune", "-f", "--filter", &filter])
        .ok()
        .stdout_is("Total reclaimed space: 0B\n");
    h.run(&["volume", "inspect", "-f", "{{.Name}}", &used]).ok();
}

#[test]
fn in_use_volume_is_not_removed() {
    let h = h();
    let (c, v) = (uname("inuse"), uname("inusev"));
    let _v = Volumes(vec![v.clone()]);
    let _g = h.guard(&[&c]);
    h.run_d(&c, &["-v", &format!("{v}:/v")], &["sleep", "60"])
        .ok();
    let id = h.inspect_f(&c, "{{.Id}}");
    h.run(&["volume", "rm", &v])
        .fails()
        .stderr_has(&format!("remove {v}: volume is in use - [{id}]"));
    h.run(&["volume", "rm", "-f", &v])
        .fails()
        .stderr_has("volume is in use");
    let dangling = h
        .run(&["volume", "ls", "-q", "-f", "dangling=true"])
        .ok()
        .lines();
    assert!(!dangling.contains(&v), "{v} listed as dangling");
    for filter in [format!("volume={v}"), "volume=/v".to_string()] {
        let ps = h
            .run(&["ps", "-q", "--no-trunc", "-f", &filter])
            .ok()
            .lines();
        assert!(ps.contains(&id), "ps -f {filter}: {ps:?}");
    }
    let none = h
        .run(&["ps", "-q", "-f", &format!("volume={}", uname("none"))])
        .ok()
        .lines();
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn copy_up_fills_named_and_anonymous_volumes() {
    let h = h();
    let img = data_image();
    let named = uname("cpn");
    let c = uname("cpanon");
    let _v = Volumes(vec![named.clone(), uname("cpnc")]);
    let _g = h.guard(&[&c]);
    let script = "stat -c '%u:%g %a' /data /data/f && cat /data/f";
    let expect = "1000:1000 750\n1000:1000 644\nhi";
    assert_eq!(sh(&["-v", &format!("{named}:/data")], &img, script), expect);
    // The content is now the volume's: it stays when mounted on an image without it.
    assert_eq!(
        sh(&["-v", &format!("{named}:/data")], &h.image, "cat /data/f"),
        "hi"
    );
    // An anonymous volume for the image's VOLUME.
    h.run(&["run", "--name", &c, &img, "sh", "-c", script])
        .ok()
        .stdout_is(&format!("{expect}\n"));
    let mounts = h.inspect_json(&c)["Mounts"].clone();
    assert_eq!(mounts.as_array().map(Vec::len), Some(1), "{mounts}");
    let m = &mounts[0];
    assert_eq!(m["Type"], "volume");
    assert_eq!(m["Destination"], "/data");
    assert_eq!(m["Mode"], "");
    assert_eq!(m["RW"], true);
    assert_eq!(m["Propagation"], "");
    assert_eq!(m["Name"].as_str().map(str::len), Some(64));
    h.run(&["rm", "-v", &c]).ok();
    // nocopy leaves a new volume empty.
    let nc = &_v.0[1];
    assert_eq!(
        sh(
            &["-v", &format!("{nc}:/data:nocopy")],
            &img,
            "ls -A /data | wc -l"
        ),
        "0"
    );
}

#[test]
fn rm_v_removes_anonymous_volumes_only() {
    let h = h();
    let c = uname("rmv");
    let named = uname("rmvn");
    let _v = Volumes(vec![named.clone()]);
    let _g = h.guard(&[&c]);
    h.run(&[
        "create",
        "--name",
        &c,
        "-v",
        &format!("{named}:/n"),
        "-v",
        "/anon",
        &h.image,
        "true",
    ])
    .ok();
    let anon = h.inspect_f(
        &c,
        "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
    );
    assert_eq!(anon.len(), 64, "anonymous volume name: {anon:?}");
    let named_mode = h.inspect_f(
        &c,
        "{{range .Mounts}}{{if eq .Destination \"/n\"}}{{.Mode}} {{.RW}}{{end}}{{end}}",
    );
    assert_eq!(named_mode, "z true");
    h.run(&["volume", "inspect", "-f", "{{.Name}}", &anon]).ok();
    h.run(&["rm", "-v", &c]).ok();
    h.run(&["volume", "inspect", &anon])
        .fails()
        .stderr_has(&format!("Error: No such volume: {anon}"));
    h.run(&["volume", "inspect", "-f", "{{.Name}}", &named])
        .ok()
        .stdout_is(&format!("{named}\n"));
}

#[test]
fn bind_mounts_keep_host_owners_and_ro_refuses_writes() {
    let h = h();
    let dir = unique_tmp_dir("bind");
    std::os::unix::fs::chown(&dir, Some(1000), Some(1000)).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::write(dir.join("in"), "from host\n").unwrap();
    std::os::unix::fs::chown(dir.join("in"), Some(1000), Some(1000)).unwrap();
    let d = path_str(&dir);
    let out = sh(
        &["-u", "1000", "-v", &format!("{d}:/w")],
        &h.image,
        "cat /w/in && echo out > /w/out && id -u",
    );
    assert_eq!(out, "from host\n1000");
    assert_eq!(std::fs::metadata(dir.join("out")).unwrap().uid(), 1000);
    let ro = h.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{d}:/w:ro"),
        &h.image,
        "sh",
        "-c",
        "echo x > /w/x",
    ]);
    ro.fails().stderr_has("Read-only file system");
    assert!(!dir.join("x").exists());
    // -v creates a missing source directory; --mount refuses it.
    let missing = dir.join("made/by/v");
    sh(
        &["-v", &format!("{}:/m", path_str(&missing))],
        &h.image,
        "true",
    );
    assert!(missing.is_dir());
    // A single file can be bound too.
    std::fs::write(dir.join("file"), "one file\n").unwrap();
    assert_eq!(
        sh(
            &["-v", &format!("{d}/file:/etc/one:ro")],
            &h.image,
            "cat /etc/one"
        ),
        "one file"
    );
    let absent = format!("{}/absent", d);
    h.run(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={absent},dst=/x"),
        &h.image,
        "true",
    ])
    .code(125)
    .stderr_has(&format!(
        "invalid mount config for type \"bind\": bind source path does not exist: {absent}"
    ));
    h.run(&["run", "--rm", "-v", "/tmp:relative", &h.image, "true"])
        .code(125)
        .stderr_has("invalid volume specification: '/tmp:relative': invalid mount config for type \"bind\": invalid mount path: 'relative' mount path must be absolute");
    h.run(&[
        "run", "--rm", "-v", "/a:/x", "-v", "/b:/x", &h.image, "true",
    ])
    .code(125)
    .stderr_has("Duplicate mount point: /x");
}

#[test]
fn mount_flag_forms_and_inspect() {
    let h = h();
    let c = uname("mnt");
    let v = uname("mntv");
    let dir = unique_tmp_dir("mntb");
    let d = path_str(&dir);
    let _v = Volumes(vec![v.clone()]);
    let _g = h.guard(&[&c]);
    h.run_d(
        &c,
        &[
            "--mount",
            &format!("type=volume,src={v},dst=/vol"),
            "--mount",
            &format!("type=bind,src={d},dst=/b,readonly"),
            "--mount",
            "type=tmpfs,dst=/t,tmpfs-size=1m",
        ],
        &["sleep", "60"],
    )
    .ok();
    let j = h.inspect_json(&c);
    let mounts = j["Mounts"].as_array().cloned().unwrap_or_default();
    let by_dest = |dst: &str| {
        mounts
            .iter()
            .find(|m| m["Destination"] == dst)
            .cloned()
            .unwrap_or_else(|| panic!("no mount at {dst}: {mounts:?}"))
    };
    let m = by_dest("/vol");
    assert_eq!(
        (&m["Type"], &m["Name"], &m["Driver"], &m["Mode"], &m["RW"]),
        (
            &"volume".into(),
            &serde_json::Value::from(v.as_str()),
            &"local".into(),
            &"z".into(),
            &true.into()
        )
    );
    let m = by_dest("/b");
    assert_eq!(
        (&m["Type"], &m["Source"], &m["RW"], &m["Propagation"]),
        (
            &"bind".into(),
            &serde_json::Value::from(d),
            &false.into(),
            &"rprivate".into()
        )
    );
    assert!(m.get("Name").is_none(), "{m}");
    let m = by_dest("/t");
    assert_eq!((&m["Type"], &m["Source"]), (&"tmpfs".into(), &"".into()));
    let mounted = h
        .run(&["exec", &c, "grep", " /t ", "/proc/mounts"])
        .ok()
        .out();
    assert!(mounted.contains("size=1024k"), "{mounted}");
    // ps shows volume names and bind sources.
    let ps = h
        .run(&[
            "ps",
            "--no-trunc",
            "-f",
            &format!("name={c}"),
            "--format",
            "{{.Mounts}}",
        ])
        .ok()
        .out();
    assert!(ps.contains(&v), "{ps}");
}

#[test]
fn tmpfs_flag_mounts_a_sized_tmpfs() {
    let h = h();
    let out = sh(
        &["--tmpfs", "/t:size=1m,mode=1700"],
        &h.image,
        "grep ' /t ' /proc/mounts; stat -c %a /t",
    );
    assert!(
        out.contains("tmpfs /t tmpfs rw,nosuid,nodev,noexec"),
        "{out}"
    );
    assert!(out.contains("size=1024k"), "{out}");
    assert!(out.ends_with("1700"), "{out}");
    h.run(&["run", "--rm", "--tmpfs", "t", &h.image, "true"])
        .code(125)
        .stderr_has("invalid mount path: 't' mount path must be absolute");
}

#[test]
fn volumes_from_shares_mounts() {
    let h = h();
    let (src, v) = (uname("vfsrc"), uname("vfv"));
    let dir = unique_tmp_dir("vfb");
    let _v = Volumes(vec![v.clone()]);
    let _g = h.guard(&[&src]);
    h.run(&[
        "create",
        "--name",
        &src,
        "-v",
        &format!("{v}:/shared"),
        "-v",
        &format!("{}:/hb", path_str(&dir)),
        &h.image,
        "true",
    ])
    .ok();
    sh(
        &["--volumes-from", &src],
        &h.image,
        "echo 42 > /shared/n && echo b > /hb/b",
    );
    assert_eq!(std::fs::read_to_string(dir.join("b")).unwrap(), "b\n");
    let ro = h.run(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{src}:ro"),
        &h.image,
        "sh",
        "-c",
        "cat /shared/n; echo x > /shared/n",
    ]);
    ro.fails().stderr_has("Read-only file system");
    assert_eq!(ro.stdout, "42\n");
    h.run(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{src}:foo"),
        &h.image,
        "true",
    ])
    .code(125)
    .stderr_has("invalid mode: foo");
}

// ---- Redis: data in a volume outlives containers (and the daemon) ----

fn redis_image(run: &dyn Fn(&[&str]) -> Out) -> String {
    let img = "berth-e2e/redis:bookworm".to_string();
    if run(&["image", "inspect", "-f", "{{.Id}}", &img]).code != 0 {
        let tar = fixture("debian-redis.tar");
        run(&["import", path_str(&tar), &img]).ok();
    }
    img
}

fn redis_args<'a>(name: &'a str, vol: &'a str, img: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "-d",
        "--name",
        name,
        "-v",
        vol,
        img,
        "redis-server",
        "--dir",
        "/data",
        "--appendonly",
        "yes",
        "--save",
        "",
    ]
}

/// Waits for `redis-cli ping` in container `c`, then INCRs `counter` `n`
/// times; returns the last value.
fn incr(run: &dyn Fn(&[&str]) -> Out, c: &str, n: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let p = run(&["exec", c, "redis-cli", "ping"]);
        if p.code == 0 && p.stdout.trim() == "PONG" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "redis in {c} never answered: {p:?}\nlogs: {:?}",
            run(&["logs", c])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut last = String::new();
    for _ in 0..n {
        last = run(&["exec", c, "redis-cli", "INCR", "counter"]).ok().out();
    }
    last
}

#[test]
fn redis_counter_survives_its_containers() {
    let h = h();
    let run = |a: &[&str]| h.run(a);
    let img = redis_image(&run);
    let vol = uname("redis-data");
    let (c1, c2) = (uname("redis1"), uname("redis2"));
    let _v = Volumes(vec![vol.clone()]);
    let _g = h.guard(&[&c1, &c2]);
    let spec = format!("{vol}:/data");
    h.run(&redis_args(&c1, &spec, &img)).ok();
    assert_eq!(incr(&run, &c1, 3), "3");
    h.run(&["stop", &c1]).ok();
    h.run(&["rm", &c1]).ok();
    h.run(&redis_args(&c2, &spec, &img)).ok();
    assert_eq!(incr(&run, &c2, 1), "4");
    let aof = h.run(&["exec", &c2, "sh", "-c", "ls /data"]).ok().out();
    assert!(aof.contains("appendonly"), "{aof}");
}

#[test]
fn redis_counter_survives_a_daemon_restart() {
    if h().berth_only("redis_counter_survives_a_daemon_restart") {
        return;
    }
    let d = Daemon::new(&unique_tmp_dir("redisd"));
    d.start();
    let run = |a: &[&str]| d.run(a);
    let img = redis_image(&run);
    let spec = "redis-data:/data";
    d.run(&redis_args("r1", spec, &img)).ok();
    assert_eq!(incr(&run, "r1", 3), "3");
    d.run(&["stop", "r1"]).ok();
    d.run(&["rm", "r1"]).ok();
    // kill -9 and start again: the volume and its data are still there.
    d.kill9();
    d.start();
    d.run(&["volume", "inspect", "-f", "{{.Name}}", "redis-data"])
        .ok()
        .stdout_is("redis-data\n");
    d.run(&redis_args("r2", spec, &img)).ok();
    assert_eq!(incr(&run, "r2", 1), "4");
    d.run(&["rm", "-f", "r2"]).ok();
    d.run(&["volume", "rm", "redis-data"]).ok();
    assert!(!Path::new(&d.data_root.join("volumes/redis-data")).exists());
}

#[test]
fn failed_create_leaves_no_anonymous_volume() {
    if h().berth_only("failed_create_leaves_no_anonymous_volume") {
        return;
    }
    let d = Daemon::with_busybox("volleak");
    d.run(&[
        "create",
        "--name",
        "c1",
        "-v",
        "/anon",
        "busybox:e2e",
        "true",
    ])
    .ok();
    let before = d.run(&["volume", "ls", "-q"]).ok().lines();
    assert_eq!(before.len(), 1, "{before:?}");
    d.run(&[
        "create",
        "--name",
        "c1",
        "-v",
        "/anon",
        "busybox:e2e",
        "true",
    ])
    .fails()
    .stderr_has("is already in use");
    // An invalid mount after a valid one creates nothing either.
    d.run(&[
        "create",
        "-v",
        "/anon2",
        "-v",
        "bad name:/x",
        "busybox:e2e",
        "true",
    ])
    .fails()
    .stderr_has("includes invalid characters for a local volume name");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = d.run(&["volume", "ls", "-q"]).ok().lines();
        if now == before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "volumes left behind: {now:?} (before: {before:?})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn volume_with_driver_options_mounts_its_file_system() {
    let h = h();
    let v = uname("tmpfsvol");
    let _v = Volumes(vec![v.clone()]);
    h.run(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        &v,
    ])
    .ok();
    h.run(&["volume", "inspect", "-f", "{{json .Options}}", &v])
        .ok()
        .stdout_is("{\"device\":\"tmpfs\",\"o\":\"size=1m\",\"type\":\"tmpfs\"}\n");
    let spec = format!("{v}:/t");
    let out = sh(
        &["-v", &spec],
        &h.image,
        "grep ' /t ' /proc/mounts; echo x > /t/f",
    );
    assert!(out.starts_with("tmpfs /t tmpfs"), "{out}");
    assert!(out.contains("size=1024k"), "{out}");
    // Unmounted when its last container stopped: the next one gets a fresh tmpfs.
    assert_eq!(sh(&["-v", &spec], &h.image, "ls -A /t | wc -l"), "0");
    h.run(&["volume", "create", "-o", "foo=bar", &uname("badopt")])
        .fails()
        .stderr_has("invalid option: \"foo\"");
}

/// How many mounts `/proc/self/mountinfo` lists exactly at `path`.
fn mounts_at(path: &str) -> usize {
    let canon = std::fs::canonicalize(path).unwrap();
    let canon = canon.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(canon))
        .count()
}

/// A `-o type=none -o o=bind -o device=DIR` volume: containers write into
/// the host directory, two running containers share one bind (not one
/// stacked per start), it is taken off when the last one stops, and
/// `volume rm` leaves the host directory's content alone.
#[test]
fn bind_option_volume_keeps_host_content() {
    let h = h();
    let v = uname("bindvol");
    let host = unique_tmp_dir("bindvolhost");
    std::fs::write(host.join("precious"), "p\n").unwrap();
    let _v = Volumes(vec![v.clone()]);
    let (c1, c2) = (uname("bv1"), uname("bv2"));
    let _g = h.guard(&[&c1, &c2]);
    let device = format!("device={}", path_str(&host));
    h.run(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        &v,
    ])
    .ok();
    let spec = format!("{v}:/d");
    assert_eq!(
        sh(
            &["-v", &spec],
            &h.image,
            "cat /d/precious; echo w > /d/written"
        ),
        "p"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("written")).unwrap(),
        "w\n"
    );
    h.run_d(&c1, &["-v", &spec], &["sleep", "1000"]).ok();
    h.run_d(&c2, &["-v", &spec], &["sleep", "1000"]).ok();
    h.run(&["exec", &c2, "sh", "-c", "echo 2 > /d/from2"]).ok();
    assert_eq!(std::fs::read_to_string(host.join("from2")).unwrap(), "2\n");
    let mountpoint = h
        .run(&["volume", "inspect", "-f", "{{.Mountpoint}}", &v])
        .ok()
        .out();
    // dockerd's data root may be in another mount namespace: the mount
    // table is only looked at for berth.
    if h.is_berth() {
        assert_eq!(mounts_at(&mountpoint), 1, "one bind on {mountpoint}");
    }
    h.run(&["volume", "rm", &v])
        .fails()
        .stderr_has("volume is in use");
    h.run(&["rm", "-f", &c1, &c2]).ok();
    if h.is_berth() {
        assert_eq!(mounts_at(&mountpoint), 0, "unmounted when unused");
    }
    h.run(&["volume", "rm", &v]).ok();
    assert_eq!(
        std::fs::read_to_string(host.join("precious")).unwrap(),
        "p\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("written")).unwrap(),
        "w\n"
    );
    assert_eq!(std::fs::read_to_string(host.join("from2")).unwrap(), "2\n");
}

/// `--volumes-from` takes the volumes and binds of the other container,
/// not its `--tmpfs` mounts; a `--mount type=tmpfs` there fails the
/// create with dockerd's error.
#[test]
fn volumes_from_takes_no_tmpfs() {
    let h = h();
    let (src, src2, v) = (uname("vftsrc"), uname("vftsrc2"), uname("vftv"));
    let _v = Volumes(vec![v.clone()]);
    let _g = h.guard(&[&src, &src2]);
    let vol = format!("{v}:/shared");
    h.run(&[
        "create", "--name", &src, "--tmpfs", "/tt", "-v", &vol, &h.image, "true",
    ])
    .ok();
    assert_eq!(
        sh(
            &["--volumes-from", &src],
            &h.image,
            "grep -c ' /tt ' /proc/mounts; grep -c ' /shared ' /proc/mounts"
        ),
        "0\n1"
    );
    h.run(&[
        "create",
        "--name",
        &src2,
        "--mount",
        "type=tmpfs,dst=/t",
        &h.image,
        "true",
    ])
    .ok();
    // By image ID: on this 404 the docker CLI would try to pull a named image.
    let id = h
        .run(&["image", "inspect", "-f", "{{.Id}}", &h.image])
        .ok()
        .out();
    h.run(&["create", "--volumes-from", &src2, &id, "true"])
        .fails()
        .stderr_has("Error response from daemon: get: no such volume");
}
