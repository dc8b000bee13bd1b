//! The blob store (DESIGN.md §4): ciphertext only, through `object_store`, so a local
//! directory (the default, under the data directory) and an S3-compatible store are the
//! same to the code. Paths name what a blob is (`photos/<user>.sealed`); contents are
//! sealed before they get here.

use object_store::{
    ObjectStore, ObjectStoreExt as _, PutPayload, local::LocalFileSystem, path::Path as StorePath,
};
use std::{path::Path, sync::Arc};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("MEDCHAIN_BLOB_STORE must be file:///an/absolute/path here: {0}")]
    BadUrl(String),
    #[error("cannot use the blob directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Where blobs go, for the operator.
    pub destination: String,
}

impl BlobStore {
    /// `url`: `file:///path`; `None`: `default_dir`.
    pub fn open(url: Option<&str>, default_dir: &Path) -> Result<Self, BlobError> {
        let dir = match url {
            None => default_dir.to_owned(),
            Some(url) => {
                let path = url
                    .strip_prefix("file://")
                    .filter(|p| p.starts_with('/'))
                    .ok_or_else(|| BlobError::BadUrl(url.to_owned()))?;
                path.into()
            }
        };
        std::fs::create_dir_all(&dir).map_err(|source| BlobError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(&dir)?;
        Ok(Self {
            store: Arc::new(store),
            destination: format!("directory {}", dir.display()),
        })
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.store
            .put(&StorePath::from(path), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match self.store.get(&StorePath::from(path)).await {
            Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a blob; a missing one is fine.
    pub async fn delete(&self, path: &str) -> Result<(), BlobError> {
        match self.store.delete(&StorePath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
