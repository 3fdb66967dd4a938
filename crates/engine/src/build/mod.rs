//! `docker build` with Docker's classic builder semantics: a Dockerfile is
//! parsed (berth-dockerfile), its stages are planned, and every instruction
//! becomes an image on top of the previous one, found in the build cache
//! when an identical step already ran on the same parent (same
//! `container_config`, compared as dockerd's image cache does).
//!
//! Output, history lines (`/bin/sh -c #(nop)  ENV A=b`), cache keys
//! (`|1 V=1 /bin/sh -c ...`, `COPY file:<hash> in /dest `) and error
//! messages follow dockerd 20.10. Differences, on purpose:
//! - metadata instructions (ENV, LABEL, ARG, CMD, WORKDIR, ...) are
//!   committed without creating a container (dockerd creates and removes
//!   one, printing `Running in`/`Removing intermediate container`; berth
//!   prints only the resulting ` ---> <id>`);
//! - only the stages the target needs run (as BuildKit does; dockerd's
//!   classic builder runs every stage up to the target);
//! - RUN steps use the default bridge network by default (`--network none`,
//!   `host` or a user network work as asked);
//! - the container of a failed RUN is removed too, unless `--rm=false`;
//! - with the build arg `SOURCE_DATE_EPOCH`, layer times are clamped to
//!   it and images are dated by it, with no container ID or hostname in
//!   them: the same inputs give the same image ID (as BuildKit).
//! - the context is kept as one indexed tar: cache keys, globs, the
//!   Dockerfile and `.dockerignore` come from the index, and only what a
//!   COPY/ADD that misses the cache needs is extracted (see `index`);
//! - a build whose client goes away (the progress receiver is dropped)
//!   stops before its next step, and a running RUN container is killed
//!   and removed at once, whatever `--rm` says.

mod cache;
mod context;
mod copy;
mod fetch;
pub(crate) mod gofmt;
mod index;
mod meta;
mod overlay;
mod plan;
mod run;
mod sources;
mod stage;
mod tree;
mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_dockerfile::{Command, Instruction};
use rand::RngCore;
use tokio::sync::mpsc;

use crate::error::{EngineError, Result};
use crate::{blocking, Engine};

pub(crate) use context::Context;
use stage::Stage;

/// Options of a build (`POST /build` query parameters).
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `-t`: references to tag the result with.
    pub tags: Vec<String>,
    /// Path of the Dockerfile inside the context; `""` means `Dockerfile`.
    pub dockerfile: String,
    /// `--build-arg`s; `None` values are declared without a value.
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--target`: the stage to stop at.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: pull every base image again, even when present.
    pub pull: bool,
    /// Registry credentials (`X-Registry-Config`), by server address
    /// (`127.0.0.1:5000`, `https://index.docker.io/v1/`).
    pub registry_auth: BTreeMap<String, berth_registry::AuthConfig>,
    /// `--label`s added to the final image (one LABEL step each, sorted).
    pub labels: BTreeMap<String, String>,
    /// `--network` of RUN steps: `""`/`"default"` mean the default bridge;
    /// `"host"`, `"none"` or a network name.
    pub network_mode: String,
    /// `--rm` (default true): remove intermediate containers.
    pub remove: bool,
    /// `--force-rm`: remove intermediate containers even after a failure.
    pub force_remove: bool,
    /// `--cache-from`: when given, the only images whose steps may be reused are these and
    /// their ancestors (dockerd's classic builder then ignores the rest of the local cache).
    pub cache_from: Vec<String>,
    /// `--add-host` entries (`host:ip`) of the RUN containers.
    pub extra_hosts: Vec<String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            tags: Vec::new(),
            dockerfile: String::new(),
            build_args: BTreeMap::new(),
            target: None,
            no_cache: false,
            pull: false,
            registry_auth: BTreeMap::new(),
            labels: BTreeMap::new(),
            network_mode: String::new(),
            remove: true,
            force_remove: false,
            cache_from: Vec::new(),
            extra_hosts: Vec::new(),
        }
    }
}

/// One progress message of a build, as the daemon streams them.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildMessage {
    /// Text for the `stream` field (`"Step 1/3 : FROM busybox\n"`).
    Stream(String),
    /// An `aux` object (`{"ID":"sha256:..."}`).
    Aux(serde_json::Value),
    /// A pull's progress message (a FROM that pulls), passed on as is.
    Progress(berth_spec::api::ProgressMessage),
}

