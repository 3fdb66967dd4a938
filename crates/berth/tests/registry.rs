//! Registries end to end: real `docker-registry` servers on loopback (plain
//! HTTP, and TLS with htpasswd Basic auth), seeded with `skopeo` from
//! images this file writes as OCI layouts, driven through a berth daemon by
//! the docker CLI (the berth CLI's own `pull`/`push` are tested with the
//! CLI) and by raw HTTP. Push results are checked by pulling them back into
//! a fresh berth data root and into the reference dockerd.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_spec::digest::Digest;
use common::*;

const DOCKER_20: &str = "/usr/bin/docker";
const DOCKER_28: &str = "/usr/local/bin/docker";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn oracle_host() -> String {
    std::env::var("BERTH_E2E_ORACLE").unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into())
}

// ---------------------------------------------------------------------------
// A registry on loopback.

/// `docker-registry serve` on 127.0.0.1:<free port>, storage in a temp dir.
struct Registry {
    dir: PathBuf,
    port: u16,
    child: Child,
    /// `user:password` when the registry wants Basic auth (it then speaks TLS).
    creds: Option<String>,
}

impl Registry {
    /// A plain HTTP registry.
    fn plain(tag: &str) -> Registry {
        Registry::start(tag, None)
    }

    /// A TLS registry (test CA, leaf with SAN 127.0.0.1 and localhost)
    /// with htpasswd Basic auth for `user:password`.
    fn tls_auth(tag: &str, user: &str, password: &str) -> Registry {
        Registry::start(tag, Some((user, password)))
    }

    fn start(tag: &str, auth: Option<(&str, &str)>) -> Registry {
        let dir = unique_tmp_dir(tag);
        let port = free_port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.display()
        );
        if let Some((user, password)) = auth {
            make_certs(&dir);
            let ht = run_cmd(
                Path::new("htpasswd"),
                &["-Bbn", user, password],
                &[],
                None,
                CMD_TIMEOUT,
            );
            ht.ok();
            std::fs::write(dir.join("htpasswd"), &ht.raw).expect("write htpasswd");
            cfg.push_str(&format!(
                "  tls:\n    certificate: {d}/leaf.crt\n    key: {d}/leaf.key\nauth:\n  htpasswd:\n    realm: berth-test\n    path: {d}/htpasswd\n",
                d = dir.display()
            ));
        }
        std::fs::write(dir.join("config.yml"), cfg).expect("write registry config");
        let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry (Debian package docker-registry)");
        wait_until("the registry to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Registry {
            dir,
            port,
            child,
            creds: auth.map(|(u, p)| format!("{u}:{p}")),
        }
    }

    /// `127.0.0.1:<port>`.
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Copy an image into the registry with skopeo (independently of berth).
    fn seed(&self, src: &str, repo_tag: &str) {
        let dest = format!("docker://{}/{repo_tag}", self.host());
        let mut args = vec!["copy", "--dest-tls-verify=false"];
        if let Some(c) = &self.creds {
            args.push("--dest-creds");
            args.push(c);
        }
        args.push(src);
        args.push(&dest);
        run_cmd(Path::new("skopeo"), &args, &[], None, CMD_TIMEOUT).ok();
        // A layout this file wrote is not needed any more.
        if let Some(dir) = src.strip_prefix("oci:").and_then(|s| s.strip_suffix(":t")) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// The manifest the registry serves for `repo:reference` (bytes and
    /// JSON) and its digest.
    fn manifest(&self, repo: &str, reference: &str) -> (Digest, serde_json::Value) {
        let scheme = if self.creds.is_some() {
            "https"
        } else {
            "http"
        };
        let url = format!("{scheme}://{}/v2/{repo}/manifests/{reference}", self.host());
        let mut args = vec![
            "-sfk",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            "-H",
            "Accept: application/vnd.oci.image.index.v1+json",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.list.v2+json",
        ];
        if let Some(c) = &self.creds {
            args.push("-u");
            args.push(c);
        }
        args.push(&url);
        let out = run_cmd(Path::new("curl"), &args, &[], None, CMD_TIMEOUT);
        out.ok();
        let json = serde_json::from_slice(&out.raw).expect("manifest JSON");
        (Digest::of_bytes(&out.raw), json)
    }

    /// Where the registry keeps a blob's bytes.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join(format!(
            "data/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test CA and a leaf certificate for 127.0.0.1 and localhost, with the
/// openssl CLI.
fn make_certs(dir: &Path) {
    let d = path_str(dir);
    let sh = format!(
        "set -e; cd {d}; \
         openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=berth-test-ca; \
         openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=127.0.0.1; \
         printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf; \
         openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out leaf.crt -days 2 -extfile ext.cnf"
    );
    run_cmd(Path::new("sh"), &["-c", &sh], &[], None, CMD_TIMEOUT).ok();
}

// ---------------------------------------------------------------------------
// Images written as OCI layouts (what skopeo copies into the registries).

#[derive(Clone, Copy)]
enum Comp {
    Gzip,
    Zstd,
    Plain,
}

/// A layer: its blob, media type and diff ID.
struct Layer {
    blob: Vec<u8>,
    media_type: &'static str,
    diff_id: Digest,
}

impl Layer {
    /// A layer from a whole tar stream.
    fn from_tar(tar: Vec<u8>, comp: Comp) -> Layer {
        let diff_id = Digest::of_bytes(&tar);
        let (blob, media_type) = match comp {
            Comp::Gzip => {
                let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                w.write_all(&tar).expect("gzip");
                (
                    w.finish().expect("gzip"),
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                )
            }
            Comp::Zstd => (
                zstd::encode_all(tar.as_slice(), 3).expect("zstd"),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
            Comp::Plain => (tar, "application/vnd.oci.image.layer.v1.tar"),
        };
        Layer {
            blob,
            media_type,
            diff_id,
        }
    }

    /// A layer holding regular files.
    fn files(files: &[(&str, &[u8])], comp: Comp) -> Layer {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).expect("tar entry");
        }
        Layer::from_tar(b.into_inner().expect("tar"), comp)
    }

    /// The busybox root filesystem of the fixtures.
    fn busybox(comp: Comp) -> Layer {
        Layer::from_tar(
            std::fs::read(fixture("busybox.tar")).expect("read busybox.tar"),
            comp,
        )
    }
}

