//! `berth version` and `berth info`.

use berth_client::Client;
use berth_spec::image::go_arch;
use berth_spec::units::human_size_binary;
use clap::Args;
use serde_json::Value;

use super::error::{CliError, CliResult};
use super::output::out;
use super::template::{Template, Val};

/// `berth version` / `berth info`.
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
}

fn client_section() -> String {
    format!(
        "Client:\n Version:           {}\n API version:       {}\n Built with:        rustc\n OS/Arch:           {}/{}\n Context:           default\n",
        env!("CARGO_PKG_VERSION"),
        berth_spec::API_VERSION,
        std::env::consts::OS,
        go_arch(),
    )
}

/// `berth version`.
pub async fn version(client: Result<Client, CliError>, args: &FormatArgs) -> CliResult {
    if let Some(f) = &args.format {
        let client = client?;
        let json: Value = client.get_json("/version").await?;
        let val = Val::Obj(vec![
            (
                "Client".into(),
                Val::Obj(vec![
                    ("Version".into(), Val::s(env!("CARGO_PKG_VERSION"))),
                    ("ApiVersion".into(), Val::s(client.api_version())),
                    ("Os".into(), Val::s(std::env::consts::OS)),
                    ("Arch".into(), Val::s(go_arch())),
                ]),
            ),
            ("Server".into(), Val::from(&json)),
        ]);
        return out(&format!("{}\n", Template::parse(f)?.execute(&val)?));
    }
    let mut text = client_section();
    text.push('\n');
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            out(&text)?;
            return Err(e);
        }
    };
    let v = match client.get_json::<Value>("/version").await {
        Ok(v) => v,
        Err(e) => {
            out(&text)?;
            return Err(e.into());
        }
    };
    let platform = v.get("Platform").map(|p| s(p, "Name")).unwrap_or("");
    if platform.is_empty() {
        text.push_str("Server:\n");
    } else {
        text.push_str(&format!("Server: {platform}\n"));
    }
    let components: &[Value] = v
        .get("Components")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let engine = components.iter().find(|c| s(c, "Name") == "Engine");
    text.push_str(" Engine:\n");
    text.push_str(&format!("  Version:          {}\n", s(&v, "Version")));
    text.push_str(&format!(
        "  API version:      {} (minimum version {})\n",
        s(&v, "ApiVersion"),
        s(&v, "MinAPIVersion")
    ));
    if !s(&v, "GoVersion").is_empty() {
        text.push_str(&format!("  Go version:       {}\n", s(&v, "GoVersion")));
    }
    text.push_str(&format!("  Git commit:       {}\n", s(&v, "GitCommit")));
    let built = s(&v, "BuildTime");
    let built = chrono::DateTime::parse_from_rfc3339(built)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_else(|_| built.to_string());
    text.push_str(&format!("  Built:            {built}\n"));
    text.push_str(&format!(
        "  OS/Arch:          {}/{}\n",
        s(&v, "Os"),
        s(&v, "Arch")
    ));
    let experimental = engine
        .and_then(|e| e.get("Details"))
        .map(|d| s(d, "Experimental"))
        .filter(|e| !e.is_empty())
        .unwrap_or("false");
    text.push_str(&format!("  Experimental:     {experimental}\n"));
    for c in components.iter().filter(|c| s(c, "Name") != "Engine") {
        text.push_str(&format!(" {}:\n", s(c, "Name")));
        text.push_str(&format!("  Version:          {}\n", s(c, "Version")));
        if let Some(details) = c.get("Details").and_then(Value::as_object) {
            for (k, val) in details {
                text.push_str(&format!(
                    "  {:<16}  {}\n",
                    format!("{k}:"),
                    val.as_str().unwrap_or("")
                ));
            }
        }
    }
    out(&text)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// `berth info`.
