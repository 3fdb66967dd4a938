//! Images: import (--change), images, tag, rmi, history, inspect, save/load, prune, hostile tarballs.
mod common;
use common::*;

/// `import [FLAGS...] busybox.tar [REF]`; asserts success and returns the printed ID.
fn import_busybox(h: &Harness, flags: &[&str], reference: Option<&str>) -> String {
    let bb = fixture("busybox.tar");
    let mut args = vec!["import"];
    args.extend_from_slice(flags);
    args.push(path_str(&bb));
    args.extend(reference);
    h.run(&args).ok().out()
}

#[test]
fn import_with_changes_is_visible_in_inspect_and_run() {
    let h = h();
    let img = format!("{}:v1", uname("chg"));
    let mut g = h.guard(&[]);
    g.image(&img);
    let id = import_busybox(
        h,
        &[
            "-c",
            "CMD [\"echo $A-$B from $PWD\"]",
            "-c",
            "ENV A=1 B=2",
            "-c",
            "WORKDIR /tmp",
            "-c",
            "ENTRYPOINT [\"/bin/sh\",\"-c\"]",
            "-c",
            "EXPOSE 8888",
            "-c",
            "LABEL project=thesis",
            "-m",
            "imported for e2e",
        ],
        Some(&img),
    );
    assert!(
        id.starts_with("sha256:") && is_full_id(&id[7..]),
        "import printed {id:?}"
    );
    let v = h.inspect_json(&img);
    let c = &v["Config"];
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(c["Cmd"], serde_json::json!(["echo $A-$B from $PWD"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(c["Env"], serde_json::json!(["A=1", "B=2"]));
    assert_eq!(c["WorkingDir"], "/tmp");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8888/tcp": {}}));
    assert_eq!(c["Labels"], serde_json::json!({"project": "thesis"}));
    assert_eq!(v["Comment"], "imported for e2e");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["RepoTags"], serde_json::json!([img]));
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert_eq!(v["RootFS"]["Layers"].as_array().map(Vec::len), Some(1));
    assert!(
        v["Size"].as_i64().unwrap_or(0) > 1_000_000,
        "Size {}",
        v["Size"]
    );
    h.run(&["run", "--rm", &img])
        .ok()
        .stdout_is("1-2 from /tmp\n");
    // image inspect -f, and the --type switch of inspect
    assert_eq!(
        h.run(&["image", "inspect", "-f", "{{.Config.WorkingDir}}", &img])
            .ok()
            .out(),
        "/tmp"
    );
    assert_eq!(
        h.run(&[
            "inspect",
            "--type",
            "image",
            "-f",
            "{{index .Config.Labels \"project\"}}",
            &img
        ])
        .ok()
        .out(),
        "thesis"
    );
}

#[test]
fn import_unsupported_change_is_an_error() {
    let h = h();
    let bb = fixture("busybox.tar");
    h.run(&[
        "import",
        "-c",
        "RUN echo no",
        path_str(&bb),
        "e2e-bad-change",
    ])
    .fails();
    h.run(&["image", "inspect", "e2e-bad-change"]).code(1);
}

#[test]
fn import_from_stdin_and_same_tarball_gives_same_id() {
    let h = h();
    let bb = fixture("busybox.tar");
    let a = uname("same-a");
    let b = uname("same-b");
    let mut g = h.guard(&[]);
    g.image(&a);
    g.image(&b);
    let ida = h
        .run(&["import", "-c", "CMD [\"sh\"]", path_str(&bb), &a])
        .ok()
        .out();
    let idb = h
        .run_stdin(&["import", "-c", "CMD [\"sh\"]", "-", &b], &bb)
        .ok()
        .out();
    assert!(idb.starts_with("sha256:"), "{idb}");
    if h.berth_only("import_same_id (docker stamps the import time into the config)") {
        return;
    }
    assert_eq!(
        ida, idb,
        "same tarball + same options must give the same image ID"
    );
    // different options: different ID
    let c = uname("same-c");
    g.image(&c);
    let idc = h
        .run(&["import", "-c", "CMD [\"true\"]", path_str(&bb), &c])
        .ok()
        .out();
    assert_ne!(ida, idc);
}

#[test]
fn images_columns_quiet_and_filter() {
    let h = h();
    let repo = uname("cols");
    let mut g = h.guard(&[]);
    g.image(&format!("{repo}:v1"));
    let id = import_busybox(h, &[], Some(&format!("{repo}:v1")));
    let o = h.run(&["images"]);
    let lines = o.ok().lines();
    let header: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{}",
        o.stdout
    );
    let row = lines
        .iter()
        .find(|l| l.starts_with(&format!("{repo} ")))
        .unwrap_or_else(|| panic!("{repo} not listed:\n{}", o.stdout));
    let cols: Vec<&str> = row
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(cols[0], repo);
    assert_eq!(cols[1], "v1");
    assert_eq!(cols[2], &id[7..19]);
    assert!(cols[4].ends_with("MB"), "SIZE {row}");
    let q = h.run(&["images", "-q"]).ok().lines();
    assert!(q.contains(&id[7..19].to_string()), "{q:?}");
    // a second name for the same image: the reference filter lists only the matching tag
    let other = format!("{repo}-other:v2");
    g.image(&other);
    h.run(&["tag", &format!("{repo}:v1"), &other]).ok();
    let f = h.run(&[
        "images",
        "--filter",
        &format!("reference={repo}"),
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]);
    assert_eq!(f.ok().out(), format!("{repo}:v1 {}", &id[7..19]));
    let f = h.run(&[
        "images",
        "-q",
        "--filter",
        &format!("reference={repo}:nope"),
    ]);
    assert_eq!(f.ok().out(), "");
    // images REPO
    let r = h.run(&["images", &repo, "--format", "{{.Tag}}"]);
    assert_eq!(r.ok().out(), "v1");
}

#[test]
fn tag_and_rmi() {
    let h = h();
    let repo = uname("tag");
    let (t1, t2) = (format!("{repo}:one"), format!("{repo}:two"));
    let mut g = h.guard(&[]);
    g.image(&t1);
    g.image(&t2);
    // a distinct image (its own CMD) so nothing else shares its ID
    let id = import_busybox(h, &["-c", &format!("LABEL t={repo}")], Some(&t1));
    h.run(&["tag", &t1, &t2]).ok().stdout_is("");
    assert_eq!(
        h.run(&["image", "inspect", "-f", "{{.Id}}", &t2])
            .ok()
            .out(),
        id
    );
    let tags = h.inspect_json(&t1)["RepoTags"].clone();
    let mut tags: Vec<String> = tags
        .as_array()
        .expect("RepoTags")
        .iter()
        .map(|t| t.as_str().unwrap_or("").to_string())
        .collect();
    tags.sort();
    assert_eq!(tags, vec![t1.clone(), t2.clone()]);
    // rmi by ID while two tags exist: refused
    h.run(&["rmi", &id[7..19]])
        .code(1)
        .stderr_has(&format!("conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories", &id[7..19]));
    // rmi one tag: only untagged
    h.run(&["rmi", &t1])
        .ok()
        .stdout_is(&format!("Untagged: {t1}\n"));
    h.run(&["image", "inspect", &t2]).ok();
    // a container (even stopped) using it: conflict
    let name = uname("user");
    let _gc = h.guard(&[&name]);
    h.run(&["create", "--name", &name, &t2, "true"]).ok();
    let cid = h.run(&["inspect", "-f", "{{.Id}}", &name]).ok().out();
    h.run(&["rmi", &t2]).code(1).stderr_has(&format!(
        "conflict: unable to remove repository reference \"{t2}\" (must force) - container {} is using its referenced image {}",
        &cid[..12],
        &id[7..19]
    ));
    // -f untags anyway
    h.run(&["rmi", "-f", &t2])
        .ok()
        .stdout_has(&format!("Untagged: {t2}"));
    h.run(&["image", "inspect", &t2]).code(1);
    h.run(&["rmi", "e2e-no-such-image:x"])
        .code(1)
        .stderr_has("No such image: e2e-no-such-image:x");
}

#[test]
fn rmi_deletes_an_unused_image() {
    let h = h();
    let img = uname("del");
    let id = import_busybox(h, &["-c", &format!("LABEL d={img}")], Some(&img));
    let o = h.run(&["rmi", &img]);
    o.ok()
        .stdout_has(&format!("Untagged: {img}:latest\n"))
        .stdout_has(&format!("Deleted: {id}\n"));
    h.run(&["image", "inspect", &id]).code(1);
}

#[test]
fn history_lists_layers() {
    let h = h();
    let o = h.run(&["history", &h.image]);
    let lines = o.ok().lines();
    let header: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        "{}",
        o.stdout
    );
    assert_eq!(lines.len(), 2, "{}", o.stdout);
    assert!(lines[1].starts_with(&h.image_id[7..19]), "{}", o.stdout);
    assert!(
        lines[1].contains("Imported from -") || lines[1].contains("Imported from"),
        "{}",
        o.stdout
    );
    let q = h.run(&["history", "-q", "--no-trunc", &h.image]).ok().out();
    assert_eq!(q, h.image_id);
}