/// Write an OCI image layout of `layers` (tag `t`) in a new directory;
/// returns `oci:<dir>:t` for skopeo and the image ID (config digest).
fn oci_layout(tag: &str, layers: &[&Layer]) -> (String, String) {
    let dir = unique_tmp_dir(tag);
    let (desc, id) = oci_image(&dir, berth_spec::image::go_arch(), layers);
    write_index(&dir, vec![desc]);
    (format!("oci:{}:t", dir.display()), id)
}

/// A multi-platform layout: one image per architecture, listed in an
/// index (tag `t`). Returns `oci:<dir>:t` and the image IDs.
fn oci_multi(tag: &str, images: &[(&str, &[&Layer])]) -> (String, Vec<String>) {
    let dir = unique_tmp_dir(tag);
    let mut descs = Vec::new();
    let mut ids = Vec::new();
    for (arch, layers) in images {
        let (mut desc, id) = oci_image(&dir, arch, layers);
        desc["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
        descs.push(desc);
        ids.push(id);
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": descs,
    });
    let bytes = serde_json::to_vec(&index).expect("index JSON");
    let d = Digest::of_bytes(&bytes);
    std::fs::write(dir.join("blobs/sha256").join(d.hex()), &bytes).expect("write index blob");
    write_index(
        &dir,
        vec![serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": d.to_string(),
            "size": bytes.len(),
        })],
    );
    (format!("oci:{}:t", dir.display()), ids)
}

/// Write the blobs of one image into `dir`; returns its manifest's
/// descriptor and the image ID.
fn oci_image(dir: &Path, arch: &str, layers: &[&Layer]) -> (serde_json::Value, String) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir blobs");
    let put = |bytes: &[u8]| -> Digest {
        let d = Digest::of_bytes(bytes);
        std::fs::write(blobs.join(d.hex()), bytes).expect("write blob");
        d
    };
    let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.to_string()).collect();
    let history: Vec<serde_json::Value> = layers
        .iter()
        .map(|_| serde_json::json!({"created": "2023-11-14T22:13:20Z", "created_by": "berth registry test"}))
        .collect();
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let config_bytes = serde_json::to_vec(&config).expect("config JSON");
    let config_digest = put(&config_bytes);
    let layer_descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            let d = put(&l.blob);
            serde_json::json!({"mediaType": l.media_type, "digest": d.to_string(), "size": l.blob.len()})
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config_bytes.len()},
        "layers": layer_descs,
    });
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest JSON");
    let manifest_digest = put(&manifest_bytes);
    (
        serde_json::json!({
            "mediaType": OCI_MANIFEST,
            "digest": manifest_digest.to_string(),
            "size": manifest_bytes.len(),
        }),
        config_digest.to_string(),
    )
}

/// `index.json` (the one entry tagged `t`) and `oci-layout`.
fn write_index(dir: &Path, mut manifests: Vec<serde_json::Value>) {
    for m in &mut manifests {
        m["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "t"});
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("index"),
    )
    .expect("index.json");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
}

/// `n` random bytes.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut v))
        .expect("read /dev/urandom");
    v
}

// ---------------------------------------------------------------------------
// Clients.

/// The docker CLI `exe` against `host`, with an optional config dir.
fn docker_at(exe: &str, host: &str, config: Option<&Path>, args: &[&str]) -> Out {
    let mut full: Vec<&str> = Vec::new();
    if let Some(c) = config {
        full.push("--config");
        full.push(path_str(c));
    }
    full.push("-H");
    full.push(host);
    full.extend_from_slice(args);
    run_cmd(Path::new(exe), &full, &[], None, CMD_TIMEOUT)
}

/// A private berth daemon for one test (extra daemon flags allowed).
fn daemon(tag: &str, flags: &[&str]) -> Daemon {
    let d = Daemon::new(&unique_tmp_dir(tag));
    d.start_args(flags);
    d
}

/// A raw HTTP request (Connection: close) to a daemon; (status, body).
fn api(
    d: &Daemon,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    http_bytes(&d.sock, req.as_bytes(), Duration::from_secs(60)).expect("HTTP request")
}

/// The JSON messages of a progress stream.
fn messages(body: &str) -> Vec<serde_json::Value> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l.trim()).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"))
        })
        .collect()
}

fn short(digest: &str) -> String {
    digest.trim_start_matches("sha256:")[..12].to_string()
}

