//! Captures of small synthetic roots, including hostile ones.

use std::path::Path;

use crate::model::{Ecosystem, Place};
use crate::{capture, diff, recipe, RootFs};

fn write(root: &Path, path: &str, content: &str) {
    let p = root.join(path.trim_start_matches('/'));
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(p, content).unwrap();
}

fn dist_info(root: &Path, site: &str, name: &str, version: &str, installer: &str) {
    let dir = format!("{site}/{name}-{version}.dist-info");
    write(
        root,
        &format!("{dir}/METADATA"),
        &format!(
            "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: body-not-header\n"
        ),
    );
    write(root, &format!("{dir}/INSTALLER"), &format!("{installer}\n"));
}

const STATUS: &str = "Package: base-files\nStatus: install ok installed\nPriority: required\nArchitecture: amd64\nVersion: 12.4+deb12u5\nDescription: Debian base system\n miscellaneous files\n\nPackage: removed-one\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";

fn debian_root() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(
        r,
        "/etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    );
    write(r, "/var/lib/dpkg/status", STATUS);
    dist_info(
        r,
        "/usr/lib/python3/dist-packages",
        "six",
        "1.16.0",
        "debian",
    );
    // Debian's python3-* packages: no INSTALLER file.
    write(
        r,
        "/usr/lib/python3/dist-packages/numpy-1.24.2.egg-info",
        "Metadata-Version: 2.1\nName: numpy\nVersion: 1.24.2\n",
    );
    write(
        r,
        "/usr/lib/python3.11/EXTERNALLY-MANAGED",
        "[externally-managed]\n",
    );
    dist_info(
        r,
        "/usr/local/lib/python3.11/dist-packages",
        "requests",
        "2.31.0",
        "pip",
    );
    write(
        r,
        "/opt/venv/pyvenv.cfg",
        "home = /usr/bin\nversion = 3.11.2\n",
    );
    dist_info(
        r,
        "/opt/venv/lib/python3.11/site-packages",
        "Typing_Extensions",
        "4.12.2",
        "pip",
    );
    write(
        r,
        "/opt/venv/lib/python3.11/site-packages/tool-1.0-py3.11.egg-info/PKG-INFO",
        "Metadata-Version: 1.1\nName: tool\nVersion: 1.0\n",
    );
    let du = "/opt/venv/lib/python3.11/site-packages/mypkg-0.1.dist-info";
    dist_info(
        r,
        "/opt/venv/lib/python3.11/site-packages",
        "mypkg",
        "0.1",
        "pip",
    );
    write(
        r,
        &format!("{du}/direct_url.json"),
        "{\"url\": \"https://example.invalid/mypkg.tar.gz\", \"archive_info\": {}}",
    );
    t
}

#[test]
fn debian_and_python() {
    let t = debian_root();
    let env = capture(&RootFs::dir(t.path()).unwrap());
    assert_eq!(env.warnings, vec![]);
    assert_eq!(env.os.as_ref().unwrap().id, "debian");
    let dpkg = env.collection(Ecosystem::Dpkg, "/").unwrap();
    let names: Vec<_> = dpkg
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.arch.as_deref()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("base-files", "12.4+deb12u5", Some("amd64")),
            ("tzdata", "2024a-0+deb12u1", Some("all"))
        ]
    );
    let usr = env.collection(Ecosystem::Pip, "/usr").unwrap();
    let u: Vec<_> = usr
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.installer.as_deref()))
        .collect();
    assert_eq!(u, vec![("numpy", Some("debian")), ("six", Some("debian"))]);
    let local = env.collection(Ecosystem::Pip, "/usr/local").unwrap();
    assert!(local.externally_managed);
    assert_eq!(local.interpreter.as_deref(), Some("python3.11"));
    assert_eq!(local.packages[0].version, "2.31.0");
    let venv = env.collection(Ecosystem::Pip, "/opt/venv").unwrap();
    assert_eq!(venv.place, Place::Venv);
    assert_eq!(venv.interpreter.as_deref(), Some("3.11.2"));
    let v: Vec<_> = venv
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        v,
        vec![
            ("mypkg", "0.1"),
            ("tool", "1.0"),
            ("Typing_Extensions", "4.12.2")
        ]
    );
    assert_eq!(
        venv.packages[0].url.as_deref(),
        Some("https://example.invalid/mypkg.tar.gz")
    );
    // Serialises and reads back.
    let json = serde_json::to_string(&env).unwrap();
    assert_eq!(
        serde_json::from_str::<crate::Environment>(&json).unwrap(),
        env
    );
}

