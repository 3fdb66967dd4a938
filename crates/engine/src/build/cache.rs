//! The build cache (an image whose parent is the current image and whose
//! `container_config` equals the step's is the step's result) and the
//! commits that feed it.

use std::path::{Path, PathBuf};

use berth_spec::api::ContainerConfig;
use berth_store::CommitOptions;

use super::stage::Stage;
use super::Builder;
use crate::blocking;
use crate::error::Result;

fn len_of<T>(v: &Option<Vec<T>>) -> usize {
    v.as_ref().map_or(0, |v| v.len())
}

/// dockerd's cache comparison of two container configs (image/cache):
/// Cmd, Env, Entrypoint, Labels, ExposedPorts, Volumes, User, WorkingDir
/// and the stdio flags; an absent list equals an empty one.
pub(crate) fn same_config(a: &ContainerConfig, b: &ContainerConfig) -> bool {
    let vec_eq = |x: &Option<Vec<String>>, y: &Option<Vec<String>>| {
        len_of(x) == len_of(y) && x.iter().flatten().eq(y.iter().flatten())
    };
    let map_len =
        |m: &Option<std::collections::BTreeMap<String, String>>| m.as_ref().map_or(0, |m| m.len());
    let labels_eq = map_len(&a.labels) == map_len(&b.labels)
        && a.labels.iter().flatten().eq(b.labels.iter().flatten());
    let keys_eq = |x: Option<Vec<&String>>, y: Option<Vec<&String>>| {
        x.unwrap_or_default() == y.unwrap_or_default()
    };
    a.open_stdin == b.open_stdin
        && a.attach_stdout == b.attach_stdout
        && a.attach_stderr == b.attach_stderr
        && a.attach_stdin == b.attach_stdin
        && a.tty == b.tty
        && a.user == b.user
        && a.working_dir == b.working_dir
        && vec_eq(&a.cmd, &b.cmd)
        && vec_eq(&a.env, &b.env)
        && vec_eq(&a.entrypoint, &b.entrypoint)
        && labels_eq
        && keys_eq(
            a.exposed_ports.as_ref().map(|m| m.keys().collect()),
            b.exposed_ports.as_ref().map(|m| m.keys().collect()),
        )
        && keys_eq(
            a.volumes.as_ref().map(|m| m.keys().collect()),
            b.volumes.as_ref().map(|m| m.keys().collect()),
        )
}

/// The images `--cache-from` names (those that resolve; others are ignored, as dockerd does)
/// and all their ancestors.
fn cache_sources(
    store: &berth_store::Store,
    names: &[String],
) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    for name in names {
        let mut next = store.resolve(name).ok();
        while let Some(id) = next.take() {
            if !out.insert(id.clone()) {
                break;
            }
            next = store
                .inspect(&id)
                .ok()
                .map(|i| i.parent)
                .filter(|p| !p.is_empty());
        }
    }
    out
}

impl Builder {
    /// The config a step is cached under: the stage's config with `cmd`.
    pub fn probe_config(&self, s: &Stage, cmd: Vec<String>) -> ContainerConfig {
        let mut c = s.config.clone();
        c.cmd = Some(cmd);
        c.image = s.image_id.clone();
        c.hostname = String::new();
        c
    }

    /// The cached result of a step on the current image, if any (the newest
    /// match, as dockerd picks). Always `None` with `--no-cache`.
    pub async fn probe_cache(&self, s: &Stage, probe: &ContainerConfig) -> Result<Option<String>> {
        if self.opts.no_cache {
            return Ok(None);
        }
        let store = self.engine.store();
        let parent = s.image_id.clone();
        let probe = probe.clone();
        let cache_from = self.opts.cache_from.clone();
        blocking(move || {
            let allowed = (!cache_from.is_empty()).then(|| cache_sources(&store, &cache_from));
            let mut best: Option<(String, String)> = None;
            for (id, cfg) in store.children(&parent)? {
                if allowed.as_ref().is_some_and(|a| !a.contains(&id)) {
                    continue;
                }
                let Some(cc) = &cfg.container_config else {
                    continue;
                };
                // After FROM scratch the candidates are the images without
                // a parent; an imported or loaded one among them never
                // matches, as its container_config is not a step's.
                if same_config(cc, &probe)
                    && best
                        .as_ref()
                        .is_none_or(|(_, created)| cfg.created > *created)
                {
                    best = Some((id, cfg.created.clone()));
                }
            }
            Ok(best.map(|(id, _)| id))
        })
        .await
    }

    /// Commit `upper` (None: no changes) as the step's image on top of the
    /// stage's image; the stage moves to it.
    pub async fn commit_step(
        &self,
        s: &mut Stage,
        upper: Option<PathBuf>,
        probe: ContainerConfig,
        container_id: String,
        exclude: Vec<PathBuf>,
    ) -> Result<()> {
        let mut image_config = s.config.clone();
        image_config.image = s.image_id.clone();
        let opts = CommitOptions {
            container_id: if self.epoch.is_some() {
                String::new()
            } else {
                container_id
            },
            config: probe,
            image_config: Some(image_config),
            author: s.maintainer.clone(),
            created: self.created(),
            exclude,
            clamp_mtime: self.epoch,
            ..CommitOptions::default()
        };
        let store = self.engine.store();
        let parent = s.image_id.clone();
        let upper = upper.unwrap_or_else(|| self.work.join("no-changes"));
        let id = blocking(move || Ok(store.commit(&parent, Path::new(&upper), &opts)?)).await?;
        s.image_id = id;
        Ok(())
    }

    /// Commit a metadata step (no filesystem change) with dockerd's
    /// `#(nop)` command, or take it from the cache. `single` selects the
    /// `["/bin/sh","-c","#(nop) WORKDIR /w"]` form over the
    /// `["/bin/sh","-c","#(nop) ","ENV A=b"]` one.
    pub async fn meta_commit(&mut self, s: &mut Stage, comment: &str, single: bool) -> Result<()> {
        let mut cmd = s.shell();
        if single {
            cmd.push(format!("#(nop) {comment}"));
        } else {
            cmd.push("#(nop) ".into());
            cmd.push(comment.to_string());
        }
        let probe = self.probe_config(s, cmd);
        if let Some(hit) = self.probe_cache(s, &probe).await? {
            self.say(" ---> Using cache\n").await;
            s.image_id = hit;
            return Ok(());
        }
        self.commit_step(s, None, probe, String::new(), Vec::new())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_equals_empty_and_cmd_matters() {
        let a = ContainerConfig {
            cmd: Some(vec!["/bin/sh".into(), "-c".into(), "x".into()]),
            env: Some(vec![]),
            hostname: "abc".into(),
            ..Default::default()
        };
        let mut b = a.clone();
        b.env = None;
        b.hostname = String::new();
        assert!(same_config(&a, &b));
        b.cmd = Some(vec!["/bin/sh".into(), "-c".into(), "y".into()]);
        assert!(!same_config(&a, &b));
        let mut c = a.clone();
        c.labels = Some([("k".to_string(), "v".to_string())].into_iter().collect());
        assert!(!same_config(&a, &c));
    }
}
