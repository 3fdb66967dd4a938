//! How a create request and its image's config combine, as dockerd merges them.

use berth_spec::api::ContainerConfig;

use crate::error::{EngineError, Result};

/// Docker's default `PATH` for Linux containers.
pub use berth_runtime::shim::DEFAULT_PATH;

fn env_key(kv: &str) -> &str {
    kv.split_once('=').map(|(k, _)| k).unwrap_or(kv)
}

/// Merge the image's config into the user's, as dockerd's `merge` does:
/// user values win; Env is the user's followed by the image's keys the user
/// did not set; Cmd and Entrypoint come from the image only when the user
/// gave no Entrypoint (an explicit empty Entrypoint clears the image's).
pub fn merge_config(user: &mut ContainerConfig, image: &ContainerConfig) {
    if user.user.is_empty() {
        user.user = image.user.clone();
    }
    if let Some(img_ports) = &image.exposed_ports {
        let ports = user.exposed_ports.get_or_insert_with(Default::default);
        for (k, v) in img_ports {
            ports.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    match (&mut user.env, &image.env) {
        (Some(uenv), Some(ienv)) if !uenv.is_empty() => {
            for ie in ienv {
                let key = env_key(ie);
                if !uenv.iter().any(|ue| env_key(ue) == key) {
                    uenv.push(ie.clone());
                }
            }
        }
        (_, ienv) => {
            if user.env.as_ref().is_none_or(|e| e.is_empty()) {
                user.env = ienv.clone();
            }
        }
    }
    if let Some(ilabels) = &image.labels {
        let labels = user.labels.get_or_insert_with(Default::default);
        for (k, v) in ilabels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let user_entrypoint_empty = user.entrypoint.as_ref().is_none_or(|e| e.is_empty());
    if user_entrypoint_empty {
        if user.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            user.cmd = image.cmd.clone();
            user.args_escaped = image.args_escaped;
        }
        if user.entrypoint.is_none() {
            user.entrypoint = image.entrypoint.clone();
        }
    }
    if user.working_dir.is_empty() {
        user.working_dir = image.working_dir.clone();
    }
    if let Some(ivol) = &image.volumes {
        let vols = user.volumes.get_or_insert_with(Default::default);
        for (k, v) in ivol {
            vols.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if user.stop_signal.is_empty() {
        user.stop_signal = image.stop_signal.clone();
    }
    crate::health::config::merge(&mut user.healthcheck, image.healthcheck.as_ref());
    if user.on_build.is_none() {
        user.on_build = image.on_build.clone();
    }
    if user.shell.is_none() {
        user.shell = image.shell.clone();
    }
}

/// The process to run: `(path, args)` from Entrypoint + Cmd; "No command specified" when empty.
pub fn entrypoint_and_args(config: &ContainerConfig) -> Result<(String, Vec<String>)> {
    let mut all: Vec<String> = Vec::new();
    if let Some(ep) = &config.entrypoint {
        all.extend(ep.iter().cloned());
    }
    if let Some(cmd) = &config.cmd {
        all.extend(cmd.iter().cloned());
    }
    if all.is_empty() {
        return Err(EngineError::invalid("No command specified"));
    }
    let path = all.remove(0);
    Ok((path, all))
}

/// Replace-or-append `extra` (`KEY=value`) onto `base`, keeping `base`'s order.
pub fn replace_or_append_env(base: &mut Vec<String>, extra: &[String]) {
    for e in extra {
        let key = env_key(e);
        if let Some(slot) = base.iter_mut().find(|b| env_key(b) == key) {
            slot.clone_from(e);
        } else {
            base.push(e.clone());
        }
    }
}

/// The environment the container's process gets: Docker's default PATH,
/// HOSTNAME, then the config's Env replacing or appending.
pub fn runtime_env(config: &ContainerConfig) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", config.hostname),
    ];
    if config.tty {
        env.push("TERM=xterm".into());
    }
    if let Some(cenv) = &config.env {
        replace_or_append_env(&mut env, cenv);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn user_cmd_replaces_image_cmd_but_keeps_entrypoint() {
        let image = ContainerConfig {
            entrypoint: v(&["/bin/sh", "-c"]),
            cmd: v(&["echo image"]),
            ..Default::default()
        };
        let mut user = ContainerConfig {
            cmd: v(&["echo user"]),
            ..Default::default()
        };
        merge_config(&mut user, &image);
        assert_eq!(user.entrypoint, v(&["/bin/sh", "-c"]));
        assert_eq!(user.cmd, v(&["echo user"]));
        let (p, a) = entrypoint_and_args(&user).unwrap();
        assert_eq!(p, "/bin/sh");
        assert_eq!(a, vec!["-c", "echo user"]);
    }

    #[test]
    fn user_entrypoint_drops_image_cmd_and_empty_entrypoint_clears() {
        let image = ContainerConfig {
            entrypoint: v(&["/entry"]),
            cmd: v(&["arg"]),
            ..Default::default()
        };
        let mut user = ContainerConfig {
            entrypoint: v(&["/other"]),
            ..Default::default()
        };
        merge_config(&mut user, &image);
        assert_eq!(user.cmd, None);
        let mut cleared = ContainerConfig {
            entrypoint: Some(vec![]),
            ..Default::default()
        };
        merge_config(&mut cleared, &image);
        assert_eq!(cleared.entrypoint, Some(vec![]));
        assert_eq!(cleared.cmd, v(&["arg"]));
        let empty = ContainerConfig::default();
        assert_eq!(
            entrypoint_and_args(&empty).unwrap_err().message,
            "No command specified"
        );
    }

    #[test]
    fn env_merges_by_key_user_first() {
        let image = ContainerConfig {
            env: v(&["PATH=/img", "A=1", "B=2"]),
            ..Default::default()
        };
        let mut user = ContainerConfig {
            env: v(&["B=user", "C=3"]),
            ..Default::default()
        };
        merge_config(&mut user, &image);
        assert_eq!(user.env, v(&["B=user", "C=3", "PATH=/img", "A=1"]));
        let mut none = ContainerConfig::default();
        merge_config(&mut none, &image);
        assert_eq!(none.env, image.env);
    }

    #[test]
    fn runtime_env_has_default_path_and_hostname() {
        let c = ContainerConfig {
            hostname: "abc".into(),
            env: v(&["X=1"]),
            ..Default::default()
        };
        assert_eq!(
            runtime_env(&c),
            vec![
                format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=abc".into(),
                "X=1".into()
            ]
        );
        let c = ContainerConfig {
            hostname: "h".into(),
            env: v(&["PATH=/p"]),
            ..Default::default()
        };
        assert_eq!(
            runtime_env(&c),
            vec!["PATH=/p".to_string(), "HOSTNAME=h".into()]
        );
    }
}
