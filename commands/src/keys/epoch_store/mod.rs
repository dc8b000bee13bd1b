//! Where epoch keys live (DESIGN.md §11): outside the database, so never in its WAL, its
//! backups or a replica, and where deleting is real. Either a directory, local or one
//! every server process shares (`directory`), or a prefix of an S3 bucket whose
//! versioning is off, checked at start and again before every key is destroyed (`s3`).
//! The names are the same in both: `epoch-00000001.key` per epoch (the epoch key wrapped
//! by the master key) and `derivation-root.key` when the master key is in an HSM.
//!
//! These are blocking calls: callers run them on the blocking pool, or once at start.

mod directory;
mod s3;

use directory::DirectoryStore;
use domain::erasure::EpochNumber;
use s3::S3Store;
pub use s3::S3StoreError;
use std::{io, path::PathBuf};

/// The derivation root's name, beside the epoch keys.
const ROOT: &str = "derivation-root.key";

fn file_name(number: EpochNumber) -> String {
    format!("epoch-{number:08}.key")
}

/// The epoch a stored key's name is for; `None` for anything else in the store.
fn number_of(name: &str) -> Option<EpochNumber> {
    name.strip_prefix("epoch-")?
        .strip_suffix(".key")?
        .parse()
        .ok()
}

#[derive(Debug, Clone)]
pub enum EpochStore {
    Directory(DirectoryStore),
    S3(S3Store),
}

impl EpochStore {
    pub fn directory(dir: impl Into<PathBuf>) -> Self {
        Self::Directory(DirectoryStore::new(dir.into()))
    }

    /// `s3://bucket[/prefix]` (configured by the usual `AWS_*` variables, as the blob
    /// store is), or a directory. An S3 bucket is checked here, blocking: one with
    /// versioning on would keep every destroyed key as an older version, so it is refused.
    pub fn open(location: &str) -> Result<Self, S3StoreError> {
        match location.strip_prefix("s3://") {
            Some(rest) => {
                let store = S3Store::new(rest)?;
                store.check_unversioned()?;
                Ok(Self::S3(store))
            }
            None => Ok(Self::directory(
                location.strip_prefix("file://").unwrap_or(location),
            )),
        }
    }

    /// Where the keys are, for the operator.
    pub fn describe(&self) -> String {
        match self {
            Self::Directory(d) => d.describe(),
            Self::S3(s) => s.describe(),
        }
    }

    /// The local directory, when the keys are in one.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        match self {
            Self::Directory(d) => Some(d.dir()),
            Self::S3(_) => None,
        }
    }

    /// Writes a new epoch's key, durably, before returning. Refuses to replace one.
    pub fn write(&self, number: EpochNumber, stored: &[u8]) -> io::Result<()> {
        match self {
            Self::Directory(d) => d.write(number, stored),
            Self::S3(s) => s.write(number, stored),
        }
    }

    /// The stored (wrapped) key, or `None` when the store has none for that epoch.
    pub fn read(&self, number: EpochNumber) -> io::Result<Option<Vec<u8>>> {
        match self {
            Self::Directory(d) => d.read(number),
            Self::S3(s) => s.read(number),
        }
    }

    /// The epochs the store holds a key for, ascending.
    pub fn list(&self) -> io::Result<Vec<EpochNumber>> {
        match self {
            Self::Directory(d) => d.list(),
            Self::S3(s) => s.list(),
        }
    }

    /// The derivation root sealed by an HSM master key, when there is one.
    pub fn read_root(&self) -> io::Result<Option<Vec<u8>>> {
        match self {
            Self::Directory(d) => d.read_root(),
            Self::S3(s) => s.read_root(),
        }
    }

    /// Writes the sealed derivation root, replacing it whole or not at all.
    pub fn write_root(&self, sealed: &[u8]) -> io::Result<()> {
        match self {
            Self::Directory(d) => d.write_root(sealed),
            Self::S3(s) => s.write_root(sealed),
        }
    }

    /// Replaces epoch `number`'s stored key (moving it under another master key), whole
    /// or not at all.
    pub fn rewrite(&self, number: EpochNumber, stored: &[u8]) -> io::Result<()> {
        match self {
            Self::Directory(d) => d.rewrite(number, stored),
            Self::S3(s) => s.rewrite(number, stored),
        }
    }

    /// Destroys an epoch's key for good. Destroying what is already gone is not an error.
    pub fn destroy(&self, number: EpochNumber) -> io::Result<()> {
        match self {
            Self::Directory(d) => d.destroy(number),
            Self::S3(s) => s.destroy(number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_is_an_epoch() {
        assert_eq!(file_name(7), "epoch-00000007.key");
        assert_eq!(number_of(&file_name(4_000_000_000)), Some(4_000_000_000));
        for other in [ROOT, "epoch-1.new", "epoch-x.key", ".versioning-probe"] {
            assert_eq!(number_of(other), None, "{other}");
        }
    }

    #[test]
    fn a_location_is_a_bucket_or_a_directory() {
        assert_eq!(
            EpochStore::open("/srv/keys").unwrap().local_dir(),
            Some(std::path::Path::new("/srv/keys"))
        );
        assert_eq!(
            EpochStore::open("file:///srv/keys").unwrap().local_dir(),
            Some(std::path::Path::new("/srv/keys"))
        );
        assert!(matches!(
            EpochStore::open("s3://"),
            Err(S3StoreError::BadLocation(_))
        ));
    }
}
