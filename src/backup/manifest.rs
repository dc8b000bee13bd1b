//! A backup's manifest: every file of the backup with its SHA-256 and size, written
//! last (`manifest.json`). A restore checks it first and refuses a backup in which any
//! file differs, is missing or was added, naming the file: a base backup or a WAL
//! segment changed on its way would otherwise be replayed into the ledger's database.
//!
//! The manifest is not signed: it proves the backup is what was written, against
//! damage and careless hands; against someone who rewrites both, the restore's own
//! checks hold (the chain against the signed head, whose signature the ledger key made,
//! and every blob against its hash on the ledger).

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

pub const FILE: &str = "manifest.json";

#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{FILE} does not read: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("{path}: {what}")]
    Tampered { path: String, what: &'static str },
}

/// Every file under `root` (but the manifest) by its path relative to `root`.
pub fn of(root: &Path) -> Result<BTreeMap<String, Entry>, ManifestError> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    out.remove(FILE);
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) -> Result<(), ManifestError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ManifestError::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        if entry.file_type().map_err(io(&path))?.is_dir() {
            walk(root, &path, out)?;
            continue;
        }
        let mut file = std::fs::File::open(&path).map_err(io(&path))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io(&path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        out.insert(
            name,
            Entry {
                sha256: hex::encode(hasher.finalize()),
                size,
            },
        );
    }
    Ok(())
}

/// Writes the manifest of `root` into it.
pub fn write(root: &Path) -> Result<usize, ManifestError> {
    let files = of(root)?;
    let path = root.join(FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(&files)?)
        .map_err(|source| ManifestError::Io { path, source })?;
    Ok(files.len())
}

/// Checks `root` against its manifest: the first file that differs, is missing or is
/// not listed is named.
pub fn check(root: &Path) -> Result<usize, ManifestError> {
    let path = root.join(FILE);
    let text = std::fs::read(&path).map_err(|source| ManifestError::Io {
        path: path.clone(),
        source,
    })?;
    let listed: BTreeMap<String, Entry> = serde_json::from_slice(&text)?;
    let found = of(root)?;
    for (name, entry) in &listed {
        match found.get(name) {
            None => {
                return Err(ManifestError::Tampered {
                    path: name.clone(),
                    what: "listed in the manifest, missing from the backup",
                });
            }
            Some(file) if file != entry => {
                return Err(ManifestError::Tampered {
                    path: name.clone(),
                    what: "its SHA-256 or size is not the manifest's",
                });
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|name| !listed.contains_key(*name)) {
        return Err(ManifestError::Tampered {
            path: extra.clone(),
            what: "not in the manifest",
        });
    }
    Ok(listed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_missing_or_added_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("wal")).unwrap();
        std::fs::write(dir.path().join("wal/0001"), b"segment").unwrap();
        std::fs::write(dir.path().join("base.tar"), b"base").unwrap();
        assert_eq!(write(dir.path()).unwrap(), 2);
        assert_eq!(check(dir.path()).unwrap(), 2);

        std::fs::write(dir.path().join("wal/0001"), b"segmenT").unwrap();
        let e = check(dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("wal/0001: its SHA-256"), "{e}");
        std::fs::remove_file(dir.path().join("wal/0001")).unwrap();
        assert!(
            check(dir.path())
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
        std::fs::write(dir.path().join("wal/0001"), b"segment").unwrap();
        std::fs::write(dir.path().join("extra"), b"x").unwrap();
        assert!(
            check(dir.path())
                .unwrap_err()
                .to_string()
                .starts_with("extra: not in")
        );
    }
}
