//! Blobs: streamed downloads verified against their digest and resumed
//! with `Range` after a dropped connection; the push primitives (HEAD,
//! cross-repository mount, chunked and monolithic uploads).

use std::io::{self, Read};
use std::sync::atomic::Ordering;

use berth_spec::digest::{Digest, Hasher};

use crate::error::{RegistryError, Result};
use crate::session::{SendBody, Session};

/// How many times a dropped download is resumed.
const MAX_RESUMES: u32 = 5;

/// A blob being downloaded: `Read` gives its bytes, and the end of the
/// stream is an error unless everything hashed to the digest (and matched
/// the size, when known). `on_progress` sees the byte count so far.
pub struct BlobReader<'s> {
    session: &'s Session,
    digest: Digest,
    size: Option<u64>,
    body: Option<ureq::BodyReader<'static>>,
    hasher: Option<Hasher>,
    read: u64,
    resumes: u32,
    done: bool,
    on_progress: Box<dyn FnMut(u64) + Send + 's>,
}

impl Session {
    /// Start downloading blob `digest` (`size`: from the descriptor, if
    /// known).
    pub fn blob<'s>(
        &'s self,
        digest: &Digest,
        size: Option<u64>,
        on_progress: Box<dyn FnMut(u64) + Send + 's>,
    ) -> Result<BlobReader<'s>> {
        let body = self.open_blob(digest, 0)?;
        Ok(BlobReader {
            session: self,
            digest: digest.clone(),
            size,
            body: Some(body),
            hasher: Some(Hasher::new()),
            read: 0,
            resumes: 0,
            done: false,
            on_progress,
        })
    }

    /// `GET /v2/<name>/blobs/<digest>`, from byte `offset` on.
    fn open_blob(&self, digest: &Digest, offset: u64) -> Result<ureq::BodyReader<'static>> {
        let url = self.url(&format!("blobs/{digest}"));
        let range = format!("bytes={offset}-");
        let headers: Vec<(&str, &str)> = if offset > 0 {
            vec![("Range", range.as_str())]
        } else {
            Vec::new()
        };
        let resp = self.send("GET", &url, &headers, SendBody::Empty)?;
        let status = resp.status().as_u16();
        if offset > 0 && status != 206 {
            return Err(RegistryError::Protocol(format!(
                "resuming blob {digest} at byte {offset}: the registry answered {status} instead of 206"
            )));
        }
        if !(200..300).contains(&status) {
            return Err(Session::status_error(resp));
        }
        Ok(resp.into_body().into_reader())
    }

    /// Fetch a small blob (an image config) into memory, verified.
    pub fn blob_bytes(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let mut r = self.blob(digest, None, Box::new(|_| {}))?;
        let mut out = Vec::new();
        (&mut r).take(max + 1).read_to_end(&mut out)?;
        if out.len() as u64 > max {
            return Err(RegistryError::Protocol(format!(
                "blob {digest} is larger than {max} bytes"
            )));
        }
        Ok(out)
    }
}

impl BlobReader<'_> {
    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        let actual = self.hasher.take().map(Hasher::finish);
        if actual.as_ref() != Some(&self.digest) || self.size.is_some_and(|s| s != self.read) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "filesystem layer verification failed for digest {}",
                    self.digest
                ),
            ));
        }
        Ok(())
    }

    /// Reopen after a dropped connection, at the byte reached.
    fn resume(&mut self, cause: io::Error) -> io::Result<()> {
        if self.resumes >= MAX_RESUMES || self.session.cancel.load(Ordering::Relaxed) {
            return Err(cause);
        }
        self.resumes += 1;
        tracing::debug!(
            "blob {}: resuming at byte {} after: {cause}",
            self.digest,
            self.read
        );
        self.body = None;
        match self.session.open_blob(&self.digest, self.read) {
            Ok(b) => {
                self.body = Some(b);
                Ok(())
            }
            Err(_) => Err(cause),
        }
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.session.cancel.load(Ordering::Relaxed) {
                return Err(io::Error::other("operation cancelled"));
            }
            let Some(body) = self.body.as_mut() else {
                return Err(io::Error::other("blob download was abandoned"));
            };
            match body.read(buf) {
                Ok(0) => {
                    if self.size.is_some_and(|s| self.read < s) {
                        let cause = io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("blob {} ended early at byte {}", self.digest, self.read),
                        );
                        self.resume(cause)?;
                        continue;
                    }
                    self.finish()?;
                    return Ok(0);
                }
                Ok(n) => {
                    self.read += n as u64;
                    if self.size.is_some_and(|s| self.read > s) {
                        self.done = true;
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "filesystem layer verification failed for digest {}",
                                self.digest
                            ),
                        ));
                    }
                    if let Some(h) = self.hasher.as_mut() {
                        h.update(&buf[..n]);
                    }
                    (self.on_progress)(self.read);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.resume(e)?,
            }
        }
    }
}

