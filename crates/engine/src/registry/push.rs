//! `docker push`: layers are compressed (gzip) as they are uploaded, unless
//! the registry already has them (`Layer already exists`) or can mount
//! them from another repository (`Mounted from X`); several at once. The
//! compressed digest of every layer is remembered, so that a re-push is
//! all `Layer already exists` and a pulled layer goes back under the digest
//! it came with.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_registry::{Access, AuthConfig, Mount, Session};
use berth_spec::api::ProgressMessage;
use berth_spec::digest::{Digest, Hasher};
use berth_spec::image::{media_type, ImageConfig};
use berth_spec::reference::Reference;
use berth_store::DistributionSource;
use serde::Serialize;

use super::errors::push_error;
use super::short_hex;
use crate::error::{EngineError, Result};
use crate::Engine;

/// Least time between two progress messages of one layer.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// What to push.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The repository (no tag), normalised.
    pub name: Reference,
    /// The tag; `None` pushes every tag of the repository.
    pub tag: Option<String>,
    /// Credentials (`X-Registry-Auth`).
    pub auth: AuthConfig,
}

/// A push whose registry answered: nothing was sent yet.
pub struct PreparedPush {
    req: PushRequest,
    /// `None` when there is nothing to push (`missing` says why).
    session: Option<Session>,
    /// (tag, image ID) to push, in order.
    tags: Vec<(String, String)>,
    /// Why there is nothing to push (no such image, or no such tag of a known repository):
    /// as dockerd, the push starts (`The push refers to repository`), then fails with this.
    missing: Option<String>,
    max_uploads: usize,
    cancel: Arc<AtomicBool>,
}

/// A descriptor with Docker's field order (`mediaType`, `size`, `digest`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Desc {
    media_type: String,
    size: i64,
    digest: String,
}

/// A Docker schema 2 manifest as dockerd writes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Schema2 {
    schema_version: i64,
    media_type: &'static str,
    config: Desc,
    layers: Vec<Desc>,
}

impl Engine {
    /// Find what to push and open the session (blocking). Errors here come
    /// before any output (HTTP errors).
    pub fn prepare_push(&self, req: PushRequest, cancel: Arc<AtomicBool>) -> Result<PreparedPush> {
        let store = self.store();
        let name = req.name.name();
        let all_tags = || -> Result<Vec<(String, String)>> {
            let mut out = Vec::new();
            for s in store.list(true)? {
                for t in s.repo_tags.unwrap_or_default() {
                    let Ok(r) = Reference::parse_normalized(&t) else {
                        continue;
                    };
                    if r.name() == name {
                        if let Some(tag) = r.tag() {
                            out.push((tag.to_string(), s.id.clone()));
                        }
                    }
                }
            }
            out.sort();
            Ok(out)
        };
        let no_such_repository = || {
            format!(
                "An image does not exist locally with the tag: {}",
                req.name.familiar_name()
            )
        };
        let mut missing = None;
        let tags: Vec<(String, String)> = match &req.tag {
            Some(t) => {
                let r = req
                    .name
                    .with_tag(t)
                    .map_err(|e| EngineError::invalid(e.to_string()))?;
                match store.resolve(&r.to_string()) {
                    Ok(id) if store_has_exact_tag(&store, &r) => vec![(t.clone(), id)],
                    _ if !all_tags()?.is_empty() => {
                        missing = Some(format!("tag does not exist: {}", r.familiar_string()));
                        Vec::new()
                    }
                    _ => {
                        missing = Some(no_such_repository());
                        Vec::new()
                    }
                }
            }
            None => {
                let out = all_tags()?;
                if out.is_empty() {
                    missing = Some(no_such_repository());
                }
                out
            }
        };
        let (registry, settings) = self.registry.get();
        let session = if missing.is_some() {
            None
        } else {
            Some(
                registry
                    .session(
                        req.name.domain(),
                        req.name.path(),
                        &req.auth,
                        Access::Push,
                        Arc::clone(&cancel),
                    )
                    .map_err(|e| push_error(&req.name, e))?,
            )
        };
        Ok(PreparedPush {
            req,
            session,
            tags,
            missing,
            max_uploads: settings.max_concurrent_uploads.max(1),
            cancel,
        })
    }
}

/// Whether `r` (a tag reference) is one of the store's tags (not only an
/// ID prefix that happens to resolve).
fn store_has_exact_tag(store: &berth_store::Store, r: &Reference) -> bool {
    store
        .resolve(&r.to_string())
        .ok()
        .and_then(|id| store.repo_tags(&id).ok())
        .is_some_and(|tags| tags.contains(&r.familiar_string()))
}

/// Counts what is read and reports it (throttled).
struct Counting<'a, R> {
    inner: R,
    n: u64,
    last: Instant,
    report: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        if self.last.elapsed() >= PROGRESS_EVERY {
            self.last = Instant::now();
            (self.report)(self.n);
        }
        Ok(k)
    }
}

