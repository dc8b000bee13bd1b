//! The epoch store in a directory, local or one every server process shares: one file per
//! epoch, `epoch-00000001.key`, holding the epoch key wrapped by the master key (60
//! bytes), created 0600 in a 0700 directory.
//!
//! Destroying an epoch key overwrites the file's bytes, syncs them, unlinks the file and
//! syncs the directory, so neither the name nor the bytes survive a crash. (On a
//! copy-on-write or log-structured file system, or an SSD that remaps blocks, the old
//! blocks may linger below the file system; the README says so, and the key is useless
//! without the master key anyway.)

use domain::erasure::EpochNumber;
use std::{
    fs::{self, File, OpenOptions},
    io::{self, ErrorKind, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use super::ROOT;

#[derive(Debug, Clone)]
pub struct DirectoryStore {
    dir: PathBuf,
}

impl DirectoryStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, number: EpochNumber) -> PathBuf {
        self.dir.join(super::file_name(number))
    }

    /// Writes a new epoch's key and makes it durable (file and directory synced) before
    /// returning. Refuses to replace an existing one.
    pub fn write(&self, number: EpochNumber, stored: &[u8]) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.path(number))?;
        file.write_all(stored)?;
        file.sync_all()?;
        sync_dir(&self.dir)
    }

    /// The stored (wrapped) key, or `None` when the store has none for that epoch.
    pub fn read(&self, number: EpochNumber) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(number)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The epochs the store holds a key for, ascending.
    pub fn list(&self) -> io::Result<Vec<EpochNumber>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut numbers = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            numbers.extend(name.to_str().and_then(super::number_of));
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// The derivation root sealed by an HSM master key (`master_key`), when there is one.
    pub fn read_root(&self) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.dir.join(ROOT)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the sealed derivation root, replacing it whole or not at all.
    pub fn write_root(&self, sealed: &[u8]) -> io::Result<()> {
        self.replace(&self.dir.join(ROOT), sealed)
    }

    /// Replaces epoch `number`'s stored key (moving it under another master key), whole
    /// or not at all.
    pub fn rewrite(&self, number: EpochNumber, stored: &[u8]) -> io::Result<()> {
        self.replace(&self.path(number), stored)
    }

    /// Writes `bytes` beside `path`, syncs, renames over it, syncs the directory.
    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let temporary = path.with_extension("new");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        sync_dir(&self.dir)
    }

    /// Destroys an epoch's key: bytes overwritten and synced, the file unlinked, the
    /// directory synced. Destroying what is already gone is not an error.
    pub fn destroy(&self, number: EpochNumber) -> io::Result<()> {
        let path = self.path(number);
        match OpenOptions::new().write(true).open(&path) {
            Ok(mut file) => {
                let len = file.metadata()?.len() as usize;
                file.write_all(&vec![0u8; len])?;
                file.sync_all()?;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        sync_dir(&self.dir)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_privately_listed_and_destroyed() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirectoryStore::new(dir.path().join("epochs"));
        assert_eq!(store.list().unwrap(), Vec::<u32>::new());
        assert_eq!(store.read(1).unwrap(), None);
        store.write(1, &[7; 60]).unwrap();
        store.write(2, &[8; 60]).unwrap();
        assert!(store.write(2, &[9; 60]).is_err(), "never replaced");
        assert_eq!(store.list().unwrap(), vec![1, 2]);
        assert_eq!(store.read(2).unwrap(), Some(vec![8; 60]));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.path(1)), 0o600);
        assert_eq!(mode(&dir.path().join("epochs")), 0o700);
        store.destroy(1).unwrap();
        store.destroy(1).unwrap();
        assert_eq!(store.list().unwrap(), vec![2]);
        assert_eq!(store.read(1).unwrap(), None);
    }
}
