//! The ledger's Ed25519 key: signs checkpoints and reports. Kept in a file outside the
//! database (0600), created on first use unless `MEDCHAIN_LEDGER_KEY_FILE` names one.

use super::secret_file::{self, KeyFileError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore;
use std::path::Path;

pub struct LedgerKey(SigningKey);

impl LedgerKey {
    /// Loads the key from `path`, creating a new random one there if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyFileError> {
        let (seed, created) = secret_file::read_or_create::<32>(path, || {
            let mut seed = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            seed
        })?;
        if created {
            tracing::info!(path = %path.display(), "created a new ledger signing key");
        }
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// A fresh random key held only in memory (benchmarks and tests).
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self(SigningKey::from_bytes(&seed))
    }

    /// Loads an existing key; never creates one.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        Ok(Self(SigningKey::from_bytes(&secret_file::read::<32>(
            path,
        )?)))
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    pub fn public(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.public().as_bytes())
    }
}

impl std::fmt::Debug for LedgerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LedgerKey(public {})", self.public_hex())
    }
}
