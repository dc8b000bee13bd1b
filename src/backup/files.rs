//! The files a backup carries beside the database: the blob store's objects (sealed
//! ciphertext) and the key epochs' keys (wrapped by the master key), whether the store is
//! a directory or S3. A backup holds them as directories (`blobs/`, `key-epochs/`); a
//! restore puts them back into whatever store the restored server is configured with.
//!
//! Copies are additive: what the target already holds under a name is left alone
//! (blobs are named by their hash and epoch keys by their number, so one name never
//! holds two contents), and a blob or key deleted meanwhile (an erasure, a rotation)
//! stays in the backup; the restore deletes it again from the journal.

use anyhow::Context as _;
use commands::{blobs::BlobStore, keys::EpochStore};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Where the blobs are: a directory (copied file by file) or an object store.
pub enum Blobs {
    Directory(PathBuf),
    Objects(BlobStore),
}

impl Blobs {
    /// The blob store `serve` has with this setting (`MEDCHAIN_BLOB_STORE`).
    pub fn configured(data_dir: &Path, setting: Option<&str>) -> anyhow::Result<Self> {
        let default = data_dir.join("blobs");
        match setting {
            None => Ok(Self::Directory(default)),
            Some(url) => match url.strip_prefix("file://") {
                Some(path) => Ok(Self::Directory(path.into())),
                None => Ok(Self::Objects(
                    BlobStore::open(Some(url), &default)
                        .with_context(|| format!("opening the blob store {url}"))?,
                )),
            },
        }
    }

    /// The store, to read and delete through.
    pub fn store(&self) -> anyhow::Result<BlobStore> {
        match self {
            Self::Directory(dir) => Ok(BlobStore::open(None, dir)?),
            Self::Objects(store) => Ok(store.clone()),
        }
    }

    /// Copies every blob into the directory `to` (a backup's `blobs/`).
    pub async fn copy_out(&self, to: &Path) -> anyhow::Result<usize> {
        match self {
            Self::Directory(dir) => copy_tree(dir, to),
            Self::Objects(store) => {
                let mut copied = 0;
                for (path, _) in store.list("").await? {
                    let target = to.join(&path);
                    if target.exists() {
                        continue;
                    }
                    // Gone between the listing and the read: erased meanwhile.
                    let Some(bytes) = store.get(&path).await? else {
                        continue;
                    };
                    write_new(&target, &bytes)?;
                    copied += 1;
                }
                Ok(copied)
            }
        }
    }

    /// Puts every blob of the directory `from` (a backup's `blobs/`) into this store.
    pub async fn copy_in(&self, from: &Path) -> anyhow::Result<usize> {
        match self {
            Self::Directory(dir) => copy_tree(from, dir),
            Self::Objects(store) => {
                let present: HashSet<String> =
                    store.list("").await?.into_iter().map(|(p, _)| p).collect();
                let mut copied = 0;
                for relative in files_under(from)? {
                    if present.contains(&relative) {
                        continue;
                    }
                    let bytes = std::fs::read(from.join(&relative))
                        .with_context(|| format!("reading blobs/{relative}"))?;
                    store.put(&relative, bytes).await?;
                    copied += 1;
                }
                Ok(copied)
            }
        }
    }
}

/// Copies every epoch key (and the sealed derivation root, with an HSM master key) from
/// one store into another, through the stores themselves (so a directory and an S3
/// prefix hold them alike). Blocking: the S3 store waits on its requests.
pub fn copy_epochs(from: &EpochStore, to: &EpochStore) -> anyhow::Result<usize> {
    let present: HashSet<_> = to.list()?.into_iter().collect();
    let mut copied = 0;
    for number in from.list()? {
        if present.contains(&number) {
            continue;
        }
        // Destroyed between the listing and the read: a rotation retired it.
        if let Some(stored) = from.read(number)? {
            to.write(number, &stored)
                .with_context(|| format!("writing epoch {number}'s key"))?;
            copied += 1;
        }
    }
    if to.read_root()?.is_none()
        && let Some(root) = from.read_root()?
    {
        to.write_root(&root)?;
    }
    Ok(copied)
}

/// Copies the tree at `from` (if there is one) into `to`, leaving what `to` already
/// holds; returns how many files it copied.
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<usize> {
    if !from.exists() {
        return Ok(0);
    }
    let mut copied = 0;
    for relative in files_under(from)? {
        let target = to.join(&relative);
        if target.exists() {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::copy(from.join(&relative), &target)
            .with_context(|| format!("copying {}", from.join(&relative).display()))?;
        copied += 1;
    }
    Ok(copied)
}

/// The files under `root`, as `/`-separated paths relative to it.
fn files_under(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    if !root.exists() {
        return Ok(found);
    }
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = root.join(&relative);
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            let name = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(name);
            } else {
                found.push(name.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
