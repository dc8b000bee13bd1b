//! The blob store (DESIGN.md §4): ciphertext only, through `object_store`, so a local
//! directory (the default, under the data directory) and an S3-compatible store are the
//! same to the code. Paths name what a blob is (`photos/<user>.sealed`,
//! `records/<sha256 of the ciphertext>`); contents are sealed before they get here.
//!
//! Large blobs are written as multipart uploads on S3 (5 MiB parts, its smallest, two in
//! flight at most) and by one thread per blob on a local directory (`file_writer`, which
//! writes past the page cache where it can, `direct`). They are read back by the thread
//! that decrypts them, as much as it asks for at a time (`reader`: a local file directly
//! from the disk, a chunk ahead), so memory stays bounded whatever the blob's size. So a
//! local blob's bytes go through `std::fs`, not `object_store`; its names, renames,
//! deletes and listings still go through `object_store`. An upload that fails is aborted
//! and leaves nothing; one that succeeds is on stable storage (local writes are fsynced,
//! file and directory) before the ledger names it.

mod direct;
mod file_writer;
mod probe;
mod reader;

use bytes::Bytes;
use file_writer::FileWriter;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{
    ObjectStore, ObjectStoreExt as _, PutPayload, WriteMultipart, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path as StorePath, prefix::PrefixStore,
};
pub use probe::{DiskProbe, probe_disk};
pub use reader::BlobReader;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

const S3_PART: usize = 5 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;

/// Counts a failed operation for `/metrics` (`medchain_blob_store_errors_total`): a full
/// disk or an unreachable S3 shows there before anyone reads a log.
fn counted<T>(op: &'static str, result: Result<T, BlobError>) -> Result<T, BlobError> {
    if result.is_err() {
        metrics::counter!("medchain_blob_store_errors_total", "op" => op).increment(1);
    }
    result
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("MEDCHAIN_BLOB_STORE must be file:///an/absolute/path or s3://bucket[/prefix]: {0}")]
    BadUrl(String),
    #[error("cannot use the blob directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl BlobError {
    /// A remote store's request failed (it is down, unreachable, or answering errors),
    /// as opposed to a refusal about the object itself. Meaningful for S3 only: a local
    /// directory's failures are the disk's (`is_full`) or internal.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, BlobError::Store(object_store::Error::Generic { .. }))
    }

    /// The store has no room left (a full disk or quota: ENOSPC, EDQUOT), wherever in
    /// the chain of causes the file system said so: told apart so an upload can answer
    /// 507 and an operator see it for what it is.
    pub fn is_full(&self) -> bool {
        let no_room = |io: &std::io::Error| {
            io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
                || matches!(io.raw_os_error(), Some(28 | 122))
        };
        // `#[error(transparent)]` hands on the inner error's causes, not the inner error
        // itself: an `Io` is looked at first.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = match self {
            BlobError::Io(io) | BlobError::Directory { source: io, .. } => Some(io),
            BlobError::Store(e) => Some(e),
            BlobError::BadUrl(_) => None,
        };
        while let Some(e) = cause {
            if e.downcast_ref::<std::io::Error>().is_some_and(no_room) {
                return true;
            }
            cause = e.source();
        }
        false
    }
}

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Where blobs go, for the operator.
    pub destination: String,
    /// The directory, when blobs are local files.
    local: Option<PathBuf>,
}

