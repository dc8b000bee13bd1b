//! The epoch store on a prefix of an S3 bucket, for deployments whose processes share no
//! file system. Deleting an object is real only when the bucket keeps no older versions:
//! with versioning on, a "deleted" epoch key would live on as a noncurrent version, and
//! an erasure certificate would say something false. So the bucket is checked at start
//! and again before each key is destroyed: a probe object is written, and a version id on
//! it (other than `null`, what a bucket whose versioning was never enabled or is suspended
//! answers) means versions are kept; the store then refuses. (A suspended bucket deletes
//! a `null` version for real, and every key here is written after the check.)
//!
//! A new epoch key is written with `If-None-Match: *`, so a key is never replaced by a
//! write that raced another; S3 acknowledges a write only once it is durable.
//!
//! The rest of the key code calls the store from blocking threads (the HSM and the file
//! system block too), so this backend keeps that interface: each call runs on a thread of
//! its own, with a single-threaded runtime and a client made for it. Epoch keys are read
//! once per epoch per process and written a few times per rotation, so the cost of a
//! fresh client is nothing next to what sharing a client across runtimes would risk
//! (connections tied to a runtime that is gone).

use super::{ROOT, file_name, number_of};
use domain::erasure::EpochNumber;
use futures::TryStreamExt as _;
use object_store::{
    ObjectStore, ObjectStoreExt as _, PutMode, PutPayload, aws::AmazonS3Builder,
    path::Path as StorePath,
};
use std::{future::Future, io, sync::Arc};

/// Written and deleted to learn whether the bucket keeps versions; holds nothing.
const PROBE: &str = ".versioning-probe";

#[derive(Debug, thiserror::Error)]
pub enum S3StoreError {
    #[error("MEDCHAIN_KEY_EPOCH_STORE must be a directory or s3://bucket[/prefix]: {0}")]
    BadLocation(String),
    #[error("the key epoch store s3://{0}: {1}")]
    Check(String, #[source] io::Error),
}

#[derive(Debug, Clone)]
pub struct S3Store {
    bucket: String,
    /// Without slashes at either end; empty for the bucket's root.
    prefix: String,
    builder: Arc<AmazonS3Builder>,
}

impl S3Store {
    /// `location`: `bucket[/prefix]`, after `s3://`. No I/O.
    pub fn new(location: &str) -> Result<Self, S3StoreError> {
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(S3StoreError::BadLocation(format!("s3://{location}")));
        }
        // rustls needs one crypto provider for the process; ring is the one in the tree.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            builder: Arc::new(AmazonS3Builder::from_env().with_bucket_name(bucket)),
        })
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// Refuses a bucket that keeps older versions of what is deleted.
    pub fn check_unversioned(&self) -> Result<(), S3StoreError> {
        self.unversioned()
            .map_err(|e| S3StoreError::Check(format!("{}/{}", self.bucket, self.prefix), e))
    }

    fn unversioned(&self) -> io::Result<()> {
        let probe = self.path(PROBE);
        let put = self.run(|store| async move {
            let put = store.put(&probe, PutPayload::new()).await?;
            store.delete(&probe).await?;
            Ok(put)
        })?;
        match put.version.as_deref() {
            None | Some("null") => Ok(()),
            Some(_) => Err(io::Error::other(
                "the bucket has versioning enabled, so a deleted epoch key would be kept as \
                 an older version and no erasure could complete; keep epoch keys in a bucket \
                 (or under a prefix of one) that has never had versioning enabled",
            )),
        }
    }

    fn path(&self, name: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(name)
        } else {
            StorePath::from(format!("{}/{name}", self.prefix))
        }
    }

    /// Runs `job` on a thread of its own, against a client made for it.
    fn run<T, F, Fut>(&self, job: F) -> io::Result<T>
    where
        T: Send,
        F: FnOnce(Arc<dyn ObjectStore>) -> Fut + Send,
        Fut: Future<Output = object_store::Result<T>>,
    {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let store: Arc<dyn ObjectStore> =
                        Arc::new(self.builder.as_ref().clone().build().map_err(to_io)?);
                    runtime.block_on(job(store)).map_err(to_io)
                })
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("an S3 call panicked")))
        })
    }

    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let path = self.path(name);
        self.run(|store| async move {
            match store.get(&path).await {
                Ok(got) => Ok(Some(got.bytes().await?.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn put(&self, name: &str, bytes: &[u8], mode: PutMode) -> io::Result<()> {
        let (path, payload) = (self.path(name), PutPayload::from(bytes.to_vec()));
        self.run(|store| async move {
            store.put_opts(&path, payload, mode.into()).await?;
            Ok(())
        })
    }

    pub fn write(&self, number: EpochNumber, stored: &[u8]) -> io::Result<()> {
        self.put(&file_name(number), stored, PutMode::Create)
    }

    pub fn read(&self, number: EpochNumber) -> io::Result<Option<Vec<u8>>> {
        self.get(&file_name(number))
    }

    pub fn list(&self) -> io::Result<Vec<EpochNumber>> {
        let prefix = (!self.prefix.is_empty()).then(|| StorePath::from(self.prefix.as_str()));
        let mut numbers = self.run(|store| async move {
            store
                .list(prefix.as_ref())
                .try_filter_map(
                    |meta| async move { Ok(meta.location.filename().and_then(number_of)) },
                )
                .try_collect::<Vec<_>>()
                .await
        })?;
        numbers.sort_unstable();
        Ok(numbers)
    }

    pub fn read_root(&self) -> io::Result<Option<Vec<u8>>> {
        self.get(ROOT)
    }

    /// One PUT replaces an object whole or not at all.
    pub fn write_root(&self, sealed: &[u8]) -> io::Result<()> {
        self.put(ROOT, sealed, PutMode::Overwrite)
    }

    pub fn rewrite(&self, number: EpochNumber, stored: &[u8]) -> io::Result<()> {
        self.put(&file_name(number), stored, PutMode::Overwrite)
    }

    /// Checks again that the bucket keeps no versions (it may have been changed since
    /// start), then deletes the key. A failed check leaves the key, so the rotation stops
    /// with an error and no erasure is called complete.
    pub fn destroy(&self, number: EpochNumber) -> io::Result<()> {
        self.unversioned()?;
        let path = self.path(&file_name(number));
        self.run(|store| async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }
}

fn to_io(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::AlreadyExists { .. } => {
            io::Error::new(io::ErrorKind::AlreadyExists, e)
        }
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        e => io::Error::other(e),
    }
}
