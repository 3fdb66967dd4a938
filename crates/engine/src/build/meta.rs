//! Metadata instructions: how each changes the image config, and the text
//! dockerd records for it in the history (`ENV A=b`, `CMD ["sh"]`, ...).

use berth_dockerfile::{Command, ShellOrExec};
use berth_spec::api::HealthConfig;

use super::gofmt;
use super::stage::Stage;
use crate::error::{EngineError, Result};
use crate::merge::replace_or_append_env;

/// The argv of a CMD/ENTRYPOINT/RUN: shell form runs through the SHELL.
pub(crate) fn argv(s: &Stage, cmd: &ShellOrExec) -> Vec<String> {
    match cmd {
        ShellOrExec::Shell(line) => {
            let mut v = s.shell();
            v.push(line.clone());
            v
        }
        ShellOrExec::Exec(v) => v.clone(),
    }
}

/// Normalise EXPOSE specs into `port/proto` keys (ranges expanded).
pub(crate) fn exposed_ports(specs: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for spec in specs {
        let (ports, proto) = spec.split_once('/').unwrap_or((spec.as_str(), "tcp"));
        let proto = proto.to_ascii_lowercase();
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(EngineError::invalid(format!("invalid proto: {proto}")));
        }
        // `ip:port` forms are accepted by nat.ParsePortSpecs: keep the port.
        let ports = ports.rsplit(':').next().unwrap_or(ports);
        let bad = || EngineError::invalid(format!("invalid containerPort: {ports}"));
        let (lo, hi) = match ports.split_once('-') {
            Some((a, b)) => (
                a.parse::<u16>().map_err(|_| bad())?,
                b.parse::<u16>().map_err(|_| bad())?,
            ),
            None => {
                let p = ports.parse::<u16>().map_err(|_| bad())?;
                (p, p)
            }
        };
        if hi < lo {
            return Err(EngineError::invalid(format!(
                "invalid range specified for container port: {ports}"
            )));
        }
        for p in lo..=hi {
            out.push(format!("{p}/{proto}"));
        }
    }
    Ok(out)
}

