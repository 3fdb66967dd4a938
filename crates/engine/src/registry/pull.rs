//! `docker pull`: resolve the manifest (errors before any output become
//! HTTP errors, as in dockerd), then stream the layers in, several at once,
//! each straight from the socket through sha256 and the decompressor into
//! the store's extractor; register the image with its tag and digest.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_registry::manifest::{self, Parsed, PlatformSpec};
use berth_registry::{Access, AuthConfig, RegistryError, Session};
use berth_spec::api::ProgressMessage;
use berth_spec::digest::Digest;
use berth_spec::image::{Descriptor, ImageConfig, Manifest};
use berth_spec::reference::Reference;
use berth_store::DistributionSource;

use super::errors::pull_error;
use super::short_hex;
use crate::error::{EngineError, Result};
use crate::Engine;

/// Largest image config accepted.
const MAX_CONFIG: u64 = 8 << 20;
/// Least time between two progress messages of one layer.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// What to pull.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// The normalised reference, with a tag or a digest.
    pub reference: Reference,
    /// `--platform`, if given.
    pub platform: Option<PlatformSpec>,
    /// Credentials (`X-Registry-Auth`).
    pub auth: AuthConfig,
}

/// A pull whose manifest is resolved: nothing was written yet.
pub struct PreparedPull {
    req: PullRequest,
    session: Session,
    manifest: Manifest,
    /// The digest of what the reference named (a list's digest for a
    /// multi-platform image): the `RepoDigests` entry.
    digest: Digest,
    max_downloads: usize,
    cancel: Arc<AtomicBool>,
}

/// What a finished pull did.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// The image ID.
    pub id: String,
    /// The reference, familiar form (`busybox:latest`): the ID of
    /// dockerd's `pull` event.
    pub familiar: String,
    /// The repository, familiar form (`busybox`): the event's `name`.
    pub name: String,
}

impl Engine {
    /// Ping the registry, authenticate and resolve the manifest (choosing
    /// the platform in a list). Blocking. `cancel` stops the pull (set it
    /// when the client goes away).
    pub fn prepare_pull(&self, req: PullRequest, cancel: Arc<AtomicBool>) -> Result<PreparedPull> {
        let (registry, settings) = self.registry.get();
        let r = &req.reference;
        let session = registry
            .session(
                r.domain(),
                r.path(),
                &req.auth,
                Access::Pull,
                Arc::clone(&cancel),
            )
            .map_err(|e| pull_error(r, e))?;
        let wanted = match (r.digest(), r.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => berth_spec::reference::DEFAULT_TAG.to_string(),
        };
        let top = session
            .get_manifest(&wanted)
            .map_err(|e| pull_error(r, e))?;
        let platform = req.platform.clone().unwrap_or_else(PlatformSpec::host);
        let manifest = match manifest::parse(&top.bytes, &top.media_type)
            .map_err(|e| pull_error(r, e))?
        {
            Parsed::Image(m) => *m,
            Parsed::Index(idx) => {
                let d = manifest::choose(&idx, &platform).map_err(|e| pull_error(r, e))?;
                let sub = session
                    .get_manifest(&d.digest)
                    .map_err(|e| pull_error(r, e))?;
                match manifest::parse(&sub.bytes, &sub.media_type).map_err(|e| pull_error(r, e))? {
                    Parsed::Image(m) => *m,
                    Parsed::Index(_) => {
                        return Err(EngineError::system(format!(
                            "manifest list {} points to another list",
                            top.digest
                        )))
                    }
                }
            }
        };
        Ok(PreparedPull {
            req,
            session,
            manifest,
            digest: top.digest,
            max_downloads: settings.max_concurrent_downloads.max(1),
            cancel,
        })
    }
}

/// One layer to bring in.
struct Job {
    desc: Descriptor,
    digest: Digest,
    diff_id: Digest,
    short: String,
}

