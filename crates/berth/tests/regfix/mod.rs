//! Registries for the registry tests, all on loopback: Debian's `docker-registry`
//! (distribution 2.8) with storage in a temporary directory, optionally behind htpasswd
//! Basic auth; images seeded with skopeo from docker-archives made here (busybox's rootfs
//! plus a layer of random bytes, so every seeded image has a layer no daemon has seen);
//! a fake v1 search endpoint (distribution has none); a fake credential helper; a fake
//! Engine API that answers 401 (dockerd never does for a local registry).
#![allow(dead_code)]

mod daemon;
mod helper;
mod search;

pub use daemon::FakeDaemon;
pub use helper::credential_helper;
pub use search::fake_search;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{fixture, free_port, path_str, run_cmd, unique_tmp_dir, wait_until};

/// The user and password of the authenticated registry.
pub const USER: &str = "reguser";
/// Its password.
pub const PASSWORD: &str = "s3cret-pass";

/// A running `docker-registry serve`, killed on drop.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its directory (config, storage, log).
    pub dir: PathBuf,
    /// Whether it asks for Basic auth.
    pub auth: bool,
}

impl Registry {
    /// Start a registry on a free loopback port (`auth`: htpasswd with [`USER`]/[`PASSWORD`]).
    pub fn start(auth: bool) -> Registry {
        let dir = unique_tmp_dir("registry");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.join("data").display()
        );
        if auth {
            let o = run_cmd(
                Path::new("htpasswd"),
                &["-Bbn", USER, PASSWORD],
                &[],
                None,
                Duration::from_secs(30),
            );
            o.ok();
            std::fs::write(dir.join("htpasswd"), &o.stdout).expect("write htpasswd");
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        let cfg_path = dir.join("config.yml");
        std::fs::write(&cfg_path, cfg).expect("write registry config");
        let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("docker-registry is installed (scripts/install-deps.sh)");
        let reg = Registry {
            child,
            addr,
            dir,
            auth,
        };
        wait_until(
            &format!("registry on {}", reg.addr),
            Duration::from_secs(30),
            || TcpStream::connect(&reg.addr).is_ok(),
        );
        reg
    }

    /// `ADDR/name`.
    pub fn repo(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }

    /// The registry's tags of `name` (`GET /v2/NAME/tags/list`), empty when unknown.
    pub fn tags(&self, name: &str) -> Vec<String> {
        let mut args = vec!["-s".to_string(), "--max-time".into(), "10".into()];
        if self.auth {
            args.push("-u".into());
            args.push(format!("{USER}:{PASSWORD}"));
        }
        args.push(format!("http://{}/v2/{name}/tags/list", self.addr));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run_cmd(Path::new("curl"), &refs, &[], None, Duration::from_secs(20));
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_default();
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }

    /// Push a fresh image (busybox + `/rnd`, `rnd_bytes` random bytes) as `name:tag`.
    pub fn seed(&self, name: &str, tag: &str, rnd_bytes: usize) {
        let archive = docker_archive(&self.dir, rnd_bytes);
        let dest = format!("docker://{}/{name}:{tag}", self.addr);
        let src = format!("docker-archive:{}", archive.display());
        let creds = format!("{USER}:{PASSWORD}");
        let mut args = vec![
            "copy",
            "--quiet",
            "--format",
            "v2s2",
            "--dest-tls-verify=false",
        ];
        if self.auth {
            args.push("--dest-creds");
            args.push(&creds);
        }
        args.push(&src);
        args.push(&dest);
        run_cmd(
            Path::new("skopeo"),
            &args,
            &[],
            None,
            Duration::from_secs(120),
        )
        .ok();
        let _ = std::fs::remove_file(archive);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha256_file(p: &Path) -> String {
    let o = run_cmd(
        Path::new("sha256sum"),
        &[path_str(p)],
        &[],
        None,
        Duration::from_secs(60),
    );
    o.ok();
    o.stdout
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// The Go architecture name of this machine.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A docker-archive (what `docker save` writes) of busybox plus a layer holding `/rnd`.
fn docker_archive(dir: &Path, rnd_bytes: usize) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let work = dir.join(format!("archive{n}"));
    std::fs::create_dir_all(&work).expect("mkdir archive dir");
    let base = fixture("busybox.tar");
    // The random layer.
    let mut rnd = vec![0u8; rnd_bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut rnd))
        .expect("read /dev/urandom");
    let layer2 = work.join("rnd.tar");
    {
        let f = std::fs::File::create(&layer2).expect("create layer");
        let mut b = tar::Builder::new(f);
        let mut hdr = tar::Header::new_gnu();
        hdr.set_size(rnd.len() as u64);
        hdr.set_mode(0o644);
        hdr.set_mtime(1_700_000_000);
        hdr.set_cksum();
        b.append_data(&mut hdr, "rnd", rnd.as_slice())
            .expect("append rnd");
        b.finish().expect("finish layer");
    }
    let d1 = sha256_file(&base);
    let d2 = sha256_file(&layer2);
    let config = serde_json::json!({
        "architecture": go_arch(),
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{d1}"), format!("sha256:{d2}")]},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "busybox"},
            {"created": "2024-01-01T00:00:00Z", "created_by": "rnd"}
        ]
    });
    let config_bytes = serde_json::to_vec(&config).expect("config json");
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": [],
        "Layers": ["base/layer.tar", "rnd/layer.tar"]
    }]);
    let archive = work.join("image.tar");
    {
        let f = std::fs::File::create(&archive).expect("create archive");
        let mut b = tar::Builder::new(f);
        let add = |b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]| {
            let mut hdr = tar::Header::new_gnu();
            hdr.set_size(data.len() as u64);
            hdr.set_mode(0o644);
            hdr.set_mtime(1_700_000_000);
            hdr.set_cksum();
            b.append_data(&mut hdr, name, data).expect("append");
        };
        add(&mut b, "config.json", &config_bytes);
        add(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&manifest).expect("manifest json"),
        );
        b.append_path_with_name(&base, "base/layer.tar")
            .expect("append base layer");
        b.append_path_with_name(&layer2, "rnd/layer.tar")
            .expect("append rnd layer");
        b.finish().expect("finish archive");
    }
    archive
}