/// Apply a metadata instruction (not RUN, COPY, ADD, ARG, WORKDIR, FROM)
/// to the stage; returns the history text.
pub(crate) fn apply(s: &mut Stage, cmd: Command) -> Result<String> {
    let c = &mut s.config;
    match cmd {
        Command::Env(pairs) => {
            let env = c.env.get_or_insert_with(Vec::new);
            let kvs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            replace_or_append_env(env, &kvs);
            Ok(format!("ENV {}", kvs.join(" ")))
        }
        Command::Label(pairs) => {
            let labels = c.labels.get_or_insert_with(Default::default);
            let mut text = String::from("LABEL");
            for (k, v) in pairs {
                text.push_str(&format!(" {k}={v}"));
                labels.insert(k, v);
            }
            Ok(text)
        }
        Command::Maintainer(m) => {
            s.maintainer = m.clone();
            Ok(format!("MAINTAINER {m}"))
        }
        Command::Cmd(cmd) => {
            let v = argv(s, &cmd);
            s.config.cmd = Some(v.clone());
            s.cmd_set = true;
            Ok(format!("CMD {}", gofmt::quote_slice(&v)))
        }
        Command::Entrypoint(cmd) => {
            let v = argv(s, &cmd);
            s.config.entrypoint = Some(v.clone());
            if !s.cmd_set {
                s.config.cmd = None;
            }
            Ok(format!("ENTRYPOINT {}", gofmt::quote_slice(&v)))
        }
        Command::Expose(specs) => {
            let ports = exposed_ports(&specs)?;
            let map = c.exposed_ports.get_or_insert_with(Default::default);
            for p in ports {
                map.insert(p, Default::default());
            }
            let mut shown = specs.clone();
            shown.sort();
            Ok(format!("EXPOSE {}", shown.join(" ")))
        }
        Command::Volume(vols) => {
            let map = c.volumes.get_or_insert_with(Default::default);
            for v in &vols {
                let v = v.trim();
                if v.is_empty() {
                    return Err(EngineError::invalid(
                        "VOLUME specified can not be an empty string",
                    ));
                }
                map.insert(v.to_string(), Default::default());
            }
            Ok(format!("VOLUME {}", gofmt::v_slice(&vols)))
        }
        Command::User(u) => {
            c.user = u.clone();
            Ok(format!("USER {u}"))
        }
        Command::StopSignal(sig) => {
            crate::parse_signal(&sig)
                .map_err(|_| EngineError::invalid(format!("Invalid signal: {sig}")))?;
            c.stop_signal = sig.clone();
            Ok(format!("STOPSIGNAL {sig}"))
        }
        Command::Shell(v) => {
            c.shell = Some(v.clone());
            Ok(format!("SHELL {}", gofmt::v_slice(&v)))
        }
        Command::Onbuild(expr) => {
            let expr = expr.trim().to_string();
            c.on_build.get_or_insert_with(Vec::new).push(expr.clone());
            Ok(format!("ONBUILD {expr}"))
        }
        Command::Healthcheck(h) => {
            let hc = match h {
                None => HealthConfig {
                    test: Some(vec!["NONE".into()]),
                    ..HealthConfig::default()
                },
                Some(h) => HealthConfig {
                    test: Some(h.test),
                    interval: h.interval_ns,
                    timeout: h.timeout_ns,
                    start_period: h.start_period_ns,
                    retries: h.retries,
                },
            };
            let text = format!("HEALTHCHECK {}", gofmt::healthcheck(&hc));
            c.healthcheck = Some(hc);
            Ok(text)
        }
        other => Err(EngineError::system(format!(
            "internal error: {other:?} is not a metadata instruction"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_label_cmd_entrypoint() {
        let mut s = Stage::default();
        s.config.cmd = Some(vec!["base".into()]);
        let t = apply(&mut s, Command::Env(vec![("A".into(), "b".into())])).unwrap();
        assert_eq!(t, "ENV A=b");
        apply(&mut s, Command::Env(vec![("A".into(), "c".into())])).unwrap();
        assert_eq!(s.config.env, Some(vec!["A=c".to_string()]));
        // ENTRYPOINT without a CMD in this stage drops the inherited CMD.
        let t = apply(
            &mut s,
            Command::Entrypoint(ShellOrExec::Shell("run me".into())),
        )
        .unwrap();
        assert_eq!(t, r#"ENTRYPOINT ["/bin/sh" "-c" "run me"]"#);
        assert_eq!(s.config.cmd, None);
        let t = apply(&mut s, Command::Cmd(ShellOrExec::Exec(vec!["sh".into()]))).unwrap();
        assert_eq!(t, r#"CMD ["sh"]"#);
        apply(
            &mut s,
            Command::Entrypoint(ShellOrExec::Exec(vec!["e".into()])),
        )
        .unwrap();
        assert_eq!(
            s.config.cmd,
            Some(vec!["sh".to_string()]),
            "CMD set in this stage stays"
        );
        let t = apply(&mut s, Command::Label(vec![("x".into(), "y z".into())])).unwrap();
        assert_eq!(t, "LABEL x=y z");
        let t = apply(&mut s, Command::Volume(vec!["/data".into(), "/x".into()])).unwrap();
        assert_eq!(t, "VOLUME [/data /x]");
        let t = apply(
            &mut s,
            Command::Shell(vec!["/bin/bash".into(), "-c".into()]),
        )
        .unwrap();
        assert_eq!(t, "SHELL [/bin/bash -c]");
        assert_eq!(s.shell(), vec!["/bin/bash".to_string(), "-c".to_string()]);
    }

    #[test]
    fn expose_specs() {
        assert_eq!(
            exposed_ports(&["80".into(), "53/udp".into(), "8000-8001".into()]).unwrap(),
            vec!["80/tcp", "53/udp", "8000/tcp", "8001/tcp"]
        );
        assert!(exposed_ports(&["x".into()]).is_err());
    }
}
