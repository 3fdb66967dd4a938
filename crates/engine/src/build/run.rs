//! RUN: a container from the current image runs the command; its upper
//! dir becomes the step's layer.

use std::path::PathBuf;

use berth_dockerfile::{Heredoc, ShellOrExec};
use berth_spec::api::{ContainerConfig, ContainerCreateRequest, HealthConfig, HostConfig};

use super::stage::Stage;
use super::{cancelled_error, meta, short, Builder};
use crate::error::{EngineError, Result};
use crate::lifecycle::WaitCondition;

/// The command a RUN executes, heredocs folded in: a bare `RUN <<EOF` runs
/// the body as the script; otherwise the bodies follow the command line
/// for the shell to read as its own heredocs.
pub(crate) fn run_argv(s: &Stage, cmd: &ShellOrExec, heredocs: &[Heredoc]) -> Vec<String> {
    let ShellOrExec::Shell(line) = cmd else {
        return meta::argv(s, cmd);
    };
    if heredocs.is_empty() {
        return meta::argv(s, cmd);
    }
    let bare = line.trim();
    if heredocs.len() == 1
        && bare.starts_with("<<")
        && bare
            .trim_start_matches(['<', '-'])
            .trim_matches(['"', '\''])
            == heredocs[0].name
    {
        let h = &heredocs[0];
        let body = if h.chomp {
            h.content
                .lines()
                .map(|l| l.trim_start_matches('\t'))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            h.content.clone()
        };
        // A `#!` line picks the interpreter, as BuildKit does.
        if let Some(first) = body.lines().next().and_then(|l| l.strip_prefix("#!")) {
            let mut v: Vec<String> = first.split_whitespace().map(|w| w.to_string()).collect();
            if !v.is_empty() {
                v.push("-c".into());
                v.push(body.clone());
                return v;
            }
        }
        let mut v = s.shell();
        v.push(body);
        return v;
    }
    let mut script = line.clone();
    script.push('\n');
    for h in heredocs {
        script.push_str(&h.content);
        if !h.content.is_empty() && !h.content.ends_with('\n') {
            script.push('\n');
        }
        script.push_str(&h.name);
        script.push('\n');
    }
    let mut v = s.shell();
    v.push(script);
    v
}

/// `|N K=V ... cmd`: the command a RUN is cached and recorded under when
/// build args are in scope.
pub(crate) fn save_cmd(args: &[String], argv: &[String]) -> Vec<String> {
    if args.is_empty() {
        return argv.to_vec();
    }
    let mut v = vec![format!("|{}", args.len())];
    v.extend(args.iter().cloned());
    v.extend(argv.iter().cloned());
    v
}

