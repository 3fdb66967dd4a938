//! `berth env capture|diff|show` (environment capture, berth's extension) and startup failures
//! explained after `run -d` / `start`.
mod common;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(900);

/// The fixture Debian image, imported once per test binary.
fn debian(h: &'static Harness) -> &'static str {
    static ONCE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let base = "berth-e2e/debian:bookworm";
    ONCE.get_or_init(|| {
        let tar = fixture("debian-bookworm.tar");
        h.run_opts(&["import", path_str(&tar), base], None, LONG)
            .ok();
    });
    base
}

/// The packages of one collection in a capture's JSON, as `name version` strings.
fn packages(env: &serde_json::Value, eco: &str, location: &str) -> Vec<String> {
    let c = env["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["ecosystem"] == eco && c["location"] == location)
        .unwrap_or_else(|| panic!("no {eco} {location} collection in {env:#}"));
    c["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

fn capture_json(h: &Harness, target: &str) -> serde_json::Value {
    let o = h.run(&["env", "capture", "--format", "json", target]);
    o.ok();
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("env capture --format json is not JSON ({e}): {}", o.stdout))
}

/// Package metadata written by a shell inside a running busybox container shows up in `env diff`
/// (the container's upper dir read beside its live mount), in every ecosystem; a METADATA
/// symlink that climbs out of the root is a warning, never read; `commit` records the changes in
/// the image and `env show` prints them; the image itself has no package manager.
#[test]
fn running_container_diff_capture_commit_show() {
    let h = h();
    if h.berth_only("running_container_diff_capture_commit_show") {
        return;
    }
    let name = uname("envrun");
    let img = uname("envimg");
    let mut g = h.guard(&[&name]);
    g.image(&img);
    let script = r#"
site=/usr/local/lib/python3.11/site-packages
mkdir -p $site/tiny-1.2.dist-info $site/evil-1.0.dist-info /opt/nb/lib/python3.11/site-packages/rich-13.7.1.dist-info
printf 'Metadata-Version: 2.1\nName: tiny\nVersion: 1.2\n\nbody\n' > $site/tiny-1.2.dist-info/METADATA
echo pip > $site/tiny-1.2.dist-info/INSTALLER
ln -s ../../../../../../../../../../etc/shadow $site/evil-1.0.dist-info/METADATA
echo 'version = 3.11.2' > /opt/nb/pyvenv.cfg
printf 'Name: rich\nVersion: 13.7.1\n' > /opt/nb/lib/python3.11/site-packages/rich-13.7.1.dist-info/METADATA
mkdir -p /opt/conda/conda-meta /usr/local/lib/node_modules/left-pad /usr/local/lib/R/site-library/glue
echo '{"name":"zlib","version":"1.3.1","build":"h4ab18f5_1","schannel":"conda-forge"}' > /opt/conda/conda-meta/zlib-1.3.1-h4ab18f5_1.json
echo '{"name":"left-pad","version":"1.3.0"}' > /usr/local/lib/node_modules/left-pad/package.json
printf 'Package: glue\nVersion: 1.7.0\nRepository: CRAN\n' > /usr/local/lib/R/site-library/glue/DESCRIPTION
touch /ready
exec sleep 1000
"#;
    h.run_d(&name, &[], &["sh", "-c", script]).ok();
    h.wait_until("the container wrote its packages", CMD_TIMEOUT, || {
        h.run(&["exec", &name, "test", "-e", "/ready"]).code == 0
    });
    assert_eq!(h.status_of(&name).as_deref(), Some("running"));

    let d = h.run(&["env", "diff", &name]);
    d.ok();
    for want in [
        "pip /usr/local (python3.11)\n  + tiny 1.2\n",
        "pip /opt/nb (venv, python 3.11.2)\n  + rich 13.7.1\n",
        "conda /opt/conda\n  + zlib 1.3.1\n",
        "npm /usr/local/lib/node_modules\n  + left-pad 1.3.0\n",
        "r /usr/local/lib/R/site-library\n  + glue 1.7.0\n",
    ] {
        assert!(
            d.stdout.contains(want),
            "missing {want:?} in:\n{}",
            d.stdout
        );
    }
    assert!(!d.stdout.contains("evil"), "{}", d.stdout);
    let j: serde_json::Value = serde_json::from_str(
        &h.run(&["env", "diff", "--format", "json", &name])
            .ok()
            .stdout,
    )
    .expect("env diff --format json");
    let pip = j["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["location"] == "/usr/local")
        .expect("pip /usr/local in the JSON diff");
    assert_eq!(pip["added"][0]["name"], "tiny");
    assert_eq!(pip["added"][0]["installer"], "pip");

    let env = capture_json(h, &name);
    assert!(
        env["warnings"].as_array().unwrap().iter().any(|w| {
            w["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("evil-1.0.dist-info/METADATA"))
                && w["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("outside the root"))
        }),
        "{env:#}"
    );
    h.run(&["env", "capture", &name])
        .ok()
        .stdout_has("pip /usr/local (python3.11): 1 package\n")
        .stdout_has("warning: /usr/local/lib/python3.11/site-packages/evil-1.0.dist-info/METADATA: a symlink points outside the root filesystem");

    // The image has none of it.
    h.run(&["env", "capture", &h.image])
        .ok()
        .stdout_has("No package manager found");

    // commit records the changes; env show prints them.
    h.run(&["commit", &name, &img]).ok();
    let label = h.inspect_f(&img, "{{index .Config.Labels \"io.berth.env\"}}");
    let rec: serde_json::Value = serde_json::from_str(&label).expect("io.berth.env is JSON");
    assert_eq!(rec["base"], h.image_id.as_str());
    h.run(&["env", "show", &img])
        .ok()
        .stdout_has(&format!("Recorded at commit, over image {}:\n", h.image_id))
        .stdout_has("  + tiny 1.2\n");
    // An image committed without package changes records nothing.
    h.run(&["env", "show", &h.image])
        .ok()
        .stdout_has("No environment recorded at commit");
    // The committed image's capture has the packages; its recipe starts from the base image.
    let env = capture_json(h, &img);
    assert_eq!(packages(&env, "pip", "/usr/local"), vec!["tiny 1.2"]);
    let dir = unique_tmp_dir("envrecipe");
    h.run(&["env", "capture", "-o", path_str(&dir), &img]).ok();
    let df = std::fs::read_to_string(dir.join("Dockerfile")).expect("Dockerfile written");
    assert!(df.contains(&format!("\nFROM {}\n", h.image_id)), "{df}");
    assert_eq!(
        std::fs::read_to_string(dir.join("requirements-usr-local.txt")).unwrap(),
        "tiny==1.2\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Names that are neither containers nor images get Docker-style errors and exit 1.
#[test]
fn env_errors() {
    let h = h();
    if h.berth_only("env_errors") {
        return;
    }
    h.run(&["env", "diff", "no-such-thing"])
        .code(1)
        .stderr_has("Error: No such container: no-such-thing");
    h.run(&["env", "capture", "no-such-thing"])
        .code(1)
        .stderr_has("Error: No such container or image: no-such-thing");
    h.run(&["env", "show", "no-such-thing"])
        .code(1)
        .stderr_has("Error: No such image: no-such-thing");
    h.run(&["env", "capture", "--format", "yaml", &h.image])
        .fails()
        .stderr_has("yaml");
    h.run(&["env", "diff"]).fails();
    h.run(&["env", "capture"])
        .fails()
        .stderr_has("\"berth env capture\" requires exactly 1 argument.");
}

/// The data scientist's loop: apt-get and pip inside a Debian container, `env diff` shows the
/// new packages, `env capture -o DIR` writes the recipe, `berth build DIR` rebuilds it, and the
/// rebuilt image's apt and pip packages equal the container's. Network: Debian's mirror (apt) and
/// PyPI (pip), through the host's CA bundle (the network may intercept TLS).
#[test]
fn apt_and_pip_recipe_rebuilds_the_same_packages() {
    let h = h();
    if h.berth_only("apt_and_pip_recipe_rebuilds_the_same_packages") {
        return;
    }
    let base = debian(h);
    let name = uname("envds");
    let img = uname("envrebuilt");
    let mut g = h.guard(&[&name]);
    g.image(&img);
    let ca = "/etc/ssl/certs/ca-certificates.crt";
    assert!(
        std::path::Path::new(ca).exists(),
        "{ca} is missing (apt-get install ca-certificates)"
    );
    let mount = format!("{ca}:/host-ca.crt:ro");
    h.run_opts(
        &[
            "run",
            "--name",
            &name,
            "-v",
            &mount,
            "-e",
            "DEBIAN_FRONTEND=noninteractive",
            base,
            "sh",
            "-c",
            "apt-get update && apt-get install -y --no-install-recommends tree python3-venv \
             && python3 -m venv /opt/venv \
             && /opt/venv/bin/pip install --disable-pip-version-check --no-cache-dir --cert /host-ca.crt six==1.16.0",
        ],
        None,
        LONG,
    )
    .ok();

    let d = h.run(&["env", "diff", &name]);
    d.ok()
        .stdout_has("dpkg /\n")
        .stdout_has("  + tree ")
        .stdout_has("  + python3-venv ")
        .stdout_has("pip /opt/venv (venv, python 3.11")
        .stdout_has("  + six 1.16.0\n");

    let dir = unique_tmp_dir("envds");
    let o = h.run(&["env", "capture", "-o", path_str(&dir), &name]);
    o.ok().stdout_has("Dockerfile\n");
    let df = std::fs::read_to_string(dir.join("Dockerfile")).expect("Dockerfile written");
    let image_id = h.inspect_f(base, "{{.Id}}");
    assert!(df.contains(&format!("\nFROM {image_id}\n")), "{df}");
    assert!(df.contains("tree="), "{df}");
    let reqs = std::fs::read_to_string(dir.join("requirements-opt-venv.txt")).expect("pins");
    assert!(reqs.lines().any(|l| l == "six==1.16.0"), "{reqs}");
    let readme = std::fs::read_to_string(dir.join("README.txt")).expect("README.txt");
    assert!(readme.contains("+ six 1.16.0"), "{readme}");

    // Rebuild. The recipe is used as written; only the host's CA bundle is handed to pip (a
    // TLS-intercepting network needs it, as the container above did).
    std::fs::copy(ca, dir.join("host-ca.crt")).expect("copy the CA bundle");
    let df = df.replacen(
        &format!("FROM {image_id}\n"),
        &format!("FROM {image_id}\nCOPY host-ca.crt /host-ca.crt\nENV PIP_CERT=/host-ca.crt\n"),
        1,
    );
    std::fs::write(dir.join("Dockerfile"), df).unwrap();
    h.run_opts(&["build", "-t", &img, path_str(&dir)], None, LONG)
        .ok()
        .stdout_has("Successfully tagged ");

    let before = capture_json(h, &name);
    let after = capture_json(h, &img);
    assert_eq!(
        packages(&after, "dpkg", "/"),
        packages(&before, "dpkg", "/")
    );
    assert_eq!(
        packages(&after, "pip", "/opt/venv"),
        packages(&before, "pip", "/opt/venv")
    );
    assert!(packages(&after, "pip", "/opt/venv").contains(&"six 1.16.0".to_string()));
    let _ = std::fs::remove_dir_all(dir);
}

/// A container that exits in its first seconds after `run -d` or `start` is explained on stderr
/// (exit code, time, last log lines) while stdout and the exit status stay Docker's; a container
/// that keeps running, and any start whose output is not a terminal without BERTH_START_WATCH=1,
/// print nothing more.
#[test]
fn startup_failure_is_explained() {
    let h = h();
    if h.berth_only("startup_failure_is_explained") {
        return;
    }
    let name = uname("crash");
    let quiet = uname("crashq");
    let up = uname("stays");
    let _g = h.guard(&[&name, &quiet, &up]);
    let watch = [("BERTH_START_WATCH", "1")];
    let cmd = "echo starting; echo 'fatal: cannot open /data' >&2; exit 3";
    let o = h.run_env(
        &run_d_args(&name, &[], &h.image, &["sh", "-c", cmd]),
        &watch,
        None,
        CMD_TIMEOUT,
    );
    o.ok();
    assert!(
        is_full_id(o.stdout.trim()),
        "stdout is the ID only: {:?}",
        o.stdout
    );
    assert_eq!(o.stdout.lines().count(), 1, "{:?}", o.stdout);
    o.stderr_has(&format!("berth: {name} exited (3) "))
        .stderr_has(" after start:\n  starting\n  fatal: cannot open /data\n");

    let s = h.run_env(&["start", &name], &watch, None, CMD_TIMEOUT);
    s.ok().stdout_is(&format!("{name}\n"));
    s.stderr_has(&format!("berth: {name} exited (3) "))
        .stderr_has("  fatal: cannot open /data\n");

    // Not a terminal and no BERTH_START_WATCH: Docker's output only.
    let q = h.run(&run_d_args(&quiet, &[], &h.image, &["sh", "-c", cmd]));
    q.ok();
    assert_eq!(q.stderr, "", "no watch when output is not a terminal");

    // Still running after the watch: nothing printed.
    let r = h.run_env(
        &run_d_args(&up, &[], &h.image, &["sleep", "1000"]),
        &watch,
        None,
        CMD_TIMEOUT,
    );
    r.ok();
    assert_eq!(r.stderr, "");
}
