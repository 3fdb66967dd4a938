//! The state of the stage being built (dockerd's `dispatchState`), and FROM.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use berth_dockerfile::{Command, Instruction};
use berth_spec::api::{ContainerConfig, ProgressMessage};

use super::{parse_error, short, BuildMessage, Builder};
use crate::blocking;
use crate::error::{EngineError, Result};
use crate::merge::DEFAULT_PATH;

/// The shell of shell-form commands when the image sets none.
pub(crate) const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// A stage in progress.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stage {
    /// The current image (`""` after `FROM scratch` until the first commit).
    pub image_id: String,
    /// The config the next image gets (dockerd's `runConfig`).
    pub config: ContainerConfig,
    /// ARGs declared in this stage, with their values.
    pub args: BTreeMap<String, Option<String>>,
    /// MAINTAINER (the images' author).
    pub maintainer: String,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
}

impl Stage {
    /// The SHELL for shell-form commands.
    pub fn shell(&self) -> Vec<String> {
        match &self.config.shell {
            Some(s) if !s.is_empty() => s.clone(),
            _ => DEFAULT_SHELL.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Variables for expansion: ARG values, overridden by ENV.
    pub fn vars(&self) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = self
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        for kv in self.config.env.iter().flatten() {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            vars.insert(k.to_string(), v.to_string());
        }
        vars
    }

    /// Build args in scope for RUN (`KEY=value`, sorted), leaving out those
    /// an ENV of the same name hides.
    pub fn run_args(&self) -> Vec<String> {
        let env_keys: Vec<&str> = self
            .config
            .env
            .iter()
            .flatten()
            .map(|kv| kv.split_once('=').map(|(k, _)| k).unwrap_or(kv))
            .collect();
        let mut out: Vec<String> = self
            .args
            .iter()
            .filter(|(k, _)| !env_keys.contains(&k.as_str()))
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        out.sort();
        out
    }

    /// The typed instruction, variables expanded with this stage's scope.
    pub fn command(&self, inst: &Instruction, escape: char) -> Result<Command> {
        let vars = self.vars();
        let lookup = |k: &str| vars.get(k).cloned();
        inst.command(escape, &lookup)
            .map_err(|e| parse_error(e.with_line(inst.start_line)))
    }
}

/// Add Docker's default PATH when the config has none.
pub(crate) fn ensure_path(config: &mut ContainerConfig) {
    let env = config.env.get_or_insert_with(Vec::new);
    if !env.iter().any(|kv| kv.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
}

impl Builder {
    /// FROM: start stage `index` from an image, an earlier stage or scratch,
    /// then run the base image's ONBUILD triggers. Prints ` ---> <id>`.
    pub async fn start_stage(&mut self, index: usize, inst: &Instruction) -> Result<Stage> {
        let meta: HashMap<String, String> = self
            .meta_args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        let lookup = |k: &str| meta.get(k).cloned();
        let cmd = inst
            .command(self.escape, &lookup)
            .map_err(|e| parse_error(e.with_line(inst.start_line)))?;
        let Command::From { image, .. } = cmd else {
            return Err(EngineError::invalid(format!(
                "dockerfile parse error line {}: no build stage in current context",
                inst.start_line
            )));
        };
        let mut stage = Stage::default();
        let earlier = self.stage_names[..index.min(self.stage_names.len())]
            .iter()
            .position(|n| n.as_deref() == Some(image.to_ascii_lowercase().as_str()));
        if image.eq_ignore_ascii_case("scratch") {
            ensure_path(&mut stage.config);
            self.say(" ---> \n").await;
            return Ok(stage);
        }
        let id = match earlier.and_then(|j| self.stage_images.get(&j)) {
            Some(id) => id.clone(),
            None => {
                let store = self.engine.store();
                let name = image.clone();
                let local = blocking(move || match store.resolve(&name) {
                    Ok(id) => Ok(Some(id)),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e.into()),
                })
                .await?;
                match local {
                    Some(id) if !self.opts.pull => id,
                    _ => self.pull_base(&image).await?,
                }
            }
        };
        let store = self.engine.store();
        let lookup_id = id.clone();
        let image_config = blocking(move || Ok(store.config(&lookup_id)?)).await?;
        stage.image_id = id;
        stage.config = image_config.config.unwrap_or_default();
        ensure_path(&mut stage.config);
        let triggers = stage.config.on_build.take().unwrap_or_default();
        if !triggers.is_empty() {
            stage.config.on_build = Some(Vec::new());
            let n = triggers.len();
            self.say(format!(
                "# Executing {n} build trigger{}\n",
                if n == 1 { "" } else { "s" }
            ))
            .await;
            for t in triggers {
                let df = berth_dockerfile::parse(&t).map_err(parse_error)?;
                for sub in &df.instructions {
                    match sub.keyword.as_str() {
                        "onbuild" => {
                            return Err(EngineError::invalid(
                                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                            ))
                        }
                        "from" | "maintainer" => {
                            return Err(EngineError::invalid(format!(
                                "{} isn't allowed as an ONBUILD trigger",
                                sub.keyword.to_ascii_uppercase()
                            )))
                        }
                        _ => {}
                    }
                    self.dispatch(&mut stage, sub).await?;
                }
            }
        }
        self.say(format!(" ---> {}\n", short(&stage.image_id)))
            .await;
        Ok(stage)
    }
}

impl Builder {
    /// Pull a FROM image (missing, or `--pull`), its progress in the build
    /// output as dockerd's classic builder shows it. Returns the image ID.
    async fn pull_base(&self, image: &str) -> Result<String> {
        let reference = berth_spec::reference::Reference::parse_normalized_tagged(image)
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        let auth = self.auth_for(reference.domain());
        let engine = Arc::clone(&self.engine);
        let out = self.output();
        blocking(move || {
            let cancel = Arc::new(AtomicBool::new(false));
            let req = crate::PullRequest {
                reference,
                platform: None,
                auth,
            };
            let prepared = engine.prepare_pull(req, Arc::clone(&cancel))?;
            let emit = |m: ProgressMessage| {
                if out.blocking_send(BuildMessage::Progress(m)).is_err() {
                    cancel.store(true, Ordering::Relaxed);
                }
            };
            let done = prepared.run(&engine, &emit)?;
            engine.log_image_event(&done.familiar, &done.name, "pull");
            Ok(done.id)
        })
        .await
    }

    /// The credentials of `X-Registry-Config` for a registry domain.
    fn auth_for(&self, domain: &str) -> berth_registry::AuthConfig {
        let hub = domain == berth_spec::reference::DEFAULT_DOMAIN;
        self.opts
            .registry_auth
            .iter()
            .find(|(server, _)| {
                let host = server
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .split('/')
                    .next()
                    .unwrap_or("");
                host == domain || (hub && (host == "index.docker.io" || host == "docker.io"))
            })
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    }
}