/// `<data-root>/build/tmp`: per-build work directories.
fn tmp_root(data_root: &Path) -> PathBuf {
    data_root.join("build").join("tmp")
}

/// Remove what interrupted builds left in `<data-root>/build/tmp` (called
/// when the engine opens). Overlay mounts left by a killed daemon are
/// unmounted first so that nothing below them is touched.
pub(crate) fn clean_tmp(data_root: &Path) {
    let root = tmp_root(data_root);
    let Ok(rd) = std::fs::read_dir(&root) else {
        return;
    };
    for build in rd.flatten() {
        if let Ok(steps) = std::fs::read_dir(build.path()) {
            for step in steps.flatten() {
                for m in ["merged", "from"] {
                    let p = step.path().join(m);
                    if p.is_dir() {
                        let _ = berth_runtime::mount::unmount(&p);
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(build.path());
    }
}

/// A new random hex name.
fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The first 12 hex digits of an image or container ID.
pub(crate) fn short(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

impl Engine {
    /// Build from `context` (a tar stream, plain, gzip, bzip2, xz or zstd, or a bare
    /// Dockerfile when the body is not a tar, as for `docker build - <
    /// Dockerfile`). Sends progress to `out`; returns the image ID
    /// (`sha256:<hex>`). Errors carry Docker's message (and, for a failed
    /// RUN, the exit code in [`EngineError::code`]).
    pub async fn build(
        self: &Arc<Self>,
        opts: BuildOptions,
        context: Box<dyn std::io::Read + Send>,
        out: mpsc::Sender<BuildMessage>,
    ) -> Result<String> {
        let work = tmp_root(&self.cfg.data_root).join(random_hex(8));
        let w = work.clone();
        let name = opts.dockerfile.clone();
        let ctx = blocking(move || context::receive(context, &w, &name)).await;
        let res = match ctx {
            Ok(ctx) => {
                let mut b = Builder::new(Arc::clone(self), opts, ctx, work.clone(), out);
                b.run().await
            }
            Err(e) => Err(e),
        };
        let w = work;
        let _ = blocking(move || {
            clean_work(&w);
            Ok(())
        })
        .await;
        res
    }
}

/// Remove a build's work directory (unmounting anything left mounted).
fn clean_work(work: &Path) {
    if let Ok(steps) = std::fs::read_dir(work) {
        for step in steps.flatten() {
            for m in ["merged", "from"] {
                let p = step.path().join(m);
                if p.is_dir() {
                    let _ = berth_runtime::mount::unmount(&p);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(work);
}

/// One build in progress.
pub(crate) struct Builder {
    pub engine: Arc<Engine>,
    pub opts: BuildOptions,
    pub ctx: Context,
    pub work: PathBuf,
    out: mpsc::Sender<BuildMessage>,
    pub escape: char,
    /// `SOURCE_DATE_EPOCH` (Unix seconds) when given as a build arg.
    pub epoch: Option<i64>,
    /// ARGs declared before the first FROM, with their values.
    pub meta_args: BTreeMap<String, Option<String>>,
    /// Build args some ARG declared.
    pub consumed: BTreeSet<String>,
    step: usize,
    total: usize,
    /// The final image ID of every finished stage, by index.
    pub stage_images: BTreeMap<usize, String>,
    /// Stage names (lower case), by index.
    pub stage_names: Vec<Option<String>>,
    /// Scratch directories handed out so far.
    scratch: usize,
}

impl Builder {
    fn new(
        engine: Arc<Engine>,
        opts: BuildOptions,
        ctx: Context,
        work: PathBuf,
        out: mpsc::Sender<BuildMessage>,
    ) -> Self {
        let epoch = opts
            .build_args
            .get("SOURCE_DATE_EPOCH")
            .and_then(|v| v.as_deref())
            .and_then(|v| v.trim().parse::<i64>().ok());
        Builder {
            engine,
            opts,
            ctx,
            work,
            out,
            escape: '\\',
            epoch,
            meta_args: BTreeMap::new(),
            consumed: BTreeSet::new(),
            step: 0,
            total: 0,
            stage_images: BTreeMap::new(),
            stage_names: Vec::new(),
            scratch: 0,
        }
    }

    /// Whether the client went away (the progress receiver was dropped).
    pub fn cancelled(&self) -> bool {
        self.out.is_closed()
    }

    /// Fail when the client went away.
    fn check_cancelled(&self) -> Result<()> {
        if self.cancelled() {
            Err(cancelled_error())
        } else {
            Ok(())
        }
    }

    /// Send a text line (or several) to the client.
    /// The channel of the build's output (for pulls on blocking threads).
    pub fn output(&self) -> mpsc::Sender<BuildMessage> {
        self.out.clone()
    }

    pub async fn say(&self, text: impl Into<String>) {
        let _ = self.out.send(BuildMessage::Stream(text.into())).await;
    }

    /// A fresh directory under the build's work directory.
    pub fn scratch_dir(&mut self) -> Result<PathBuf> {
        self.scratch += 1;
        let p = self.work.join(format!("step{}", self.scratch));
        std::fs::create_dir_all(&p)
            .map_err(|e| EngineError::io(format!("mkdir {}", p.display()), e))?;
        Ok(p)
    }

    /// `created` for new images: the epoch when reproducible, else now.
    pub fn created(&self) -> Option<String> {
        self.epoch.map(|t| {
            crate::timefmt::rfc3339_nano(
                &chrono::DateTime::from_timestamp(t, 0).unwrap_or_default(),
            )
        })
    }

    async fn run(&mut self) -> Result<String> {
        let df = berth_dockerfile::parse(&self.ctx.dockerfile).map_err(parse_error)?;
        self.escape = df.escape;
        for w in &df.warnings {
            self.say(format!("[WARNING]: {w}\n")).await;
        }
        let plan = plan::plan(&df, self.opts.target.as_deref(), &self.opts)?;
        self.stage_names = plan.stages.iter().map(|s| s.name.clone()).collect();
        self.meta_args = plan.meta_args.clone();
        for k in plan.meta_args.keys() {
            self.consumed.insert(k.clone());
        }
        self.total = plan
            .run
            .iter()
            .map(|&i| plan.stages[i].instructions.len())
            .sum::<usize>()
            + self.opts.labels.len()
            + plan.meta.len();
        // dockerd prints the ARGs before the first FROM as steps of their own.
        for inst in &plan.meta {
            self.step += 1;
            self.say(format!(
                "Step {}/{} : {}\n",
                self.step, self.total, inst.original
            ))
            .await;
        }
        let last = plan.run.last().copied().unwrap_or(0);
        let mut final_id = String::new();
        for &i in &plan.run {
            let labels: Vec<(String, String)> = if i == last {
                self.opts.labels.clone().into_iter().collect()
            } else {
                Vec::new()
            };
            let instrs = plan.stages[i].instructions.clone();
            let id = self.run_stage(i, &instrs, &labels).await?;
            self.stage_images.insert(i, id.clone());
            final_id = id;
        }
        if final_id.is_empty() {
            // FROM scratch and nothing else: dockerd refuses too.
            return Err(EngineError::invalid(
                "No image was generated. Is your Dockerfile empty?",
            ));
        }
        let unused: Vec<&String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.consumed.contains(*k) && *k != "SOURCE_DATE_EPOCH")
            .filter(|k| !plan::PREDEFINED_ARGS.contains(&k.as_str()))
            .collect();
        if !unused.is_empty() {
            let names: Vec<String> = unused.iter().map(|s| s.to_string()).collect();
            self.say(format!(
                "[Warning] One or more build-args [{}] were not consumed\n",
                names.join(" ")
            ))
            .await;
        }
        let _ = self
            .out
            .send(BuildMessage::Aux(serde_json::json!({ "ID": final_id })))
            .await;
        self.say(format!("Successfully built {}\n", short(&final_id)))
            .await;
        for t in self.opts.tags.clone() {
            let store = self.engine.store();
            let (id, tag) = (final_id.clone(), t.clone());
            blocking(move || Ok(store.tag(&id, &tag)?)).await?;
            self.engine.log_tag(&final_id, &t);
            let shown = berth_spec::reference::Reference::parse_normalized_tagged(&t)
                .map(|r| r.familiar_string())
                .unwrap_or(t);
            self.say(format!("Successfully tagged {shown}\n")).await;
        }
        Ok(final_id)
    }

    /// Run the instructions of stage `index` (FROM first); returns its image ID.
    async fn run_stage(
        &mut self,
        index: usize,
        instrs: &[Instruction],
        labels: &[(String, String)],
    ) -> Result<String> {
        let mut stage: Option<Stage> = None;
        for inst in instrs {
            self.check_cancelled()?;
            self.step += 1;
            self.say(format!(
                "Step {}/{} : {}\n",
                self.step, self.total, inst.original
            ))
            .await;
            match stage.as_mut() {
                None => {
                    let s = self.start_stage(index, inst).await?;
                    stage = Some(s);
                }
                Some(s) => {
                    self.dispatch(s, inst).await?;
                    self.say(format!(" ---> {}\n", short(&s.image_id))).await;
                }
            }
        }
        if let Some(s) = stage.as_mut() {
            // `--label`s: one LABEL step each, values taken literally.
            for (k, v) in labels {
                self.step += 1;
                self.say(format!(
                    "Step {}/{} : LABEL {k}={v}\n",
                    self.step, self.total
                ))
                .await;
                let comment = meta::apply(s, Command::Label(vec![(k.clone(), v.clone())]))?;
                self.meta_commit(s, &comment, false).await?;
                self.say(format!(" ---> {}\n", short(&s.image_id))).await;
            }
        }
        Ok(stage.map(|s| s.image_id).unwrap_or_default())
    }

    /// Run one instruction of a stage (not FROM). Prints everything but the
    /// final ` ---> <id>` line.
    pub async fn dispatch(&mut self, s: &mut Stage, inst: &Instruction) -> Result<()> {
        let cmd = s.command(inst, self.escape)?;
        match cmd {
            Command::From { .. } => Err(EngineError::invalid(
                "FROM can only appear at the start of a stage",
            )),
            Command::Run {
                cmd,
                heredocs,
                network,
                ..
            } => self.run_step(s, cmd, heredocs, network).await,
            Command::Copy {
                srcs,
                dest,
                from,
                chown,
                chmod,
                heredocs,
                ..
            } => {
                let req = copy::CopyRequest {
                    add: false,
                    srcs,
                    dest,
                    from,
                    chown,
                    chmod,
                    heredocs,
                };
                self.copy_step(s, req).await
            }
            Command::Add {
                srcs,
                dest,
                chown,
                chmod,
                heredocs,
            } => {
                let req = copy::CopyRequest {
                    add: true,
                    srcs,
                    dest,
                    from: None,
                    chown,
                    chmod,
                    heredocs,
                };
                self.copy_step(s, req).await
            }
            Command::Arg(pairs) => {
                let comment = self.declare_args(s, &pairs);
                self.meta_commit(s, &comment, false).await
            }
            Command::Workdir(dir) => self.workdir_step(s, &dir).await,
            other => {
                if let Command::Healthcheck(_) = other {
                    let old = s.config.healthcheck.as_ref().and_then(|h| h.test.clone());
                    if let Some(old) = old.filter(|t| t.first().is_some_and(|c| c != "NONE")) {
                        self.say(format!(
                            "Note: overriding previous HEALTHCHECK: {}\n",
                            gofmt::v_slice(&old)
                        ))
                        .await;
                    }
                }
                let comment = meta::apply(s, other)?;
                self.meta_commit(s, &comment, false).await
            }
        }
    }

    /// `ARG`: record the declarations and their values; returns the history text.
    fn declare_args(&mut self, s: &mut Stage, pairs: &[(String, Option<String>)]) -> String {
        let mut parts = Vec::new();
        for (name, default) in pairs {
            let value = match self.opts.build_args.get(name) {
                Some(Some(v)) => Some(v.clone()),
                _ => match default {
                    Some(d) => Some(d.clone()),
                    None => self.meta_args.get(name).cloned().flatten(),
                },
            };
            if self.opts.build_args.contains_key(name) {
                self.consumed.insert(name.clone());
            }
            s.args.insert(name.clone(), value);
            parts.push(match default {
                Some(d) => format!("{name}={d}"),
                None => name.clone(),
            });
        }
        format!("ARG {}", parts.join(" "))
    }
}

/// The error of a build whose client went away.
pub(crate) fn cancelled_error() -> EngineError {
    EngineError::invalid("the build was cancelled: the client disconnected")
}

/// A parser error in dockerd's words.
pub(crate) fn parse_error(e: berth_dockerfile::Error) -> EngineError {
    if e.message == "file with no instructions" {
        return EngineError::invalid("failed to parse Dockerfile: file with no instructions");
    }
    match e.line {
        Some(l) => EngineError::invalid(format!("dockerfile parse error line {l}: {}", e.message)),
        None => EngineError::invalid(e.message),
    }
}
