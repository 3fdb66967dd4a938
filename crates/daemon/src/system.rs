//! `/_ping`, `/version`, `/info`.

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use hyper::{Method, Response, StatusCode};
use serde_json::json;

use crate::body::{empty, full};
use crate::respond::{ok_json, ApiResult};
use crate::Ctx;

/// `GET|HEAD /_ping`.
pub fn ping(method: &Method) -> ApiResult {
    let mut resp = Response::new(if *method == Method::HEAD {
        empty()
    } else {
        full("OK")
    });
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn os_name() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn os_version() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_ID="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

fn mem_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn arch() -> &'static str {
    berth_spec::image::go_arch()
}

/// `uname -m` style architecture (`x86_64`), as `/info` reports it.
fn machine() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.machine().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `GET /version`.
pub fn version() -> ApiResult {
    let ver = env!("CARGO_PKG_VERSION");
    let kernel = kernel_version();
    let mut details = std::collections::BTreeMap::new();
    details.insert(
        "ApiVersion".to_string(),
        berth_spec::API_VERSION.to_string(),
    );
    details.insert("Arch".to_string(), arch().to_string());
    details.insert("BuildTime".to_string(), String::new());
    details.insert("Experimental".to_string(), "false".to_string());
    details.insert("GitCommit".to_string(), String::new());
    details.insert("GoVersion".to_string(), "n/a (Rust)".to_string());
    details.insert("KernelVersion".to_string(), kernel.clone());
    details.insert(
        "MinAPIVersion".to_string(),
        berth_spec::MIN_API_VERSION.to_string(),
    );
    details.insert("Os".to_string(), "linux".to_string());
    let v = berth_spec::api::VersionResponse {
        platform: berth_spec::api::VersionPlatform {
            name: "berth".into(),
        },
        components: vec![berth_spec::api::VersionComponent {
            name: "Engine".into(),
            version: ver.into(),
            details,
        }],
        version: ver.into(),
        api_version: berth_spec::API_VERSION.into(),
        min_api_version: berth_spec::MIN_API_VERSION.into(),
        git_commit: String::new(),
        go_version: "n/a (Rust)".into(),
        os: "linux".into(),
        arch: arch().into(),
        kernel_version: kernel,
        build_time: String::new(),
    };
    ok_json(&v)
}

/// `GET /info`.
pub fn info(ctx: &Ctx) -> ApiResult {
    let engine = &ctx.engine;
    let (total, running, paused, stopped) = engine.container_counts();
    // Every image in the store, intermediate ones too, as dockerd counts (one per ID).
    let images = engine
        .store()
        .list(true)
        .map(|l| {
            l.iter()
                .map(|i| i.id.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        })
        .unwrap_or(0);
    let cfg = engine.config();
    let cgroup_version = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
    let name = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut v = json!({
        "ID": engine.engine_id(),
        "Containers": total,
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Native Overlay Diff", "true"], ["userxattr", "false"]],
        "Plugins": {"Volume": ["local"], "Network": ["host", "null"], "Authorization": null, "Log": ["json-file"]},
        "MemoryLimit": true,
        "SwapLimit": false,
        "KernelMemory": false,
        "KernelMemoryTCP": false,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "BridgeNfIptables": false,
        "BridgeNfIp6tables": false,
        "Debug": false,
        "NFd": 0,
        "OomKillDisable": cgroup_version == "1",
        "NGoroutines": 0,
        "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": os_name(),
        "OSVersion": os_version(),
        "OSType": "linux",
        "Architecture": machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [], "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": []},
        "NCPU": ncpu,
        "MemTotal": mem_total(),
        "GenericResources": null,
        "DockerRootDir": cfg.data_root.to_string_lossy(),
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": name,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": {
            "berth": {"path": cfg.shim_exe.to_string_lossy()},
            "runc": {"path": cfg.shim_exe.to_string_lossy()},
        },
        "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=seccomp,profile=default"],
        "Warnings": null,
    });
    if let Some(log) = &cfg.daemon_log {
        v["BerthDaemonLog"] = json!(log.to_string_lossy());
    }
    v["BerthExecRoot"] = json!(cfg.exec_root.to_string_lossy());
    ok_json(&v)
}