/// Entries of the daemon's layer directory.
fn layer_dirs(d: &Daemon) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d.data_root.join("image/layers"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn pull_by_tag_then_up_to_date_then_by_digest() {
    let reg = Registry::plain("reg-pull");
    reg.seed(
        &format!("oci-archive:{}", path_str(&fixture("busybox-oci.tar"))),
        "bb:1",
    );
    let (digest, manifest) = reg.manifest("bb", "1");
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .expect("layer")
        .to_string();
    let id = manifest["config"]["digest"]
        .as_str()
        .expect("config")
        .to_string();
    let d = daemon("reg-pull-d", &[]);
    let host = reg.host();
    let name = format!("{host}/bb:1");

    let out = docker_at(DOCKER_20, &d.host, None, &["pull", &name]);
    out.ok();
    let s = short(&layer);
    assert_eq!(
        out.stdout,
        format!(
            "1: Pulling from bb\n{s}: Pulling fs layer\n{s}: Verifying Checksum\n{s}: Download complete\n{s}: Pull complete\nDigest: {digest}\nStatus: Downloaded newer image for {name}\n{name}\n"
        )
    );
    assert_eq!(
        docker_at(
            DOCKER_20,
            &d.host,
            None,
            &[
                "image",
                "inspect",
                "-f",
                "{{.Id}} {{.RepoTags}} {{.RepoDigests}}",
                &name
            ]
        )
        .out(),
        format!("{id} [{name}] [{host}/bb@{digest}]")
    );

    // dockerd's `pull` event: the reference, named by its repository.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 1;
    let (status, events) = api(
        &d,
        "GET",
        &format!("/events?since=0&until={until}"),
        &[],
        "",
    );
    assert_eq!(status, 200, "{events}");
    let pulls: Vec<serde_json::Value> = messages(&events)
        .into_iter()
        .filter(|e| e["Action"] == "pull")
        .collect();
    assert_eq!(pulls.len(), 1, "{events}");
    assert_eq!(pulls[0]["Type"], "image");
    assert_eq!(pulls[0]["Actor"]["ID"], name.as_str());
    assert_eq!(
        pulls[0]["Actor"]["Attributes"]["name"],
        format!("{host}/bb")
    );

    // Again: nothing to fetch.
    let again = docker_at(DOCKER_20, &d.host, None, &["pull", &name]);
    again.ok();
    assert_eq!(
        again.stdout,
        format!("1: Pulling from bb\nDigest: {digest}\nStatus: Image is up to date for {name}\n{name}\n")
    );
    let listed = docker_at(
        DOCKER_20,
        &d.host,
        None,
        &[
            "images",
            "--digests",
            "--format",
            "{{.Repository}} {{.Tag}} {{.Digest}}",
        ],
    );
    assert_eq!(listed.out(), format!("{host}/bb 1 {digest}"));

    // rmi by tag removes the digest reference of that repository too.
    let diff = docker_at(
        DOCKER_20,
        &d.host,
        None,
        &[
            "image",
            "inspect",
            "-f",
            "{{index .RootFS.Layers 0}}",
            &name,
        ],
    )
    .out();
    let rmi = docker_at(DOCKER_20, &d.host, None, &["rmi", &name]);
    rmi.ok();
    assert_eq!(
        rmi.stdout,
        format!("Untagged: {name}\nUntagged: {host}/bb@{digest}\nDeleted: {id}\nDeleted: {diff}\n")
    );

    // By digest; then run and remove by digest.
    let by_digest = format!("{host}/bb@{digest}");
    let out = docker_at(DOCKER_20, &d.host, None, &["pull", &by_digest]);
    out.ok();
    assert!(
        out.stdout
            .starts_with(&format!("{digest}: Pulling from bb\n")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(&format!(
            "Status: Downloaded newer image for {by_digest}\n{by_digest}\n"
        )),
        "{}",
        out.stdout
    );
    docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["run", "--rm", &by_digest, "echo", "by-digest"],
    )
    .ok()
    .stdout_is("by-digest\n");
    let rmi = docker_at(DOCKER_20, &d.host, None, &["rmi", &by_digest]);
    rmi.ok();
    assert_eq!(
        rmi.stdout,
        format!("Untagged: {by_digest}\nDeleted: {id}\nDeleted: {diff}\n")
    );
}

#[test]
fn docker_cli_28_pulls_through_berth() {
    let reg = Registry::plain("reg-cli28");
    reg.seed(
        &format!("oci-archive:{}", path_str(&fixture("busybox-oci.tar"))),
        "bb:28",
    );
    assert!(
        Path::new(DOCKER_28).exists(),
        "the docker CLI 28 is expected at {DOCKER_28} (the static client from download.docker.com)"
    );
    let d = daemon("reg-cli28-d", &[]);
    let name = format!("{}/bb:28", reg.host());
    docker_at(DOCKER_28, &d.host, None, &["pull", &name])
        .ok()
        .stdout_has(&format!("Status: Downloaded newer image for {name}"));
    docker_at(
        DOCKER_28,
        &d.host,
        None,
        &["run", "--rm", &name, "echo", "28"],
    )
    .ok()
    .stdout_is("28\n");
}

#[test]
fn shared_layers_already_exist_and_every_compression_pulls() {
    let reg = Registry::plain("reg-shared");
    let base = Layer::busybox(Comp::Gzip);
    let a = Layer::files(&[("a.txt", b"from a\n")], Comp::Gzip);
    let (src_a, _) = oci_layout("reg-shared-a", &[&base, &a]);
    reg.seed(&src_a, "a:1");
    let zst = Layer::files(&[("z.txt", b"zstd layer\n")], Comp::Zstd);
    let plain = Layer::files(&[("p.txt", b"plain layer\n")], Comp::Plain);
    let gz = Layer::files(&[("g.txt", b"gzip layer\n")], Comp::Gzip);
    let (src_b, id_b) = oci_layout("reg-shared-b", &[&base, &zst, &plain, &gz]);
    reg.seed(&src_b, "b:1");
    let (_, mb) = reg.manifest("b", "1");
    let ids: Vec<String> = (0..4)
        .map(|i| short(mb["layers"][i]["digest"].as_str().expect("digest")))
        .collect();

    // Two downloads at a time: the third new layer waits.
    let d = daemon("reg-shared-d", &["--max-concurrent-downloads", "2"]);
    docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["pull", &format!("{}/a:1", reg.host())],
    )
    .ok();
    let (status, body) = api(
        &d,
        "POST",
        &format!("/images/create?fromImage={}/b&tag=1", reg.host()),
        &[],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let msgs = messages(&body);
    let has = |status: &str, id: &str| msgs.iter().any(|m| m["status"] == status && m["id"] == id);
    assert!(has("Already exists", &ids[0]), "{body}");
    assert!(!has("Pulling fs layer", &ids[0]), "{body}");
    for id in &ids[1..] {
        assert!(has("Pulling fs layer", id), "{body}");
        assert!(has("Pull complete", id), "{body}");
    }
    assert!(has("Waiting", &ids[3]), "{body}");
    // Download progress carries dockerd's progressDetail and bar.
    let dl = msgs
        .iter()
        .find(|m| m["status"] == "Downloading")
        .unwrap_or_else(|| panic!("no Downloading message: {body}"));
    assert!(dl["progressDetail"]["current"].as_u64().is_some(), "{dl}");
    assert!(
        dl["progress"].as_str().is_some_and(|p| p.starts_with('[')),
        "{dl}"
    );

    let name = format!("{}/b:1", reg.host());
    assert_eq!(
        docker_at(
            DOCKER_20,
            &d.host,
            None,
            &["image", "inspect", "-f", "{{.Id}}", &name]
        )
        .out(),
        id_b
    );
    docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["run", "--rm", &name, "cat", "/z.txt", "/p.txt", "/g.txt"],
    )
    .ok()
    .stdout_is("zstd layer\nplain layer\ngzip layer\n");
}