impl BlobStore {
    /// `url`: `file:///path`, or `s3://bucket[/prefix]` configured by the usual `AWS_*`
    /// variables (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`); `None`: `default_dir`.
    pub fn open(url: Option<&str>, default_dir: &Path) -> Result<Self, BlobError> {
        let bad = || BlobError::BadUrl(url.unwrap_or_default().to_owned());
        let dir = match url {
            None => default_dir.to_owned(),
            Some(url) if url.starts_with("s3://") => return Self::s3(url),
            Some(url) => {
                let path = url
                    .strip_prefix("file://")
                    .filter(|p| p.starts_with('/'))
                    .ok_or_else(bad)?;
                path.into()
            }
        };
        std::fs::create_dir_all(&dir).map_err(|source| BlobError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
        // A blob is named on the ledger only once it is written; on a local disk, written
        // means on stable storage (file and directory entry), as S3 promises on completion.
        // Without it a machine crash could leave an acknowledged record without its file.
        let store = LocalFileSystem::new_with_prefix(&dir)?.with_fsync(true);
        Ok(Self {
            store: Arc::new(store),
            destination: format!("directory {}", dir.display()),
            local: Some(dir),
        })
    }

    fn s3(url: &str) -> Result<Self, BlobError> {
        // rustls needs one crypto provider for the process; ring is the one in the tree.
        // A second install (another store, a test) keeps the first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rest = url.strip_prefix("s3://").unwrap_or_default();
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BlobError::BadUrl(url.to_owned()));
        }
        // An outage fails fast: a connection is given 2 s, and a request two retries
        // within 5 s, where the defaults would hold an upload for three minutes.
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(object_store::RetryConfig {
                backoff: object_store::BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: std::time::Duration::from_secs(5),
            })
            .with_config(
                object_store::aws::AmazonS3ConfigKey::Client(
                    object_store::ClientConfigKey::ConnectTimeout,
                ),
                "2s",
            )
            .build()?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(Self {
            store,
            destination: format!("S3 bucket {url}"),
            local: None,
        })
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        let put = self
            .store
            .put(&StorePath::from(path), PutPayload::from(bytes))
            .await;
        counted("put", put.map(|_| ()).map_err(BlobError::from))
    }

    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let got = match self.store.get(&StorePath::from(path)).await {
            Ok(found) => found
                .bytes()
                .await
                .map(|b| Some(b.to_vec()))
                .map_err(Into::into),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        };
        counted("get", got)
    }

    /// Whether the blobs live in a remote object store (S3), whose outages are told
    /// apart from internal errors (503, "try again").
    pub fn is_remote(&self) -> bool {
        self.local.is_none()
    }

    /// The file that holds `path` in a local store, where `LocalFileSystem` keeps it.
    fn local_file(&self, path: &str) -> Option<PathBuf> {
        let dir = self.local.as_ref()?;
        Some(dir.join(StorePath::from(path).as_ref()))
    }

    /// The blob, to be read from a blocking thread; `None` when there is no such blob.
    pub async fn reader(&self, path: &str) -> Result<Option<BlobReader>, BlobError> {
        counted("read", self.open_reader(path).await)
    }

    async fn open_reader(&self, path: &str) -> Result<Option<BlobReader>, BlobError> {
        if let Some(file) = self.local_file(path) {
            return match tokio::task::spawn_blocking(move || BlobReader::open_local(&file)).await {
                Ok(Ok(reader)) => Ok(Some(reader)),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Ok(Err(e)) => Err(e.into()),
                Err(e) => Err(std::io::Error::other(e).into()),
            };
        }
        match self.store.get(&StorePath::from(path)).await {
            Ok(found) => Ok(Some(BlobReader::stream(
                found.into_stream().map_err(BlobError::from).boxed(),
            ))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts writing a large blob at `path`. Write under a name of its own and rename
    /// after `finish`: a local file is there while it is written.
    pub async fn writer(&self, path: &str) -> Result<BlobWriter, BlobError> {
        counted("write", self.open_writer(path).await)
    }

    async fn open_writer(&self, path: &str) -> Result<BlobWriter, BlobError> {
        if let Some(file) = self.local_file(path) {
            return Ok(BlobWriter(Writer::File(FileWriter::start(
                file,
                PARTS_IN_FLIGHT,
            ))));
        }
        let upload = self.store.put_multipart(&StorePath::from(path)).await?;
        Ok(BlobWriter(Writer::Parts(
            WriteMultipart::new_with_chunk_size(upload, S3_PART),
        )))
    }

    /// Moves a blob (staging to its final name).
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let renamed = self
            .store
            .rename(&StorePath::from(from), &StorePath::from(to))
            .await;
        counted("rename", renamed.map_err(BlobError::from))
    }

    /// Removes a blob; a missing one is fine.
    pub async fn delete(&self, path: &str) -> Result<(), BlobError> {
        match self.store.delete(&StorePath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the blobs under `prefix` not written for `idle` (by this machine's clock,
    /// the one that stamps them); returns how many.
    pub async fn remove_idle(
        &self,
        prefix: &str,
        idle: std::time::Duration,
    ) -> Result<usize, BlobError> {
        let before = chrono::Utc::now() - idle;
        let mut removed = 0;
        for (path, written) in self.list(prefix).await? {
            if written < before {
                // One blob that cannot go does not keep the others.
                match self.delete(&path).await {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!(error = %e, "removing an idle blob failed"),
                }
            }
        }
        Ok(removed)
    }

    /// The paths under `prefix`, with when each was last written.
    pub async fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, BlobError> {
        let found: Vec<_> = self
            .store
            .list(Some(&StorePath::from(prefix)))
            .map_ok(|meta| (meta.location.to_string(), meta.last_modified))
            .try_collect()
            .await?;
        Ok(found)
    }
}

/// A blob being written.
pub struct BlobWriter(Writer);

enum Writer {
    Parts(WriteMultipart),
    File(FileWriter),
}

impl BlobWriter {
    /// Adds `bytes` to the blob, without copying them (parts are cut from them); waits
    /// while too many parts are in flight.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), BlobError> {
        let written = match &mut self.0 {
            Writer::Parts(parts) => match parts.wait_for_capacity(PARTS_IN_FLIGHT).await {
                Ok(()) => {
                    parts.put(bytes);
                    Ok(())
                }
                Err(e) => Err(e.into()),
            },
            Writer::File(file) => file.write(bytes).await,
        };
        counted("write", written)
    }

    /// Returns once the blob is complete and durable.
    pub async fn finish(self) -> Result<(), BlobError> {
        let finished = match self.0 {
            Writer::Parts(parts) => parts.finish().await.map(|_| ()).map_err(Into::into),
            Writer::File(file) => file.finish().await,
        };
        counted("finish", finished)
    }

    /// Gives up: what was written so far is removed.
    pub async fn abort(self) {
        match self.0 {
            Writer::Parts(parts) => {
                if let Err(e) = parts.abort().await {
                    tracing::warn!(error = %e, "aborting a blob upload failed");
                }
            }
            Writer::File(file) => file.abort().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[tokio::test]
    async fn only_blobs_idle_for_long_enough_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(None, dir.path()).unwrap();
        store.put("staging/old", b"old".to_vec()).await.unwrap();
        store.put("staging/new", b"new".to_vec()).await.unwrap();
        store.put("kept/old", b"old".to_vec()).await.unwrap();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for old in ["staging/old", "kept/old"] {
            std::fs::File::options()
                .write(true)
                .open(dir.path().join(old))
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        }
        let removed = store
            .remove_idle("staging", Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(removed, 1);
        assert!(!dir.path().join("staging/old").exists());
        assert!(dir.path().join("staging/new").exists());
        assert!(dir.path().join("kept/old").exists());
    }
}