/// Wraps a blob reader and keeps its first error (the registry side of a
/// failure, e.g. a digest mismatch, which the extractor would only report
/// as a broken tar).
struct Recording<R> {
    inner: R,
    first_err: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for Recording<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let mut g = self.first_err.lock().unwrap_or_else(|p| p.into_inner());
            if g.is_none() {
                *g = Some(e.to_string());
            }
        })
    }
}

impl PreparedPull {
    /// The reference being pulled.
    pub fn reference(&self) -> &Reference {
        &self.req.reference
    }

    /// Download and register the image. `emit` gets dockerd's progress
    /// messages (from several threads). Blocking.
    pub fn run(
        self,
        engine: &Engine,
        emit: &(dyn Fn(ProgressMessage) + Sync),
    ) -> Result<PullOutcome> {
        let r = self.req.reference.clone();
        let tag_or_digest = r
            .tag()
            .map(str::to_string)
            .or_else(|| r.digest().map(|d| d.to_string()))
            .unwrap_or_default();
        emit(ProgressMessage::with_id(
            format!("Pulling from {}", r.path()),
            tag_or_digest,
        ));
        let config_digest = Digest::parse(&self.manifest.config.digest)
            .map_err(|e| EngineError::system(format!("invalid config digest: {e}")))?;
        let store = engine.store();
        // As dockerd: an image already in the store needs no layer at all.
        let have_image = store
            .resolve(&config_digest.to_string())
            .is_ok_and(|id| id == config_digest.to_string());
        let config_bytes = match have_image {
            true => store.config_bytes(&config_digest.to_string())?,
            false => self
                .session
                .blob_bytes(&config_digest, MAX_CONFIG)
                .map_err(|e| pull_error(&r, e))?,
        };
        let config = ImageConfig::from_bytes(&config_bytes)
            .map_err(|e| EngineError::system(format!("invalid image config: {e}")))?;
        if let Some(p) = &self.req.platform {
            let actual = PlatformSpec {
                os: config.os.clone(),
                architecture: config.architecture.clone(),
                variant: config.variant.clone(),
            };
            let as_platform = berth_spec::image::Platform {
                os: actual.os.clone(),
                architecture: actual.architecture.clone(),
                variant: actual.variant.clone(),
                os_version: String::new(),
            };
            if !p.matches(&as_platform) {
                return Err(EngineError::not_found(format!(
                    "image with reference {} was found but does not match the specified platform: wanted {}, actual: {}",
                    r.familiar_string(),
                    p.format(),
                    actual.format()
                )));
            }
        }
        let diffs = &config.rootfs.diff_ids;
        if diffs.len() != self.manifest.layers.len() {
            return Err(EngineError::system(format!(
                "invalid image: {} layers in the manifest, {} in the config",
                self.manifest.layers.len(),
                diffs.len()
            )));
        }
        let intake = store.layer_intake();
        let mut jobs: Vec<Job> = Vec::new();
        let layers = if have_image {
            for d in diffs {
                intake.reuse(d);
            }
            &[][..]
        } else {
            &self.manifest.layers[..]
        };
        for (desc, diff_id) in layers.iter().zip(diffs) {
            let digest = Digest::parse(&desc.digest)
                .map_err(|e| EngineError::system(format!("invalid layer digest: {e}")))?;
            let short = short_hex(&desc.digest);
            if jobs.iter().any(|j| j.diff_id == *diff_id) {
                continue; // The same layer twice: brought in once.
            }
            if intake.reuse(diff_id) {
                emit(ProgressMessage::layer("Already exists", &short));
                continue;
            }
            emit(ProgressMessage::layer("Pulling fs layer", &short));
            jobs.push(Job {
                desc: desc.clone(),
                digest,
                diff_id: diff_id.clone(),
                short,
            });
        }
        for j in jobs.iter().skip(self.max_downloads) {
            emit(ProgressMessage::layer("Waiting", &j.short));
        }
        let queue = Mutex::new(jobs.iter().collect::<VecDeque<&Job>>());
        let failure: Mutex<Option<EngineError>> = Mutex::new(None);
        let workers = self.max_downloads.min(jobs.len());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(job) = next else { break };
                    if self.cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Err(e) = self.fetch_layer(&intake, job, emit) {
                        let mut f = failure.lock().unwrap_or_else(|p| p.into_inner());
                        if f.is_none() {
                            *f = Some(e);
                        }
                        // Stop the others.
                        self.cancel.store(true, Ordering::Relaxed);
                        break;
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Err(EngineError::system("operation cancelled"));
        }
        // Duplicated layers (skipped above) are pinned now that they exist.
        for d in diffs {
            intake.reuse(d);
        }
        let digest_ref: Reference =
            Reference::parse_normalized(&format!("{}@{}", r.name(), self.digest))
                .map_err(|e| EngineError::system(e.to_string()))?;
        let reg = intake.register(&config_bytes, &r, Some(&digest_ref))?;
        drop(intake);
        let repository = r.name();
        for (desc, diff_id) in self.manifest.layers.iter().zip(diffs) {
            let _ = store.add_distribution_source(
                diff_id,
                DistributionSource {
                    digest: desc.digest.clone(),
                    media_type: desc.media_type.clone(),
                    size: desc.size,
                    repository: repository.clone(),
                },
            );
        }
        let familiar = r.familiar_string();
        emit(ProgressMessage::status(format!("Digest: {}", self.digest)));
        emit(ProgressMessage::status(if reg.updated {
            format!("Status: Downloaded newer image for {familiar}")
        } else {
            format!("Status: Image is up to date for {familiar}")
        }));
        Ok(PullOutcome {
            id: reg.id,
            familiar,
            name: r.familiar_name(),
        })
    }