#[test]
fn save_then_load_gives_the_same_image() {
    let h = h();
    let img = format!("{}:v1", uname("saved"));
    let mut g = h.guard(&[]);
    g.image(&img);
    let id = import_busybox(h, &["-c", "CMD [\"echo\",\"loaded\"]"], Some(&img));
    let layers = h.inspect_json(&img)["RootFS"]["Layers"].clone();
    let dir = unique_tmp_dir("save");
    let archive = dir.join("img.tar");
    h.run(&["save", "-o", path_str(&archive), &img])
        .ok()
        .stdout_is("");
    let bytes = std::fs::read(&archive).expect("read saved archive");
    let names = tar_names(&bytes);
    assert!(
        names.iter().any(|n| n == "manifest.json"),
        "docker-archive lacks manifest.json: {names:?}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&tar_file(&bytes, "manifest.json").expect("manifest"))
            .expect("manifest JSON");
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!([img]));
    assert_eq!(
        manifest[0]["Config"]
            .as_str()
            // dockerd 20.10: "<hex>.json"; berth (like Docker 25+): the OCI
            // layout blob "blobs/sha256/<hex>".
            .map(|c| c
                .trim_start_matches("blobs/sha256/")
                .trim_end_matches(".json")
                .to_string()),
        Some(id[7..].to_string())
    );
    // save to stdout gives the same archive
    let o = h.run(&["save", &img]);
    assert_eq!(tar_names(&o.ok().raw), names);

    let check = |run: &dyn Fn(&[&str]) -> Out| {
        let o = run(&["load", "-i", path_str(&archive)]);
        o.ok().stdout_has(&format!("Loaded image: {img}"));
        let v = run(&["image", "inspect", &img]);
        let v: serde_json::Value = serde_json::from_str(&v.ok().stdout).expect("inspect JSON");
        assert_eq!(v[0]["Id"], id.as_str(), "load must give the same image ID");
        assert_eq!(
            v[0]["RootFS"]["Layers"], layers,
            "load must give the same layers"
        );
        run(&["run", "--rm", &img]).ok().stdout_is("loaded\n");
    };
    if h.is_berth() {
        // into a FRESH daemon with another data root
        let d = Daemon::new(&unique_tmp_dir("fresh"));
        d.start();
        check(&|a: &[&str]| d.run(a));
        d.shutdown();
    } else {
        h.run(&["rmi", &img]).ok();
        check(&|a: &[&str]| h.run(a));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn load_from_stdin_quiet() {
    let h = h();
    let img = uname("stdin");
    let mut g = h.guard(&[]);
    g.image(&img);
    import_busybox(h, &[], Some(&img));
    let dir = unique_tmp_dir("loadq");
    let archive = dir.join("a.tar");
    h.run(&["save", "-o", path_str(&archive), &img]).ok();
    h.run(&["rmi", &img]).ok();
    h.run_stdin(&["load"], &archive)
        .ok()
        .stdout_has(&format!("Loaded image: {img}:latest"));
    h.run(&["image", "inspect", &img]).ok();
    // -q: no progress, but the daemon's `Loaded image` line is shown (as docker does).
    h.run(&["rmi", &img]).ok();
    h.run_stdin(&["load", "-q"], &archive)
        .ok()
        .stdout_is(&format!("Loaded image: {img}:latest\n"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn image_prune_removes_dangling() {
    let h = h();
    // an untagged (dangling) image
    let id = import_busybox(h, &["-c", &format!("LABEL prune={}", uname("p"))], None);
    let o = h.run(&["images", "-q", "--no-trunc", "--filter", "dangling=true"]);
    assert!(
        o.ok().lines().contains(&id),
        "{id} should be dangling: {}",
        o.stdout
    );
    let o = h.run(&["image", "prune", "-f"]);
    o.ok()
        .stdout_has(&format!("deleted: {id}"))
        .stdout_has("Total reclaimed space:");
    h.run(&["image", "inspect", &id]).code(1);
    // tagged images survive
    h.run(&["image", "inspect", &h.image]).ok();
}

/// Cases: (file, berth must reject it, docker rejects it, command).
const HOSTILE: &[(&str, bool, bool, &str)] = &[
    ("dotdot.tar", true, false, "import"),
    ("abs.tar", false, false, "import"),
    ("symlink.tar", false, false, "import"),
    ("symlink-rel.tar", false, false, "import"),
    ("hardlink.tar", true, true, "import"),
    ("chardev.tar", false, false, "import"),
    ("hugepax.tar", true, true, "import"),
    ("truncated.tar", true, true, "import"),
    ("garbage.tar", true, true, "import"),
    ("load-dotdot.tar", true, false, "load"),
    ("load-manifest-escape.tar", true, true, "load"),
];

const MARKERS: &[&str] = &[
    "/tmp/berth-hostile-dotdot",
    "/tmp/berth-hostile-abs",
    "/tmp/berth-hostile-symlink",
    "/tmp/berth-hostile-symlink-rel",
    "/tmp/berth-hostile-hardlink",
    "/tmp/berth-hostile-load",
    "/evil",
    "/up",
    "/mem",
    "/sda",
];

#[test]
fn hostile_tarballs_never_write_outside() {
    let h = h();
    for m in MARKERS {
        let _ = std::fs::remove_file(m);
    }
    let passwd_before = std::fs::read("/etc/passwd").expect("read /etc/passwd");
    let mut g = h.guard(&[]);
    for (file, berth_rejects, docker_rejects, cmd) in HOSTILE {
        let path = fixture(&format!("hostile/{file}"));
        let tag = format!(
            "e2e-hostile-{}",
            file.trim_end_matches(".tar").replace('.', "-")
        );
        g.image(&tag);
        let o = if *cmd == "import" {
            h.run(&["import", path_str(&path), &tag])
        } else {
            h.run(&["load", "-i", path_str(&path)])
        };
        let must_reject = if h.is_berth() {
            *berth_rejects
        } else {
            *docker_rejects
        };
        if must_reject {
            o.fails();
            assert!(
                o.stderr.trim().len() > 10,
                "{file}: rejection without a clear message: {o:?}"
            );
            if *cmd == "import" {
                // nothing half-visible
                h.run(&["image", "inspect", &tag]).code(1);
            }
        }
        for m in MARKERS {
            assert!(
                !std::path::Path::new(m).exists(),
                "{file}: {cmd} wrote {m} on the host!"
            );
        }
        assert_eq!(
            std::fs::read("/etc/passwd").expect("read"),
            passwd_before,
            "{file}: host /etc/passwd changed"
        );
        // the daemon is still alive and well
        h.run(&["images", "-q"]).ok();
        // an image that was accepted must not expose the host either
        if o.code == 0 && *cmd == "import" {
            let r = h.run(&["create", &tag, "true"]);
            if r.code == 0 {
                g.container(&r.out());
            }
        }
    }
    for hl in ["hostile/dotdot:latest", "hostile/manifest:latest"] {
        g.image(hl);
    }
    if h.is_berth() {
        let d = h.daemon.as_ref().expect("daemon");
        // no hardlink to the host's /etc/passwd anywhere in the data root
        let host_ino = std::fs::metadata("/etc/passwd")
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("stat");
        let o = run_cmd(
            std::path::Path::new("find"),
            &[
                path_str(&d.data_root),
                "-xdev",
                "-inum",
                &host_ino.to_string(),
            ],
            &[],
            None,
            CMD_TIMEOUT,
        );
        assert_eq!(
            o.out(),
            "",
            "data root holds a hardlink to the host's /etc/passwd"
        );
    }
}

#[test]
fn load_an_oci_image_layout() {
    let h = h();
    if h.berth_only("load_oci_layout (docker 20.10 loads only docker-archives)") {
        return;
    }
    let img = "berth-e2e/oci:v1";
    let mut g = h.guard(&[]);
    g.image(img);
    let o = h.run(&["load", "-i", path_str(&fixture("busybox-oci.tar"))]);
    o.ok().stdout_has("Loaded image");
    h.run(&["run", "--rm", img])
        .ok()
        .stdout_is("from an OCI layout\n");
    let layers = h.inspect_json(img)["RootFS"]["Layers"].clone();
    assert_eq!(
        layers,
        h.inspect_json(&h.image)["RootFS"]["Layers"],
        "same layer as the busybox import"
    );
}