#[test]
fn alpine_conda_npm_r() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(
        r,
        "/lib/apk/db/installed",
        "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\na:0:0:755\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\n",
    );
    write(
        r,
        "/opt/conda/conda-meta/numpy-1.26.4-py311h.json",
        r#"{"name":"numpy","version":"1.26.4","build":"py311h64a7726_0","channel":"https://conda.anaconda.org/conda-forge/linux-64","files":[]}"#,
    );
    write(r, "/opt/conda/conda-meta/history", "");
    write(
        r,
        "/opt/conda/envs/ml/conda-meta/python-3.12.1-h.json",
        r#"{"name":"python","version":"3.12.1","build":"hab00c5b_1","schannel":"conda-forge"}"#,
    );
    dist_info(
        r,
        "/opt/conda/lib/python3.11/site-packages",
        "numpy",
        "1.26.4",
        "conda",
    );
    write(
        r,
        "/usr/local/lib/node_modules/typescript/package.json",
        r#"{"name":"typescript","version":"5.4.5"}"#,
    );
    write(
        r,
        "/usr/local/lib/node_modules/@vue/cli/package.json",
        r#"{"name":"@vue/cli","version":"5.0.8"}"#,
    );
    write(
        r,
        "/usr/lib/R/library/stats/DESCRIPTION",
        "Package: stats\nVersion: 4.2.2\nPriority: base\n",
    );
    write(
        r,
        "/usr/local/lib/R/site-library/glue/DESCRIPTION",
        "Package: glue\nTitle: Interpreted String Literals\nVersion: 1.7.0\nRepository: CRAN\n",
    );
    let env = capture(&RootFs::dir(r).unwrap());
    assert_eq!(env.warnings, vec![]);
    let apk = env.collection(Ecosystem::Apk, "/").unwrap();
    assert_eq!(apk.packages.len(), 2);
    assert_eq!(apk.packages[1].name, "musl");
    assert_eq!(apk.packages[1].arch.as_deref(), Some("x86_64"));
    let conda = env.collection(Ecosystem::Conda, "/opt/conda").unwrap();
    assert_eq!(conda.packages[0].build.as_deref(), Some("py311h64a7726_0"));
    let ml = env
        .collection(Ecosystem::Conda, "/opt/conda/envs/ml")
        .unwrap();
    assert_eq!(ml.packages[0].channel.as_deref(), Some("conda-forge"));
    let cpip = env.collection(Ecosystem::Pip, "/opt/conda").unwrap();
    assert_eq!(cpip.place, Place::Conda);
    let npm = env
        .collection(Ecosystem::Npm, "/usr/local/lib/node_modules")
        .unwrap();
    let n: Vec<_> = npm.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(n, vec!["@vue/cli", "typescript"]);
    let base = env.collection(Ecosystem::R, "/usr/lib/R/library").unwrap();
    assert!(base.packages[0].builtin);
    let site = env
        .collection(Ecosystem::R, "/usr/local/lib/R/site-library")
        .unwrap();
    assert_eq!(site.packages[0].channel.as_deref(), Some("CRAN"));
}

#[test]
fn nothing_found_says_so() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "/bin/busybox", "");
    let env = capture(&RootFs::dir(t.path()).unwrap());
    assert!(!env.has_package_manager());
    assert!(crate::render::summary(&env).contains("No package manager found"));
}