impl Builder {
    /// RUN.
    pub async fn run_step(
        &mut self,
        s: &mut Stage,
        cmd: ShellOrExec,
        heredocs: Vec<Heredoc>,
        network: Option<String>,
    ) -> Result<()> {
        let argv = run_argv(s, &cmd, &heredocs);
        let args = s.run_args();
        let saved = save_cmd(&args, &argv);
        let mut probe = self.probe_config(s, saved);
        probe.entrypoint = None;
        if let Some(hit) = self.probe_cache(s, &probe).await? {
            self.say(" ---> Using cache\n").await;
            s.image_id = hit;
            return Ok(());
        }
        if s.image_id.is_empty() {
            // FROM scratch with nothing in it yet: there is no program to run.
            let prog = argv.first().cloned().unwrap_or_default();
            return Err(EngineError::invalid(format!(
                "OCI runtime create failed: exec: \"{prog}\": stat {prog}: no such file or directory: unknown"
            )));
        }
        let mut config: ContainerConfig = s.config.clone();
        config.image = s.image_id.clone();
        config.cmd = Some(argv.clone());
        config.entrypoint = Some(Vec::new());
        let mut env = config.env.take().unwrap_or_default();
        env.extend(args.iter().cloned());
        // Proxy variables given as build args reach RUN without an ARG
        // (and stay out of the cache key and history, as in dockerd).
        for name in super::plan::PREDEFINED_ARGS {
            if s.args.contains_key(*name) {
                continue;
            }
            if let Some(Some(v)) = self.opts.build_args.get(*name) {
                env.push(format!("{name}={v}"));
            }
        }
        config.env = Some(env);
        config.healthcheck = Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..HealthConfig::default()
        });
        config.attach_stdout = true;
        config.attach_stderr = true;
        config.hostname = String::new();
        // `Engine::create` maps "" to the default bridge, as dockerd's classic builder.
        let network_mode = network.unwrap_or_else(|| self.opts.network_mode.clone());
        let req = ContainerCreateRequest {
            config,
            host_config: HostConfig {
                network_mode,
                extra_hosts: (!self.opts.extra_hosts.is_empty())
                    .then(|| self.opts.extra_hosts.clone()),
                ..HostConfig::default()
            },
            ..ContainerCreateRequest::default()
        };
        let engine = self.engine.clone();
        let created = engine.create(req, None).await?;
        let id = created.id;
        self.say(format!(" ---> Running in {}\n", short(&id))).await;
        let outcome = self.run_container(&id).await;
        if self.cancelled() {
            // The client went away: the container goes whatever --rm says.
            let _ = engine.kill(&id, Some("KILL")).await;
            if let Err(e) = engine.remove(&id, true, false).await {
                tracing::warn!(id = %id, "removing a cancelled build container: {e}");
            }
            return Err(cancelled_error());
        }
        let failed = !matches!(outcome, Ok(0));
        let result = match outcome {
            Ok(0) => {
                let upper: PathBuf = engine.containers_dir().join(&id).join("upper");
                let exclude = crate::files::MOUNT_PLACEHOLDERS
                    .iter()
                    .map(PathBuf::from)
                    .collect();
                self.commit_step(s, Some(upper), probe, id.clone(), exclude)
                    .await
            }
            Ok(code) => Err(EngineError::invalid(format!(
                "The command '{}' returned a non-zero code: {code}",
                argv.join(" ")
            ))
            .with_code(code)),
            Err(e) => Err(e),
        };
        // Intermediate containers go (after a failure too, unless --rm=false;
        // dockerd prints the line only for a successful step).
        if self.opts.remove || self.opts.force_remove {
            if !failed {
                self.say(format!("Removing intermediate container {}\n", short(&id)))
                    .await;
            }
            if let Err(e) = engine.remove(&id, true, false).await {
                tracing::warn!(id = %id, "removing build container: {e}");
            }
        }
        result
    }

    /// Start container `id`, stream its output to the client, wait for its
    /// exit; returns the exit code. Returns early (the container still
    /// running) when the client goes away.
    async fn run_container(&self, id: &str) -> Result<i64> {
        let engine = self.engine.clone();
        let mut output = engine.attach(id, true, true, false).await?;
        let wait = engine.wait(id, WaitCondition::NextExit)?;
        engine.start(id).await?;
        loop {
            let chunk = tokio::select! {
                c = output.recv() => c,
                _ = self.out.closed() => return Err(cancelled_error()),
            };
            let Some(chunk) = chunk else { break };
            let text = String::from_utf8_lossy(&chunk.data);
            // dockerd colours a build step's stderr red.
            let text = match chunk.stream {
                crate::LogStream::Stderr => format!("\x1b[91m{text}\x1b[0m"),
                crate::LogStream::Stdout => text.into_owned(),
            };
            self.say(text).await;
        }
        let status = tokio::select! {
            s = wait => s,
            _ = self.out.closed() => return Err(cancelled_error()),
        };
        Ok(status.status_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_prefix_the_saved_command() {
        let argv = vec!["/bin/sh".to_string(), "-c".into(), "echo $V".into()];
        assert_eq!(save_cmd(&[], &argv), argv);
        assert_eq!(
            save_cmd(&["V=1".into()], &argv),
            vec!["|1", "V=1", "/bin/sh", "-c", "echo $V"]
        );
    }

    #[test]
    fn heredocs_become_the_script() {
        let s = Stage::default();
        let h = Heredoc {
            name: "EOF".into(),
            content: "echo a\necho b\n".into(),
            expand: true,
            chomp: false,
        };
        let v = run_argv(
            &s,
            &ShellOrExec::Shell("<<EOF".into()),
            std::slice::from_ref(&h),
        );
        assert_eq!(v, vec!["/bin/sh", "-c", "echo a\necho b\n"]);
        let v = run_argv(&s, &ShellOrExec::Shell("cat <<EOF > /x".into()), &[h]);
        assert_eq!(
            v,
            vec!["/bin/sh", "-c", "cat <<EOF > /x\necho a\necho b\nEOF\n"]
        );
    }
}