#[test]
fn pull_errors_are_dockerds() {
    let reg = Registry::plain("reg-errors");
    reg.seed(
        &format!("oci-archive:{}", path_str(&fixture("busybox-oci.tar"))),
        "bb:1",
    );
    let d = daemon("reg-errors-d", &[]);
    let host = reg.host();

    let unknown_tag = docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["pull", &format!("{host}/bb:nope")],
    );
    unknown_tag.code(1).stderr_has(&format!(
        "Error response from daemon: manifest for {host}/bb:nope not found: manifest unknown: manifest unknown"
    ));
    let unknown_repo = docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["pull", &format!("{host}/nothing-here")],
    );
    unknown_repo.code(1).stderr_has(&format!(
        "manifest for {host}/nothing-here:latest not found: manifest unknown: manifest unknown"
    ));

    let (status, body) = api(
        &d,
        "POST",
        "/images/create?fromImage=Not/Lower&tag=1",
        &[],
        "",
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body.trim(),
        r#"{"message":"invalid reference format: repository name must be lowercase"}"#
    );
    let (status, body) = api(&d, "POST", "/images/create?fromImage=a%20b&tag=1", &[], "");
    assert_eq!(
        (status, body.trim()),
        (400, r#"{"message":"invalid reference format"}"#)
    );
    let (status, body) = api(
        &d,
        "POST",
        &format!("/images/create?fromImage={host}/bb&tag=1&platform=linux/arm64/v8/x"),
        &[],
        "",
    );
    assert_eq!(status, 400, "{body}");

    // Nothing listens there: an immediate error naming the last endpoint.
    let closed = free_port();
    let (status, body) = api(
        &d,
        "POST",
        &format!("/images/create?fromImage=127.0.0.1:{closed}/x&tag=1"),
        &[],
        "",
    );
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(&format!("Get \\\"http://127.0.0.1:{closed}/v2/\\\"")),
        "{body}"
    );
}

#[test]
fn tampered_blob_fails_and_leaves_nothing() {
    let reg = Registry::plain("reg-tamper");
    let layer = Layer::files(&[("random.bin", &random_bytes(1 << 20))], Comp::Gzip);
    let (src, _) = oci_layout("reg-tamper-img", &[&layer]);
    reg.seed(&src, "t:1");
    let (_, m) = reg.manifest("t", "1");
    let blob_digest = m["layers"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    // Same length, different bytes: the registry serves it as is.
    let file = reg.blob_file(&blob_digest);
    let mut bytes = std::fs::read(&file).expect("read blob");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &bytes).expect("tamper blob");

    let d = daemon("reg-tamper-d", &[]);
    let before = layer_dirs(&d);
    let name = format!("{}/t:1", reg.host());
    docker_at(DOCKER_20, &d.host, None, &["pull", &name])
        .code(1)
        .stderr_has(&format!(
            "filesystem layer verification failed for digest {blob_digest}"
        ));
    docker_at(DOCKER_20, &d.host, None, &["image", "inspect", &name]).code(1);
    assert_eq!(layer_dirs(&d), before, "a layer of the failed pull stayed");
}