#[test]
fn hostile_metadata_is_warned_and_skipped() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let outside = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "/METADATA",
        "Name: stolen\nVersion: 6.6.6\n",
    );
    let site = "/usr/local/lib/python3.11/site-packages";
    dist_info(r, site, "good", "1.0", "pip");
    // A symlink that climbs out of the root.
    let up = "../".repeat(20);
    let link_dir = r.join(format!("{}/escape-1.0.dist-info", &site[1..]));
    std::fs::create_dir_all(&link_dir).unwrap();
    std::os::unix::fs::symlink(
        format!("{up}{}/METADATA", outside.path().display()),
        link_dir.join("METADATA"),
    )
    .unwrap();
    // An absolute symlink resolves inside the root, not on the host.
    let abs_dir = r.join(format!("{}/absolute-1.0.dist-info", &site[1..]));
    std::fs::create_dir_all(&abs_dir).unwrap();
    std::os::unix::fs::symlink(outside.path().join("METADATA"), abs_dir.join("METADATA")).unwrap();
    // A directory where a file is expected.
    std::fs::create_dir_all(r.join(format!("{}/dir-1.0.dist-info/METADATA", &site[1..]))).unwrap();
    // A FIFO (opening it must not block).
    let fifo = r.join(format!("{}/fifo-1.0.dist-info", &site[1..]));
    std::fs::create_dir_all(&fifo).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fifo.join("METADATA"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    // A 100 MB METADATA (sparse).
    let huge = r.join(format!("{}/huge-1.0.dist-info", &site[1..]));
    std::fs::create_dir_all(&huge).unwrap();
    std::fs::File::create(huge.join("METADATA"))
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    // A symlink loop.
    let lp = r.join(format!("{}/loop-1.0.dist-info", &site[1..]));
    std::fs::create_dir_all(&lp).unwrap();
    std::os::unix::fs::symlink("METADATA", lp.join("METADATA")).unwrap();
    // Wrong JSON types in conda and npm.
    write(
        r,
        "/opt/conda/conda-meta/bad.json",
        r#"{"name": 3, "version": "1"}"#,
    );
    write(r, "/opt/conda/conda-meta/broken.json", "{");
    write(r, "/usr/lib/node_modules/x/package.json", "[1,2]");
    // dpkg status that is a directory.
    std::fs::create_dir_all(r.join("var/lib/dpkg/status")).unwrap();

    let env = capture(&RootFs::dir(r).unwrap());
    let pip = env.collection(Ecosystem::Pip, "/usr/local").unwrap();
    let names: Vec<_> = pip.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["good"], "{:#?}", env.warnings);
    let warned = |frag: &str, msg: &str| {
        assert!(
            env.warnings
                .iter()
                .any(|w| w.path.contains(frag) && w.message.contains(msg)),
            "no warning for {frag} ({msg}): {:#?}",
            env.warnings
        )
    };
    warned("escape-1.0", "outside the root");
    warned("absolute-1.0", "no such file");
    warned("dir-1.0", "a directory");
    warned("fifo-1.0", "a FIFO");
    warned("huge-1.0", "too large");
    warned("loop-1.0", "too many levels");
    warned("bad.json", "not strings");
    warned("broken.json", "bad JSON");
    warned("node_modules/x", "no name");
    warned("/var/lib/dpkg/status", "a directory");
    assert!(env.collection(Ecosystem::Dpkg, "/").is_none());
}

