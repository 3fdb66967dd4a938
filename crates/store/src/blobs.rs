//! Content-addressed blobs under `blobs/sha256/<hex>`: written through a
//! hashing temp file and verified against the expected digest before they
//! become visible; verified again when read back.

use crate::atomic::{fsync_dir, temp_name};
use crate::error::{IoContext, StoreError};
use berth_spec::digest::{Digest, Hasher};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The path of a blob.
pub(crate) fn blob_path(root: &Path, d: &Digest) -> PathBuf {
    root.join("blobs/sha256").join(d.hex())
}

/// Read a whole (small) blob, verifying its digest.
pub(crate) fn read_blob(root: &Path, d: &Digest) -> Result<Vec<u8>, StoreError> {
    let p = blob_path(root, d);
    let bytes = std::fs::read(&p).ctx("reading blob", &p)?;
    if Digest::of_bytes(&bytes) != *d {
        return Err(StoreError::Corrupt(format!(
            "blob {d} does not match its digest"
        )));
    }
    Ok(bytes)
}

/// Store small bytes as a blob; returns their digest.
pub(crate) fn put_blob(root: &Path, bytes: &[u8]) -> Result<Digest, StoreError> {
    let mut w = BlobWriter::new(root)?;
    w.write_all(bytes).ctx("writing blob", root)?;
    w.commit(None)
}

/// A blob being written: bytes go to a temp file and into a hasher.
pub(crate) struct BlobWriter {
    root: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
    hasher: Hasher,
}

impl BlobWriter {
    /// Start a blob in `root`'s blob directory.
    pub(crate) fn new(root: &Path) -> Result<BlobWriter, StoreError> {
        let dir = root.join("blobs/sha256");
        let tmp = temp_name(&dir, "blob");
        let file = File::create(&tmp).ctx("creating blob temp file", &tmp)?;
        Ok(BlobWriter {
            root: root.to_path_buf(),
            tmp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            hasher: Hasher::new(),
        })
    }

    /// Finish: verify against `expected` (if given), fsync, rename into
    /// place (an existing identical blob is kept), fsync the directory.
    pub(crate) fn commit(mut self, expected: Option<&Digest>) -> Result<Digest, StoreError> {
        let file = self.file.take();
        let hasher = std::mem::take(&mut self.hasher);
        let digest = hasher.finish();
        if let Some(e) = expected {
            if *e != digest {
                return Err(StoreError::BadArchive(format!(
                    "content digest mismatch: expected {e}, got {digest}"
                )));
            }
        }
        let target = blob_path(&self.root, &digest);
        if let Some(f) = file {
            let f = f
                .into_inner()
                .map_err(|e| e.into_error())
                .ctx("writing blob", &self.tmp)?;
            if target.exists() {
                return Ok(digest); // Drop removes the temp file.
            }
            f.sync_all().ctx("syncing blob", &self.tmp)?;
        }
        std::fs::rename(&self.tmp, &target).ctx("renaming blob into place", &target)?;
        if let Some(dir) = target.parent() {
            fsync_dir(dir)?;
        }
        Ok(digest)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob already committed"))?;
        let n = f.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Uncommitted or duplicate: the temp file goes away.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("blobs/sha256")).unwrap();
        d
    }

    #[test]
    fn put_read_verify() {
        let d = root();
        let dg = put_blob(d.path(), b"hello").unwrap();
        assert_eq!(dg, Digest::of_bytes(b"hello"));
        assert_eq!(read_blob(d.path(), &dg).unwrap(), b"hello");
        // Corrupt it: reads fail.
        std::fs::write(blob_path(d.path(), &dg), b"hellO").unwrap();
        assert!(read_blob(d.path(), &dg).is_err());
    }

    #[test]
    fn mismatch_leaves_nothing() {
        let d = root();
        let mut w = BlobWriter::new(d.path()).unwrap();
        w.write_all(b"abc").unwrap();
        assert!(w.commit(Some(&Digest::of_bytes(b"xyz"))).is_err());
        assert_eq!(
            std::fs::read_dir(d.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
    }
}
