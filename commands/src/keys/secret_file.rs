//! Secret files: created with mode 0600 before any byte is written, read back as hex.

use std::{
    fs::OpenOptions,
    io::{ErrorKind, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path} must hold {len} bytes as hex (or raw)")]
    Format { path: PathBuf, len: usize },
}

/// Reads `N` bytes from a file holding them as hex (surrounding whitespace allowed) or raw.
pub fn read<const N: usize>(path: &Path) -> Result<[u8; N], KeyFileError> {
    let bytes = std::fs::read(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let format = || KeyFileError::Format {
        path: path.to_owned(),
        len: N,
    };
    if bytes.len() == N && std::str::from_utf8(&bytes).map_or(true, |s| s.trim().len() != N) {
        return bytes.try_into().map_err(|_| format());
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| format())?.trim();
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| format())?;
    Ok(out)
}

/// Reads the file, or creates it (0600, hex) with `fresh()` when it does not exist.
/// Returns the bytes and whether the file was created.
pub fn read_or_create<const N: usize>(
    path: &Path,
    fresh: impl FnOnce() -> [u8; N],
) -> Result<([u8; N], bool), KeyFileError> {
    match read(path) {
        Ok(bytes) => return Ok((bytes, false)),
        Err(KeyFileError::Read { source, .. }) if source.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let create = |source| KeyFileError::Create {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(create)?;
    }
    let bytes = fresh();
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        // Someone else created it first: theirs wins.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok((read(path)?, false)),
        Err(e) => return Err(create(e)),
    };
    file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())
        .map_err(create)?;
    file.sync_all().map_err(create)?;
    Ok((bytes, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let (a, created) = read_or_create::<32>(&path, || [5; 32]).unwrap();
        assert!(created);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (b, created) = read_or_create::<32>(&path, || [6; 32]).unwrap();
        assert!(!created);
        assert_eq!(a, b);
    }

    #[test]
    fn raw_bytes_and_bad_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw");
        std::fs::write(&path, [0xffu8; 32]).unwrap();
        assert_eq!(read::<32>(&path).unwrap(), [0xff; 32]);
        std::fs::write(&path, "abcd").unwrap();
        assert!(matches!(
            read::<32>(&path),
            Err(KeyFileError::Format { .. })
        ));
    }
}