#[test]
fn push_then_pull_back_into_a_fresh_root_and_dockerd() {
    let reg = Registry::plain("reg-push");
    let host = reg.host();
    let a = daemon("reg-push-a", &[]);
    let name = format!("{host}/pushed:v1");
    a.run(&["import", path_str(&fixture("busybox.tar")), &name])
        .ok();
    let id = a.run(&["image", "inspect", "-f", "{{.Id}}", &name]).out();
    let diff = a
        .run(&[
            "image",
            "inspect",
            "-f",
            "{{index .RootFS.Layers 0}}",
            &name,
        ])
        .out();
    let s = short(&diff);

    let push = docker_at(DOCKER_20, &a.host, None, &["push", &name]);
    push.ok();
    let lines = push.lines();
    assert_eq!(
        lines[0],
        format!("The push refers to repository [{host}/pushed]")
    );
    assert!(lines.contains(&format!("{s}: Preparing")), "{lines:?}");
    assert!(lines.contains(&format!("{s}: Pushed")), "{lines:?}");
    let last = lines.last().expect("digest line").clone();
    let (digest, _) = reg.manifest("pushed", "v1");
    assert!(
        last.starts_with(&format!("v1: digest: {digest} size: ")),
        "{last}"
    );

    // Again: the registry has the layer under the remembered digest.
    let again = docker_at(DOCKER_20, &a.host, None, &["push", &name]);
    again.ok().stdout_has(&format!("{s}: Layer already exists"));
    assert!(!again.stdout.contains("Pushed"), "{}", again.stdout);

    // A fresh data root pulls the same image.
    let b = daemon("reg-push-b", &[]);
    docker_at(DOCKER_20, &b.host, None, &["pull", &name]).ok();
    assert_eq!(
        b.run(&["image", "inspect", "-f", "{{.Id}}", &name]).out(),
        id
    );
    // Re-pushed from there to another repository, the layer goes back
    // under the digest it came with (a mount on the same registry).
    let other = format!("{host}/other:v1");
    b.run(&["tag", &name, &other]).ok();
    docker_at(DOCKER_20, &b.host, None, &["push", &other])
        .ok()
        .stdout_has(&format!("{s}: Mounted from pushed"));

    // The reference dockerd pulls berth's push with the same ID...
    let oracle = oracle_host();
    let o = docker_at(DOCKER_20, &oracle, None, &["pull", &name]);
    assert_eq!(
        o.code, 0,
        "the reference dockerd at {oracle} must be running (`eval \"$(../shared/tools/docker-oracle start)\"`, CI does): {o:?}"
    );
    assert_eq!(
        docker_at(
            DOCKER_20,
            &oracle,
            None,
            &["image", "inspect", "-f", "{{.Id}}", &name]
        )
        .out(),
        id
    );
    docker_at(DOCKER_20, &oracle, None, &["rmi", &name]).ok();

    // ... and berth pulls what dockerd pushed, with the same ID.
    let tar_dir = unique_tmp_dir("reg-push-tar");
    std::fs::write(tar_dir.join("data.bin"), random_bytes(200_000)).expect("write data");
    let tarball = tar_dir.join("rootfs.tar");
    run_cmd(
        Path::new("tar"),
        &[
            "-C",
            path_str(&tar_dir),
            "-cf",
            path_str(&tarball),
            "data.bin",
        ],
        &[],
        None,
        CMD_TIMEOUT,
    )
    .ok();
    let from_docker = format!("{host}/from-docker:v1");
    docker_at(
        DOCKER_20,
        &oracle,
        None,
        &["import", path_str(&tarball), &from_docker],
    )
    .ok();
    let docker_id = docker_at(
        DOCKER_20,
        &oracle,
        None,
        &["image", "inspect", "-f", "{{.Id}}", &from_docker],
    )
    .out();
    docker_at(DOCKER_20, &oracle, None, &["push", &from_docker]).ok();
    docker_at(DOCKER_20, &oracle, None, &["rmi", &from_docker]).ok();
    docker_at(DOCKER_20, &b.host, None, &["pull", &from_docker]).ok();
    assert_eq!(
        b.run(&["image", "inspect", "-f", "{{.Id}}", &from_docker])
            .out(),
        docker_id
    );
}