/// The answer to a cross-repository mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// 201: the blob is now in this repository.
    Mounted,
    /// 202: the registry opened an upload instead (at this URL).
    Upload(String),
}

impl Session {
    /// `HEAD /v2/<name>/blobs/<digest>`: the blob's size if present.
    pub fn blob_exists(&self, digest: &Digest) -> Result<Option<u64>> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send("HEAD", &url, &[], SendBody::Empty)?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(
                resp.headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
            )),
            404 => Ok(None),
            _ => Err(Session::status_error(resp)),
        }
    }

    /// `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`.
    pub fn mount_blob(&self, digest: &Digest, from: &str) -> Result<Mount> {
        self.add_scope(format!("repository:{from}:pull"));
        let url = format!(
            "{}?mount={}&from={}",
            self.url("blobs/uploads/"),
            crate::session::query_escape(&digest.to_string()),
            crate::session::query_escape(from)
        );
        let resp = self.send("POST", &url, &[], SendBody::Empty)?;
        match resp.status().as_u16() {
            201 => Ok(Mount::Mounted),
            202 => Ok(Mount::Upload(self.location(&resp)?)),
            _ => Err(Session::status_error(resp)),
        }
    }

    /// `POST /v2/<name>/blobs/uploads/`: a new upload session's URL.
    pub fn start_upload(&self) -> Result<String> {
        let url = self.url("blobs/uploads/");
        let resp = self.send("POST", &url, &[], SendBody::Empty)?;
        if resp.status().as_u16() != 202 {
            return Err(Session::status_error(resp));
        }
        self.location(&resp)
    }

    fn location(&self, resp: &ureq::http::Response<ureq::Body>) -> Result<String> {
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::Protocol("upload answer without Location".into()))?;
        Ok(self.absolute(loc))
    }

    /// Stream `data` to an upload with one `PATCH` (length unknown: chunked
    /// transfer encoding), then close it with `PUT ?digest=`, as Docker
    /// uploads. `digest` is called after the stream ended (the caller hashed
    /// what it sent).
    pub fn upload_streamed(
        &self,
        location: &str,
        data: &mut dyn Read,
        digest: &mut dyn FnMut() -> Result<Digest>,
    ) -> Result<Digest> {
        let resp = self.send(
            "PATCH",
            location,
            &[("Content-Type", "application/octet-stream")],
            SendBody::Reader(data, None),
        )?;
        if resp.status().as_u16() != 202 {
            return Err(Session::status_error(resp));
        }
        let next = self.location(&resp)?;
        let d = digest()?;
        self.finish_upload(&next, &d, SendBody::Empty)?;
        Ok(d)
    }

    /// A monolithic upload: `PUT <location>?digest=` with the whole blob.
    pub fn upload_monolithic(&self, location: &str, digest: &Digest, bytes: &[u8]) -> Result<()> {
        self.finish_upload(location, digest, SendBody::Bytes(bytes))
    }

    fn finish_upload(&self, location: &str, digest: &Digest, body: SendBody<'_>) -> Result<()> {
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!(
            "{location}{sep}digest={}",
            crate::session::query_escape(&digest.to_string())
        );
        let resp = self.send(
            "PUT",
            &url,
            &[("Content-Type", "application/octet-stream")],
            body,
        )?;
        if resp.status().as_u16() != 201 {
            return Err(Session::status_error(resp));
        }
        Ok(())
    }
}