/// Hashes and counts what is read.
struct Hashing<R> {
    inner: R,
    state: Arc<Mutex<(Hasher, u64)>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.0.update(&buf[..k]);
        st.1 += k as u64;
        Ok(k)
    }
}

impl PreparedPush {
    fn session(&self) -> Result<&Session> {
        self.session
            .as_ref()
            .ok_or_else(|| EngineError::system("push: no registry session"))
    }

    /// Upload the image(s) and their manifests. Blocking.
    pub fn run(self, engine: &Engine, emit: &(dyn Fn(ProgressMessage) + Sync)) -> Result<()> {
        emit(ProgressMessage::status(format!(
            "The push refers to repository [{}]",
            self.req.name.name()
        )));
        if let Some(missing) = &self.missing {
            return Err(EngineError::not_found(missing.clone()));
        }
        for (tag, id) in &self.tags {
            self.push_tag(engine, tag, id, emit)?;
        }
        Ok(())
    }

    fn push_tag(
        &self,
        engine: &Engine,
        tag: &str,
        id: &str,
        emit: &(dyn Fn(ProgressMessage) + Sync),
    ) -> Result<()> {
        let store = engine.store();
        let config_bytes = store.config_bytes(id)?;
        let config = ImageConfig::from_bytes(&config_bytes)
            .map_err(|e| EngineError::system(format!("invalid image config: {e}")))?;
        let diffs = config.rootfs.diff_ids.clone();
        let mut unique: Vec<Digest> = Vec::new();
        for d in &diffs {
            if !unique.contains(d) {
                unique.push(d.clone());
            }
        }
        for d in &unique {
            emit(ProgressMessage::layer("Preparing", short_hex(d.hex())));
        }
        for d in unique.iter().skip(self.max_uploads) {
            emit(ProgressMessage::layer("Waiting", short_hex(d.hex())));
        }
        let results: Mutex<Vec<(Digest, Desc)>> = Mutex::new(Vec::new());
        let failure: Mutex<Option<EngineError>> = Mutex::new(None);
        let queue = Mutex::new(unique.iter().collect::<VecDeque<&Digest>>());
        std::thread::scope(|scope| {
            for _ in 0..self.max_uploads.min(unique.len()) {
                scope.spawn(|| loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(diff) = next else { break };
                    if self.cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    match self.push_layer(engine, diff, emit) {
                        Ok(desc) => results
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((diff.clone(), desc)),
                        Err(e) => {
                            let mut f = failure.lock().unwrap_or_else(|p| p.into_inner());
                            if f.is_none() {
                                *f = Some(e);
                            }
                            self.cancel.store(true, Ordering::Relaxed);
                            break;
                        }
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
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut layers = Vec::new();
        for d in &diffs {
            let desc = results
                .iter()
                .find(|(x, _)| x == d)
                .map(|(_, desc)| desc.clone())
                .ok_or_else(|| EngineError::system(format!("layer {d} was not pushed")))?;
            layers.push(desc);
        }
        // The config blob.
        let config_digest = Digest::of_bytes(&config_bytes);
        let r = &self.req.name;
        let have = self
            .session()?
            .blob_exists(&config_digest)
            .map_err(|e| push_error(r, e))?;
        if have.is_none() {
            let loc = self
                .session()?
                .start_upload()
                .map_err(|e| push_error(r, e))?;
            self.session()?
                .upload_monolithic(&loc, &config_digest, &config_bytes)
                .map_err(|e| push_error(r, e))?;
        }
        let manifest = Schema2 {
            schema_version: 2,
            media_type: media_type::DOCKER_MANIFEST,
            config: Desc {
                media_type: media_type::DOCKER_CONFIG.into(),
                size: config_bytes.len() as i64,
                digest: config_digest.to_string(),
            },
            layers,
        };
        let bytes = to_json_indent3(&manifest)?;
        let digest = self
            .session()?
            .put_manifest(tag, media_type::DOCKER_MANIFEST, &bytes)
            .map_err(|e| push_error(r, e))?;
        if let Ok(dref) = Reference::parse_normalized(&format!("{}@{digest}", r.name())) {
            let _ = store.add_repo_digest(id, &dref);
        }
        emit(ProgressMessage::status(format!(
            "{tag}: digest: {digest} size: {}",
            bytes.len()
        )));
        emit(ProgressMessage {
            progress_detail: Some(Default::default()),
            aux: Some(serde_json::json!({
                "Tag": tag,
                "Digest": digest.to_string(),
                "Size": bytes.len(),
            })),
            ..Default::default()
        });
        Ok(())
    }

    /// One layer: already there, mounted, or compressed and uploaded.
    fn push_layer(
        &self,
        engine: &Engine,
        diff: &Digest,
        emit: &(dyn Fn(ProgressMessage) + Sync),
    ) -> Result<Desc> {
        let store = engine.store();
        let r = &self.req.name;
        let short = short_hex(diff.hex());
        let here = r.name();
        let sources = store.distribution_sources(diff);
        let desc_of = |s: &DistributionSource| Desc {
            media_type: if s.media_type.is_empty() {
                media_type::DOCKER_LAYER_GZIP.into()
            } else {
                s.media_type.clone()
            },
            size: s.size,
            digest: s.digest.clone(),
        };
        // Known in this repository (or anywhere on this registry: a HEAD
        // tells).
        for s in sources
            .iter()
            .filter(|s| registry_of(&s.repository) == r.domain())
        {
            let Ok(d) = Digest::parse(&s.digest) else {
                continue;
            };
            if self
                .session()?
                .blob_exists(&d)
                .map_err(|e| push_error(r, e))?
                .is_some()
            {
                emit(ProgressMessage::layer("Layer already exists", &short));
                self.remember(&store, diff, s, &here);
                return Ok(desc_of(s));
            }
        }
        // Mountable from another repository of the same registry.
        for s in sources
            .iter()
            .filter(|s| registry_of(&s.repository) == r.domain() && s.repository != here)
        {
            let Ok(d) = Digest::parse(&s.digest) else {
                continue;
            };
            let from = path_of(&s.repository);
            match self.session()?.mount_blob(&d, from) {
                Ok(Mount::Mounted) => {
                    // dockerd names the source by its path (`library/busybox`).
                    emit(ProgressMessage::layer(
                        format!("Mounted from {from}"),
                        &short,
                    ));
                    self.remember(&store, diff, s, &here);
                    return Ok(desc_of(s));
                }
                Ok(Mount::Upload(loc)) => return self.upload(&store, diff, &loc, emit),
                Err(e) => tracing::debug!("mount of {d} from {from} failed: {e}"),
            }
        }
        let loc = self
            .session()?
            .start_upload()
            .map_err(|e| push_error(r, e))?;
        self.upload(&store, diff, &loc, emit)
    }

    fn remember(
        &self,
        store: &berth_store::Store,
        diff: &Digest,
        s: &DistributionSource,
        repo: &str,
    ) {
        let _ = store.add_distribution_source(
            diff,
            DistributionSource {
                repository: repo.to_string(),
                ..s.clone()
            },
        );
    }

    /// Compress the layer (gzip) while uploading it.
    fn upload(
        &self,
        store: &berth_store::Store,
        diff: &Digest,
        location: &str,
        emit: &(dyn Fn(ProgressMessage) + Sync),
    ) -> Result<Desc> {
        let r = &self.req.name;
        let short = short_hex(diff.hex());
        let (tar, len) = store.layer_tar(diff)?;
        let report = |n: u64| emit(ProgressMessage::bar("Pushing", &short, n, len));
        let counting = Counting {
            inner: tar,
            n: 0,
            last: Instant::now(),
            report: &report,
        };
        let gz = flate2::read::GzEncoder::new(counting, flate2::Compression::fast());
        let state = Arc::new(Mutex::new((Hasher::new(), 0u64)));
        let mut hashing = Hashing {
            inner: gz,
            state: Arc::clone(&state),
        };
        let mut size: i64 = 0;
        let mut final_digest = || {
            let st = std::mem::replace(
                &mut *state.lock().unwrap_or_else(|p| p.into_inner()),
                (Hasher::new(), 0),
            );
            size = st.1 as i64;
            Ok(st.0.finish())
        };
        let digest = self
            .session()?
            .upload_streamed(location, &mut hashing, &mut final_digest)
            .map_err(|e| push_error(r, e))?;
        drop(hashing);
        report(len);
        emit(ProgressMessage::layer("Pushed", &short));
        let source = DistributionSource {
            digest: digest.to_string(),
            media_type: media_type::DOCKER_LAYER_GZIP.into(),
            size,
            repository: r.name(),
        };
        let _ = store.add_distribution_source(diff, source.clone());
        Ok(Desc {
            media_type: source.media_type,
            size,
            digest: source.digest,
        })
    }
}

/// `127.0.0.1:5000` of `127.0.0.1:5000/library/x`.
fn registry_of(repository: &str) -> &str {
    repository.split('/').next().unwrap_or("")
}

/// `library/x` of `127.0.0.1:5000/library/x`.
fn path_of(repository: &str) -> &str {
    repository
        .split_once('/')
        .map(|(_, p)| p)
        .unwrap_or(repository)
}

/// JSON with three-space indentation, as dockerd writes manifests.
fn to_json_indent3<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)
        .map_err(|e| EngineError::system(format!("encoding manifest: {e}")))?;
    Ok(out)
}