#[test]
fn tls_registry_with_basic_auth() {
    let password = "Pw-of-berth-7781";
    let reg = Registry::tls_auth("reg-auth", "berth", password);
    reg.seed(
        &format!("oci-archive:{}", path_str(&fixture("busybox-oci.tar"))),
        "priv:1",
    );
    let host = reg.host();
    let name = format!("{host}/priv:1");
    let d = daemon("reg-auth-d", &[]);

    // Anonymous: a Basic realm and no credentials, as dockerd words it
    // (`Head "https://.../manifests/1": no basic auth credentials`).
    let anon_cfg = unique_tmp_dir("reg-auth-anon");
    docker_at(DOCKER_20, &d.host, Some(&anon_cfg), &["pull", &name])
        .code(1)
        .stderr_has("Error response from daemon: ")
        .stderr_has("/v2/priv/manifests/1\": no basic auth credentials");

    // A wrong password: dockerd's login failure.
    let cfg = unique_tmp_dir("reg-auth-cfg");
    docker_at(DOCKER_20, &d.host, Some(&cfg), &["login", "-u", "berth", "-p", "wrong-password", &host])
        .code(1)
        .stderr_has(&format!(
            "Error response from daemon: login attempt to https://{host}/v2/ failed with status: 401 Unauthorized"
        ));
    let (status, body) = api(
        &d,
        "POST",
        "/auth",
        &[("Content-Type", "application/json")],
        &format!(r#"{{"username":"berth","password":"{password}","serveraddress":"{host}"}}"#),
    );
    assert_eq!(
        (status, body.trim()),
        (200, r#"{"IdentityToken":"","Status":"Login Succeeded"}"#)
    );

    docker_at(
        DOCKER_20,
        &d.host,
        Some(&cfg),
        &["login", "-u", "berth", "-p", password, &host],
    )
    .ok()
    .stdout_has("Login Succeeded");
    docker_at(DOCKER_20, &d.host, Some(&cfg), &["pull", &name])
        .ok()
        .stdout_has(&format!("Status: Downloaded newer image for {name}"));
    let pushed = format!("{host}/priv:again");
    docker_at(DOCKER_20, &d.host, Some(&cfg), &["tag", &name, &pushed]).ok();
    docker_at(DOCKER_20, &d.host, Some(&cfg), &["push", &pushed])
        .ok()
        .stdout_has("again: digest: sha256:");
    assert!(
        !d.log_text().contains(password),
        "the password reached the daemon log"
    );
}

/// A TCP relay to `target` that passes at most `chunk` bytes per `pause`
/// from the server to the client (a slow registry), until `stop`.
fn slow_relay(target: u16, chunk: usize, pause: Duration, stop: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((client, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let _ = client.set_nonblocking(false);
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let (mut c_in, mut s_out) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
            });
            let stop = Arc::clone(&stop);
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; chunk];
                while !stop.load(Ordering::Relaxed) {
                    match s_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if c_out.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                    std::thread::sleep(pause);
                }
                let _ = c_out.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

#[test]
fn kill_9_mid_pull_leaves_nothing_and_the_next_pull_finishes() {
    let reg = Registry::plain("reg-kill");
    let big = Layer::files(&[("big.bin", &random_bytes(8 << 20))], Comp::Plain);
    let (src, id) = oci_layout("reg-kill-img", &[&big]);
    reg.seed(&src, "k:1");
    let stop = Arc::new(AtomicBool::new(false));
    // About 1.3 MB/s: the pull is still going when the daemon is killed.
    let relay = slow_relay(
        reg.port,
        16 * 1024,
        Duration::from_millis(12),
        Arc::clone(&stop),
    );
    let d = daemon("reg-kill-d", &[]);
    let name = format!("127.0.0.1:{relay}/k:1");
    let mut pull = Command::new(DOCKER_20)
        .args(["-H", &d.host, "pull", &name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn docker pull");
    let layers = d.data_root.join("image/layers");
    wait_until("a layer being extracted", Duration::from_secs(60), || {
        std::fs::read_dir(&layers)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
            .unwrap_or(false)
    });
    d.kill9();
    let _ = pull.wait();
    stop.store(true, Ordering::Relaxed);

    // Restarted: no staging left, no image; then the pull completes.
    d.start();
    assert_eq!(layer_dirs(&d), Vec::<String>::new());
    docker_at(DOCKER_20, &d.host, None, &["image", "inspect", &name]).code(1);
    let direct = format!("{}/k:1", reg.host());
    docker_at(DOCKER_20, &d.host, None, &["pull", &direct]).ok();
    assert_eq!(
        docker_at(
            DOCKER_20,
            &d.host,
            None,
            &["image", "inspect", "-f", "{{.Id}}", &direct]
        )
        .out(),
        id
    );
}

#[test]
fn build_from_pulls_a_missing_base_and_pull_1_pulls_again() {
    let reg = Registry::plain("reg-build");
    reg.seed(
        &format!("oci-archive:{}", path_str(&fixture("busybox-oci.tar"))),
        "bb:1",
    );
    let host = reg.host();
    let base = format!("{host}/bb:1");
    let (digest, m) = reg.manifest("bb", "1");
    let id = m["config"]["digest"].as_str().expect("config").to_string();
    let d = daemon("reg-build-d", &[]);
    let ctx = unique_tmp_dir("reg-build-ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nRUN echo built > /built.txt\n"),
    )
    .expect("Dockerfile");
    let build = |extra: &[&str]| {
        let mut args = vec!["-H", d.host.as_str(), "build"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-t", "regtest-built:1", path_str(&ctx)]);
        run_cmd(
            Path::new(DOCKER_20),
            &args,
            &[("DOCKER_BUILDKIT", "0")],
            None,
            CMD_TIMEOUT,
        )
    };
    let first = build(&[]);
    first.ok();
    let s = short(m["layers"][0]["digest"].as_str().expect("layer"));
    let want = format!(
        "Step 1/2 : FROM {base}\n1: Pulling from bb\n{s}: Pulling fs layer\n{s}: Verifying Checksum\n{s}: Download complete\n{s}: Pull complete\nDigest: {digest}\nStatus: Downloaded newer image for {base}\n ---> {}\n",
        &id["sha256:".len()..][..12]
    );
    assert!(first.stdout.contains(&want), "{}", first.stdout);
    docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["run", "--rm", "regtest-built:1", "cat", "/built.txt"],
    )
    .ok()
    .stdout_is("built\n");

    // Present: no pull; with --pull: asked again, up to date.
    let cached = build(&[]);
    cached.ok();
    assert!(!cached.stdout.contains("Pulling from"), "{}", cached.stdout);
    build(&["--pull"]).ok().stdout_has(&format!(
        "1: Pulling from bb\nDigest: {digest}\nStatus: Image is up to date for {base}\n"
    ));

    std::fs::write(ctx.join("Dockerfile"), format!("FROM {host}/bb:nope\n")).expect("Dockerfile");
    build(&[]).code(1).stderr_has(&format!(
        "manifest for {host}/bb:nope not found: manifest unknown: manifest unknown"
    ));
}

/// A token server on loopback: answers every request with a bearer token
/// (valid 300 s) and records the request lines and `Authorization`
/// headers it saw.
fn token_server(stop: Arc<AtomicBool>) -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match conn.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            let line = text.lines().next().unwrap_or("").to_string();
            let auth = text
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                .map(|l| l["authorization:".len()..].trim().to_string())
                .unwrap_or_default();
            log.lock().expect("lock").push(format!("{line} | {auth}"));
            let body = r#"{"token":"berth-test-token","expires_in":300}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

#[test]
fn bearer_tokens_with_credentials_are_fetched_per_scope_and_cached() {
    let stop = Arc::new(AtomicBool::new(false));
    let (token_port, seen) = token_server(Arc::clone(&stop));
    // distribution's `silly` access controller: Bearer challenges naming
    // our token server; any bearer token is accepted.
    let dir = unique_tmp_dir("reg-token");
    let port = free_port();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}/data\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  silly:\n    realm: http://127.0.0.1:{token_port}/token\n    service: berth-test\n",
            dir.display()
        ),
    )
    .expect("config");
    let mut child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn docker-registry");
    wait_until("the registry to listen", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let host = format!("127.0.0.1:{port}");
    run_cmd(
        Path::new("skopeo"),
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "seed:seed",
            &format!("oci-archive:{}", path_str(&fixture("busybox-oci.tar"))),
            &format!("docker://{host}/tok:1"),
        ],
        &[],
        None,
        CMD_TIMEOUT,
    )
    .ok();
    seen.lock().expect("lock").clear();

    let d = daemon("reg-token-d", &[]);
    let cfg = unique_tmp_dir("reg-token-cfg");
    docker_at(
        DOCKER_20,
        &d.host,
        Some(&cfg),
        &["login", "-u", "alice", "-p", "wonderland", &host],
    )
    .ok()
    .stdout_has("Login Succeeded");
    let name = format!("{host}/tok:1");
    docker_at(DOCKER_20, &d.host, Some(&cfg), &["pull", &name]).ok();
    docker_at(DOCKER_20, &d.host, Some(&cfg), &["rmi", &name]).ok();
    docker_at(DOCKER_20, &d.host, Some(&cfg), &["pull", &name]).ok();

    let requests = seen.lock().expect("lock").clone();
    // alice:wonderland
    let basic = "Basic YWxpY2U6d29uZGVybGFuZA==";
    let login: Vec<&String> = requests
        .iter()
        .filter(|r| r.contains("offline_token=true"))
        .collect();
    assert_eq!(login.len(), 1, "{requests:#?}");
    assert!(
        login[0].contains("client_id=docker") && login[0].ends_with(basic),
        "{requests:#?}"
    );
    // Two pulls, one token for the repository's pull scope.
    let pulls: Vec<&String> = requests
        .iter()
        .filter(|r| r.contains("scope=repository%3Atok%3Apull"))
        .collect();
    assert_eq!(pulls.len(), 1, "{requests:#?}");
    assert!(
        pulls[0].contains("service=berth-test") && pulls[0].ends_with(basic),
        "{requests:#?}"
    );
    assert!(
        !d.log_text().contains("wonderland"),
        "the password reached the daemon log"
    );

    stop.store(true, Ordering::Relaxed);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_client_that_goes_away_cancels_its_pull() {
    let reg = Registry::plain("reg-cancel");
    let big = Layer::files(&[("big.bin", &random_bytes(8 << 20))], Comp::Plain);
    let (src, _) = oci_layout("reg-cancel-img", &[&big]);
    reg.seed(&src, "c:1");
    let stop = Arc::new(AtomicBool::new(false));
    let relay = slow_relay(
        reg.port,
        16 * 1024,
        Duration::from_millis(12),
        Arc::clone(&stop),
    );
    let d = daemon("reg-cancel-d", &[]);
    let mut conn = std::os::unix::net::UnixStream::connect(&d.sock).expect("connect");
    write!(
        conn,
        "POST /images/create?fromImage=127.0.0.1:{relay}/c&tag=1 HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("send");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("Downloading") {
        let n = conn.read(&mut buf).expect("read progress");
        assert!(
            n > 0,
            "stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let layers = d.data_root.join("image/layers");
    let staging = || {
        std::fs::read_dir(&layers)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
            .unwrap_or(false)
    };
    wait_until(
        "the layer to be extracted",
        Duration::from_secs(30),
        staging,
    );
    drop(conn);
    // Cancelled: the staging directory goes and no layer is committed
    // (a finished download would have renamed it into place).
    wait_until("the pull to stop", Duration::from_secs(30), || !staging());
    assert_eq!(layer_dirs(&d), Vec::<String>::new());
    docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["image", "inspect", &format!("127.0.0.1:{relay}/c:1")],
    )
    .code(1);
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn multi_platform_images_pick_this_machines_platform() {
    let reg = Registry::plain("reg-multi");
    let here = berth_spec::image::go_arch();
    let other = if here == "amd64" { "arm64" } else { "amd64" };
    let base = Layer::busybox(Comp::Gzip);
    let mark_here = Layer::files(&[("arch.txt", b"here\n")], Comp::Gzip);
    let mark_other = Layer::files(&[("arch.txt", b"other\n")], Comp::Gzip);
    let (src, ids) = oci_multi(
        "reg-multi-img",
        &[(other, &[&base, &mark_other]), (here, &[&base, &mark_here])],
    );
    let dest = format!("docker://{}/multi:1", reg.host());
    run_cmd(
        Path::new("skopeo"),
        &["copy", "--all", "--dest-tls-verify=false", &src, &dest],
        &[],
        None,
        CMD_TIMEOUT,
    )
    .ok();
    let (index_digest, _) = reg.manifest("multi", "1");
    let d = daemon("reg-multi-d", &[]);
    let name = format!("{}/multi:1", reg.host());

    let (status, body) = api(
        &d,
        "POST",
        &format!(
            "/images/create?fromImage={}/multi&tag=1&platform=linux/s390x",
            reg.host()
        ),
        &[],
        "",
    );
    assert_eq!(
        (status, body.trim()),
        (
            404,
            r#"{"message":"no matching manifest for linux/s390x in the manifest list entries"}"#
        )
    );

    docker_at(DOCKER_20, &d.host, None, &["pull", &name])
        .ok()
        .stdout_has(&format!("Digest: {index_digest}\n"));
    assert_eq!(
        docker_at(
            DOCKER_20,
            &d.host,
            None,
            &["image", "inspect", "-f", "{{.Id}} {{.Architecture}}", &name]
        )
        .out(),
        format!("{} {here}", ids[1])
    );
    docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["run", "--rm", &name, "cat", "/arch.txt"],
    )
    .ok()
    .stdout_is("here\n");
    let (status, body) = api(&d, "GET", &format!("/distribution/{name}/json"), &[], "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["Descriptor"]["digest"], index_digest.to_string());
    assert_eq!(v["Platforms"].as_array().map(Vec::len), Some(2), "{body}");
}

/// A TCP relay to `target` that cuts the first connection to pass `cut`
/// bytes from the server, there; the others pass everything.
/// Returns its port and how many connections it cut.
fn cutting_relay(target: u16, cut: usize) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::AtomicUsize;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let port = listener.local_addr().expect("addr").port();
    let cuts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&cuts);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let (mut c_in, mut s_out) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
            });
            let counter = Arc::clone(&counter);
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut passed = 0usize;
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match s_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if passed + n >= cut
                        && counter
                            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok()
                    {
                        let _ = c_out.write_all(&buf[..cut.saturating_sub(passed)]);
                        break;
                    }
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    passed += n;
                }
                let _ = c_out.shutdown(std::net::Shutdown::Both);
                let _ = s_in.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (port, cuts)
}