pub async fn info(client: Result<Client, CliError>, args: &FormatArgs) -> CliResult {
    if let Some(f) = &args.format {
        let info = client?.info().await?;
        return out(&format!(
            "{}\n",
            Template::parse(f)?.execute(&Val::from(&info))?
        ));
    }
    let mut t = String::from("Client:\n Context:    default\n Debug Mode: false\n\nServer:\n");
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            out(&t)?;
            return Err(e);
        }
    };
    let i = match client.info().await {
        Ok(i) => i,
        Err(e) => {
            out(&t)?;
            return Err(e.into());
        }
    };
    t.push_str(&format!(" Containers: {}\n", n(&i, "Containers")));
    t.push_str(&format!("  Running: {}\n", n(&i, "ContainersRunning")));
    t.push_str(&format!("  Paused: {}\n", n(&i, "ContainersPaused")));
    t.push_str(&format!("  Stopped: {}\n", n(&i, "ContainersStopped")));
    t.push_str(&format!(" Images: {}\n", n(&i, "Images")));
    t.push_str(&format!(" Server Version: {}\n", s(&i, "ServerVersion")));
    t.push_str(&format!(" Storage Driver: {}\n", s(&i, "Driver")));
    if let Some(status) = i.get("DriverStatus").and_then(Value::as_array) {
        for pair in status {
            if let Some([k, v]) = pair.as_array().map(Vec::as_slice) {
                t.push_str(&format!(
                    "  {}: {}\n",
                    k.as_str().unwrap_or(""),
                    v.as_str().unwrap_or("")
                ));
            }
        }
    }
    t.push_str(&format!(" Logging Driver: {}\n", s(&i, "LoggingDriver")));
    t.push_str(&format!(" Cgroup Driver: {}\n", s(&i, "CgroupDriver")));
    t.push_str(&format!(" Cgroup Version: {}\n", s(&i, "CgroupVersion")));
    if let Some(runtimes) = i.get("Runtimes").and_then(Value::as_object) {
        let names: Vec<&str> = runtimes.keys().map(String::as_str).collect();
        t.push_str(&format!(" Runtimes: {}\n", names.join(" ")));
    }
    t.push_str(&format!(" Default Runtime: {}\n", s(&i, "DefaultRuntime")));
    if let Some(opts) = i.get("SecurityOptions").and_then(Value::as_array) {
        t.push_str(" Security Options:\n");
        for o in opts {
            for part in o.as_str().unwrap_or("").split(',') {
                match part.strip_prefix("name=") {
                    Some(name) => t.push_str(&format!("  {name}\n")),
                    None => {
                        let (k, v) = part.split_once('=').unwrap_or((part, ""));
                        let mut k = k.to_string();
                        if let Some(first) = k.get(..1) {
                            k = first.to_uppercase() + &k[1..];
                        }
                        t.push_str(&format!("   {k}: {v}\n"));
                    }
                }
            }
        }
    }
    t.push_str(&format!(" Kernel Version: {}\n", s(&i, "KernelVersion")));
    t.push_str(&format!(
        " Operating System: {}\n",
        s(&i, "OperatingSystem")
    ));
    t.push_str(&format!(" OSType: {}\n", s(&i, "OSType")));
    t.push_str(&format!(" Architecture: {}\n", s(&i, "Architecture")));
    t.push_str(&format!(" CPUs: {}\n", n(&i, "NCPU")));
    t.push_str(&format!(
        " Total Memory: {}\n",
        human_size_binary(n(&i, "MemTotal").max(0) as u64, 4)
    ));
    t.push_str(&format!(" Name: {}\n", s(&i, "Name")));
    t.push_str(&format!(" ID: {}\n", s(&i, "ID")));
    t.push_str(&format!(" Docker Root Dir: {}\n", s(&i, "DockerRootDir")));
    let log = s(&i, "BerthDaemonLog");
    if !log.is_empty() {
        t.push_str(&format!(" Daemon log: {log}\n"));
    }
    t.push_str(&format!(
        " Debug Mode: {}\n",
        i.get("Debug").and_then(Value::as_bool).unwrap_or(false)
    ));
    t.push_str(&format!(
        " Experimental: {}\n",
        i.get("ExperimentalBuild")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    ));
    t.push_str(&format!(
        " Live Restore Enabled: {}\n",
        i.get("LiveRestoreEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    ));
    out(&t)
}