#[test]
fn layers_honour_whiteouts_and_opaque_dirs() {
    let lower = tempfile::tempdir().unwrap();
    let upper = tempfile::tempdir().unwrap();
    let site = "/opt/venv/lib/python3.11/site-packages";
    write(lower.path(), "/opt/venv/pyvenv.cfg", "version = 3.11.2\n");
    dist_info(lower.path(), site, "gone", "1.0", "pip");
    dist_info(lower.path(), site, "kept", "1.0", "pip");
    dist_info(upper.path(), site, "new", "2.0", "pip");
    // Whiteout `gone-1.0.dist-info` in the upper layer (char 0/0; the
    // tests run as root, like the engine).
    let wh = upper.path().join(&site[1..]).join("gone-1.0.dist-info");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &wh,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mknod of a whiteout (tests run as root)");
    let root = RootFs::layered(&[upper.path().to_path_buf(), lower.path().to_path_buf()]).unwrap();
    let env = capture(&root);
    let venv = env.collection(Ecosystem::Pip, "/opt/venv").unwrap();
    let names: Vec<_> = venv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["kept", "new"]);
    // An opaque directory hides everything below it.
    let opaque_dir = upper.path().join("opt/venv/lib/python3.11/site-packages");
    rustix::fs::setxattr(
        &opaque_dir,
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .expect("setting a trusted xattr (tests run as root)");
    let env = capture(&root);
    let venv = env.collection(Ecosystem::Pip, "/opt/venv").unwrap();
    let names: Vec<_> = venv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["new"]);
}

#[test]
fn diff_and_recipe() {
    let t = debian_root();
    let base_t = tempfile::tempdir().unwrap();
    write(
        base_t.path(),
        "/var/lib/dpkg/status",
        &STATUS.replace("2024a-0+deb12u1", "2023c-5"),
    );
    dist_info(
        base_t.path(),
        "/usr/lib/python3/dist-packages",
        "six",
        "1.16.0",
        "debian",
    );
    write(base_t.path(), "/usr/lib/python3.11/EXTERNALLY-MANAGED", "");
    let base = capture(&RootFs::dir(base_t.path()).unwrap());
    let cur = capture(&RootFs::dir(t.path()).unwrap());
    let d = diff(&base, &cur);
    let text = crate::render::diff_text(&d);
    assert!(
        text.contains("dpkg /\n  ^ tzdata 2023c-5 -> 2024a-0+deb12u1\n"),
        "{text}"
    );
    assert!(
        text.contains("pip /usr/local (python3.11)\n  + requests 2.31.0\n"),
        "{text}"
    );
    assert!(
        text.contains("pip /opt/venv (venv, python 3.11.2)\n"),
        "{text}"
    );
    assert!(!text.contains("six"), "{text}");
    let back = diff(&cur, &base);
    assert!(crate::render::diff_text(&back).contains("  v tzdata 2024a-0+deb12u1 -> 2023c-5"));
    assert!(diff(&cur, &cur).is_empty());

    let r = recipe::plan("debian@sha256:abcd", &base, &cur, "nb");
    let df = &r.files["Dockerfile"];
    assert!(df.contains("FROM debian@sha256:abcd\n"), "{df}");
    assert!(df.contains("tzdata=2024a-0+deb12u1"), "{df}");
    assert!(!df.contains("base-files="), "{df}");
    assert!(df.contains("RUN python3 -m venv /opt/venv\n"), "{df}");
    assert!(
        df.contains("python3 -m pip --break-system-packages install"),
        "{df}"
    );
    assert_eq!(r.files["requirements-usr-local.txt"], "requests==2.31.0\n");
    // numpy came with apt (Debian's dist-packages): apt's line installs it, pip does not.
    assert!(!r.files.contains_key("requirements-usr.txt"), "{df}");
    assert_eq!(
        r.files["requirements-opt-venv.txt"],
        "mypkg @ https://example.invalid/mypkg.tar.gz\ntool==1.0\nTyping_Extensions==4.12.2\n"
    );
    assert!(r.files["README.txt"].contains("+ requests 2.31.0"));
    let out = tempfile::tempdir().unwrap();
    let written = r.write_to(&out.path().join("recipe")).unwrap();
    assert!(written.iter().all(|p| p.is_file()));
}