#[test]
fn a_dropped_download_resumes_with_range() {
    let reg = Registry::plain("reg-resume");
    let big = Layer::files(&[("big.bin", &random_bytes(4 << 20))], Comp::Gzip);
    let (src, id) = oci_layout("reg-resume-img", &[&big]);
    reg.seed(&src, "r:1");
    // The first connection carries the ping, the manifest, the config and
    // the start of the layer, then breaks.
    let (relay, cuts) = cutting_relay(reg.port, 1 << 20);
    let d = daemon("reg-resume-d", &[]);
    let name = format!("127.0.0.1:{relay}/r:1");
    docker_at(DOCKER_20, &d.host, None, &["pull", &name])
        .ok()
        .stdout_has(&format!("Status: Downloaded newer image for {name}"));
    assert_eq!(
        cuts.load(Ordering::SeqCst),
        1,
        "the relay never cut a connection"
    );
    assert_eq!(
        docker_at(
            DOCKER_20,
            &d.host,
            None,
            &["image", "inspect", "-f", "{{.Id}}", &name]
        )
        .out(),
        id
    );
}

#[test]
fn search_lists_a_private_registrys_catalog() {
    let reg = Registry::plain("reg-search");
    let src = format!("oci-archive:{}", path_str(&fixture("busybox-oci.tar")));
    reg.seed(&src, "team/notebook:1");
    reg.seed(&src, "team/database:1");
    reg.seed(&src, "other/notebook-extra:1");
    let d = daemon("reg-search-d", &[]);
    let host = reg.host();
    let (status, body) = api(
        &d,
        "GET",
        &format!("/images/search?term={host}/notebook"),
        &[],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let names: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            format!("{host}/other/notebook-extra"),
            format!("{host}/team/notebook")
        ]
    );
    assert_eq!(v[0]["star_count"], 0);
    assert_eq!(v[0]["is_official"], false);
    let (status, body) = api(
        &d,
        "GET",
        &format!("/images/search?term={host}/team&limit=1"),
        &[],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .expect("JSON")
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let (status, body) = api(
        &d,
        "GET",
        &format!("/images/search?term={host}/team&limit=101"),
        &[],
        "",
    );
    assert_eq!(
        (status, body.trim()),
        (
            400,
            r#"{"message":"Limit 101 is outside the range of [1, 100]"}"#
        )
    );
    docker_at(
        DOCKER_20,
        &d.host,
        None,
        &["search", &format!("{host}/database")],
    )
    .ok()
    .stdout_has(&format!("{host}/team/database"));
}