    /// Bring one layer in, with its progress messages.
    fn fetch_layer(
        &self,
        intake: &berth_store::LayerIntake<'_>,
        job: &Job,
        emit: &(dyn Fn(ProgressMessage) + Sync),
    ) -> Result<()> {
        let total = u64::try_from(job.desc.size).ok().filter(|s| *s > 0);
        let mut last = Instant::now() - PROGRESS_EVERY;
        let short = job.short.clone();
        let progress = move |n: u64| {
            let done = total.is_some_and(|t| n >= t);
            if done || last.elapsed() >= PROGRESS_EVERY {
                last = Instant::now();
                emit(ProgressMessage::bar(
                    "Downloading",
                    &short,
                    n,
                    total.unwrap_or(0),
                ));
            }
        };
        let reader = self
            .session
            .blob(&job.digest, total, Box::new(progress))
            .map_err(|e| pull_error(&self.req.reference, e))?;
        let first_err = Arc::new(Mutex::new(None));
        let mut rec = Recording {
            inner: reader,
            first_err: Arc::clone(&first_err),
        };
        if let Err(e) = intake.ingest(&mut rec, &job.diff_id) {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(EngineError::system("operation cancelled"));
            }
            // As dockerd, a blob that does not match its digest is reported
            // as such, even when the damage already broke decompression:
            // read the rest to finish the check.
            if first_err
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_none()
            {
                let _ = io::copy(&mut rec, &mut io::sink());
            }
            let blob_err = first_err.lock().unwrap_or_else(|p| p.into_inner()).take();
            return Err(EngineError::system(
                blob_err.unwrap_or_else(|| e.to_string()),
            ));
        }
        let size = total.unwrap_or(0);
        emit(ProgressMessage::layer("Verifying Checksum", &job.short));
        emit(ProgressMessage::layer("Download complete", &job.short));
        emit(ProgressMessage::bar("Extracting", &job.short, size, size));
        emit(ProgressMessage::layer("Pull complete", &job.short));
        Ok(())
    }
}

impl From<RegistryError> for EngineError {
    fn from(e: RegistryError) -> Self {
        EngineError::system(e.to_string())
    }
}
