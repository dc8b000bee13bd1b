//! Data keys (DESIGN.md §4): one random key per record. It encrypts the file (the STREAM
//! segments of `records::blob_cipher`) and seals the record's title, description and file
//! name, so erasing the record destroys all of it at once. It is stored only wrapped by
//! the owner's subject key (in `record_keys`, outside the ledger), so erasing the owner
//! erases every record of theirs too.
//!
//! The wrapping binds the record id (associated data), so a wrapped key moved to another
//! record's row does not open there.

use super::sealing::{SealError, open_with, seal_with};
use super::subject_key::SubjectKey;
use super::wrap;
use aes_gcm::{Aes256Gcm, aead::KeyInit};
use domain::Sealed;
use rand::RngCore;
use std::fmt;
use uuid::Uuid;

const KEY_LEN: usize = 32;
const WRAP_AD_PREFIX: &[u8] = b"medchain data key v1|";

/// One record's key. `Debug` hides it; it leaves this module only wrapped.
#[derive(Clone)]
pub struct DataKey([u8; KEY_LEN]);

/// What the key store knows about one record's key.
#[derive(Debug, Clone)]
pub enum DataKeyState {
    Live(DataKey),
    /// The record, or its owner, was erased.
    Destroyed,
    Missing,
}

/// A wrapped data key did not open: another record's row, another subject key, damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a record's data key does not open under its owner's key")]
pub struct DataKeyUnwrap;

impl DataKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A key as a patient's export hands it over (DESIGN.md §12: `dataKey`), read back
    /// by `medchain export verify` to re-encrypt the file.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key itself, for the owner's export only: the export is the patient's own
    /// copy, and the key lets anyone holding it tie the file to the ledger.
    pub fn export_bytes(&self) -> [u8; KEY_LEN] {
        self.0
    }

    /// The AEAD the file's segments are sealed with.
    pub fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }

    /// Seals a field of the record's stream, as `SubjectKey::seal` does for a person's.
    pub fn seal_str(&self, stream: &str, field: &str, plaintext: &str) -> Sealed {
        seal_with(&self.cipher(), stream, field, plaintext.as_bytes())
    }

    pub fn open_string(
        &self,
        stream: &str,
        field: &str,
        sealed: &Sealed,
    ) -> Result<String, SealError> {
        String::from_utf8(open_with(&self.cipher(), stream, field, sealed)?)
            .map_err(|_| SealError::NotText)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(***)")
    }
}

impl SubjectKey {
    /// `nonce ‖ encrypted key ‖ tag`, bound to `record`: the inner of a data key's two
    /// wraps (the epoch key's is outside it, `EpochKey::wrap_data_key`).
    pub fn wrap_data_key(&self, record: Uuid, key: &DataKey) -> Vec<u8> {
        wrap::wrap(
            &self.cipher(),
            &wrap::ad(WRAP_AD_PREFIX, record, None),
            &key.0,
        )
    }

    pub fn unwrap_data_key(&self, record: Uuid, wrapped: &[u8]) -> Result<DataKey, DataKeyUnwrap> {
        wrap::unwrap(
            &self.cipher(),
            &wrap::ad(WRAP_AD_PREFIX, record, None),
            wrapped,
        )
        .map(DataKey)
        .map_err(|_| DataKeyUnwrap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::subject_key::WRAPPED_LEN;

    #[test]
    fn a_wrapped_key_opens_only_for_its_record_and_owner() {
        let owner = SubjectKey::generate();
        let key = DataKey::generate();
        let record = Uuid::from_u128(1);
        let wrapped = owner.wrap_data_key(record, &key);
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        let back = owner.unwrap_data_key(record, &wrapped).unwrap();
        assert_eq!(back.0, key.0);
        assert!(owner.unwrap_data_key(Uuid::from_u128(2), &wrapped).is_err());
        assert!(
            SubjectKey::generate()
                .unwrap_data_key(record, &wrapped)
                .is_err()
        );
    }

    #[test]
    fn fields_open_only_in_their_place_and_debug_hides_the_key() {
        let key = DataKey::generate();
        let sealed = key.seal_str("record-x", "title", "HIV test");
        assert_eq!(
            key.open_string("record-x", "title", &sealed).unwrap(),
            "HIV test"
        );
        assert!(key.open_string("record-x", "fileName", &sealed).is_err());
        assert!(
            DataKey::generate()
                .open_string("record-x", "title", &sealed)
                .is_err()
        );
        assert_eq!(format!("{key:?}"), "DataKey(***)");
    }
}
