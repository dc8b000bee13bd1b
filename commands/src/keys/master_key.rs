//! The master key (DESIGN.md §4, §11): 32 random bytes in a file outside the database
//! (0600), or an AES key inside a hardware security module (`hsm`) that never lets it out.
//! It wraps the epoch keys; the keys derived from it (the blind index, the snapshots'
//! MAC, the rate limits' names) come from its derivation root.
//!
//! With a key file, the root is the file's bytes. With an HSM, the root is 32 bytes kept
//! sealed by the module's key beside the epoch keys (`derivation-root.key`); moving a
//! deployment from its file to an HSM (`medchain keys move-to-hsm`) seals the old file's
//! bytes as the root, so every derived key, and so every sign-in, stays the same.
//!
//! The root's bytes are never used directly: each purpose gets its own sub-key through
//! HKDF-SHA256 with a distinct info string, so a blind index can never be confused with,
//! or help to attack, a key wrap. The list of purposes lives here, in one place, so two
//! purposes cannot end up sharing an info string.

use super::epoch_store::EpochStore;
use super::hsm::{Hsm, HsmError};
use super::secret_file::{self, KeyFileError};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use std::{fmt, path::Path, sync::Arc};

pub struct MasterKey {
    /// What the sub-keys are derived from: the key file's bytes, or the root the HSM
    /// keeps sealed.
    root: [u8; 32],
    /// The HSM holding the master key itself, when it is there.
    hsm: Option<Arc<Hsm>>,
}

/// The associated data the HSM seals the derivation root with.
const ROOT_AD: &[u8] = b"medchain derivation root v1";

#[derive(Debug, thiserror::Error)]
pub enum HsmRootError {
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error("the epoch store: {0}")]
    Store(#[source] std::io::Error),
    #[error(
        "the epoch store {0} holds epoch keys but no derivation root sealed by the HSM: \
         they are wrapped by a master key file; move them with `medchain keys move-to-hsm`"
    )]
    NotMoved(String),
}

/// What a derived sub-key is for. Each has its own HKDF info string; adding a purpose
/// means adding a string here, never reusing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Wrapped (AES-256-GCM) the per-person subject keys kept in `subject_keys` before
    /// key epochs; now only reads such rows, until the first start moves them.
    SubjectKeyWrap,
    /// Keys the HMAC-SHA256 blind index of e-mail addresses.
    BlindIndex,
    /// Keys the HMAC-SHA256 that binds a kernel snapshot to its stream and version.
    SnapshotMac,
    /// Keys the HMAC-SHA256 that names a rate limit's subject (an address, an account).
    RateLimit,
    /// Wraps (AES-256-GCM) the key-epoch keys kept in the epoch store.
    EpochKeyWrap,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Self::SubjectKeyWrap => b"medchain subject key wrap v1",
            Self::BlindIndex => b"medchain blind index v1",
            Self::SnapshotMac => b"medchain snapshot mac v1",
            Self::RateLimit => b"medchain rate limit v1",
            Self::EpochKeyWrap => b"medchain epoch key wrap v1",
        }
    }
}

impl MasterKey {
    /// Loads the key from `path`, creating a new random one there (0600, hex) if it does
    /// not exist. Returns whether it was created, so the caller can say so: a new master
    /// key means nothing sealed under an earlier one can be read.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyFileError> {
        let (bytes, created) = secret_file::read_or_create::<32>(path, random_bytes)?;
        if created {
            tracing::warn!(
                path = %path.display(),
                "created a new master key; back it up, without it no sealed data can be read"
            );
        }
        Ok((Self::from_bytes(bytes), created))
    }

    /// Loads an existing key; never creates one.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        Ok(Self::from_bytes(secret_file::read::<32>(path)?))
    }

    /// A fresh random key that lives only in memory: for tests and throw-away setups.
    pub fn generate() -> Self {
        Self::from_bytes(random_bytes())
    }

    /// A key from bytes the caller already holds (a test vector, another key store).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            root: bytes,
            hsm: None,
        }
    }

    /// The master key in `hsm`, with the derivation root it keeps sealed in `store`. A
    /// new deployment (an empty store) gets a new random root. Blocking (the module, the
    /// file system).
    pub fn in_hsm(hsm: Arc<Hsm>, store: &EpochStore) -> Result<Self, HsmRootError> {
        let root = match store.read_root().map_err(HsmRootError::Store)? {
            Some(sealed) => hsm.unseal(ROOT_AD, &sealed)?,
            None => {
                if !store.list().map_err(HsmRootError::Store)?.is_empty() {
                    return Err(HsmRootError::NotMoved(store.describe()));
                }
                let root = random_bytes();
                store
                    .write_root(&hsm.seal(ROOT_AD, &root)?)
                    .map_err(HsmRootError::Store)?;
                tracing::warn!(store = %store.describe(), "created a new derivation root, sealed by the HSM");
                root.to_vec()
            }
        };
        Ok(Self {
            root: root.try_into().map_err(|_| HsmError::DoesNotOpen)?,
            hsm: Some(hsm),
        })
    }

    /// Seals this key's root under `hsm` into `store`: the last step of moving a key
    /// file's deployment into the HSM.
    pub fn seal_root_into(&self, hsm: &Hsm, store: &EpochStore) -> Result<(), HsmRootError> {
        store
            .write_root(&hsm.seal(ROOT_AD, &self.root)?)
            .map_err(HsmRootError::Store)
    }

    /// The HSM, when the master key is in one.
    pub fn hsm(&self) -> Option<&Arc<Hsm>> {
        self.hsm.as_ref()
    }

    /// The sub-key for one purpose. No salt: the master key is already uniformly random,
    /// which is what HKDF's extract step would otherwise provide (RFC 5869 §3.1).
    pub(super) fn derive(&self, purpose: Purpose) -> [u8; 32] {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(None, &self.root)
            .expand(purpose.info(), &mut out)
            .expect("32 bytes is far below HKDF-SHA256's limit of 8160");
        out
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_gets_its_own_key_and_none_is_the_master_key() {
        let master = MasterKey::from_bytes([7; 32]);
        let wrap = master.derive(Purpose::SubjectKeyWrap);
        let blind = master.derive(Purpose::BlindIndex);
        assert_ne!(wrap, blind);
        assert_ne!(wrap, [7; 32]);
        assert_ne!(blind, [7; 32]);
        assert_eq!(
            wrap,
            MasterKey::from_bytes([7; 32]).derive(Purpose::SubjectKeyWrap)
        );
        assert_ne!(
            wrap,
            MasterKey::from_bytes([8; 32]).derive(Purpose::SubjectKeyWrap)
        );
    }

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        assert!(MasterKey::load(&path).is_err());
        let (first, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.root, again.root);
        assert_eq!(MasterKey::load(&path).unwrap().root, first.root);
    }

    #[test]
    fn debug_hides_the_bytes() {
        assert_eq!(
            format!("{:?}", MasterKey::from_bytes([1; 32])),
            "MasterKey(***)"
        );
    }
}
