//! Key epochs (DESIGN.md §11): the key-encryption key of one epoch. Every subject key is
//! stored wrapped by the current epoch's key, and every data key (already wrapped by its
//! owner's subject key) wrapped again by it; a rotation re-wraps each under the next
//! epoch's key and then destroys this one. So once an epoch is retired, no copy of a row
//! it wrapped (a dead tuple, the WAL, a backup, a replica) opens, even with the master key.
//!
//! An epoch key itself is kept only wrapped by the master key (`EpochWrapKey`), in the
//! epoch store (`epoch_store`), never in the database.

use super::hsm::{Hsm, HsmError};
use super::master_key::{MasterKey, Purpose};
use super::subject_key::{KEY_LEN, SubjectKey, WRAPPED_LEN};
use super::wrap::{self, UnwrapFailed};
use aes_gcm::{Aes256Gcm, aead::KeyInit};
use domain::erasure::EpochNumber;
use rand::RngCore;
use std::{fmt, sync::Arc};
use uuid::Uuid;

const SUBJECT_AD: &[u8] = b"medchain subject key v2|";
const DATA_AD: &[u8] = b"medchain data key epoch v2|";
const EPOCH_AD: &[u8] = b"medchain epoch key v1|";

/// What the epoch store holds of one epoch key: its wrap by the master key.
pub const STORED_LEN: usize = WRAPPED_LEN;

pub struct EpochKey {
    number: EpochNumber,
    bytes: [u8; KEY_LEN],
    cipher: Aes256Gcm,
}

impl EpochKey {
    pub fn generate(number: EpochNumber) -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(number, bytes)
    }

    fn from_bytes(number: EpochNumber, bytes: [u8; KEY_LEN]) -> Self {
        Self {
            number,
            cipher: Aes256Gcm::new(&bytes.into()),
            bytes,
        }
    }

    pub fn number(&self) -> EpochNumber {
        self.number
    }

    pub(super) fn wrap_subject_key(&self, subject: Uuid, key: &SubjectKey) -> Vec<u8> {
        wrap::wrap(&self.cipher, &self.ad(SUBJECT_AD, subject), &key.0)
    }

    pub(super) fn unwrap_subject_key(
        &self,
        subject: Uuid,
        wrapped: &[u8],
    ) -> Result<SubjectKey, UnwrapFailed> {
        wrap::unwrap(&self.cipher, &self.ad(SUBJECT_AD, subject), wrapped).map(SubjectKey)
    }

    /// `owner_wrapped`: the data key as its owner's subject key wrapped it.
    pub(super) fn wrap_data_key(&self, record: Uuid, owner_wrapped: &[u8]) -> Vec<u8> {
        wrap::wrap(&self.cipher, &self.ad(DATA_AD, record), owner_wrapped)
    }

    /// The owner's wrap of the data key, out of the epoch's.
    pub(super) fn unwrap_data_key(
        &self,
        record: Uuid,
        wrapped: &[u8],
    ) -> Result<[u8; WRAPPED_LEN], UnwrapFailed> {
        wrap::unwrap(&self.cipher, &self.ad(DATA_AD, record), wrapped)
    }

    fn ad(&self, prefix: &[u8], id: Uuid) -> Vec<u8> {
        wrap::ad(prefix, id, Some(self.number))
    }
}

impl fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EpochKey({}, ***)", self.number)
    }
}

/// Wraps epoch keys for the epoch store, bound to the epoch's number: with a key file, a
/// sub-key of the master key for this purpose only; with an HSM, the module's own key,
/// inside the module (calls that block: callers run them on the blocking pool).
pub(super) enum EpochWrapKey {
    // Boxed: the cipher's key schedule is large beside a handle.
    Derived(Box<Aes256Gcm>),
    Hsm(Arc<Hsm>),
}

impl EpochWrapKey {
    pub(super) fn of(master: &MasterKey) -> Self {
        match master.hsm() {
            Some(hsm) => Self::Hsm(hsm.clone()),
            None => Self::derived(master),
        }
    }

    /// The key-file form, whatever the master key is now: what `move-to-hsm` reads.
    pub(super) fn derived(master: &MasterKey) -> Self {
        Self::Derived(Box::new(Aes256Gcm::new(
            &master.derive(Purpose::EpochKeyWrap).into(),
        )))
    }

    pub(super) fn seal(&self, key: &EpochKey) -> Result<Vec<u8>, HsmError> {
        self.seal_bytes(key.number, &key.bytes)
    }

    fn seal_bytes(&self, number: EpochNumber, bytes: &[u8]) -> Result<Vec<u8>, HsmError> {
        match self {
            Self::Derived(cipher) => Ok(wrap::wrap(cipher, &epoch_ad(number), bytes)),
            Self::Hsm(hsm) => hsm.seal(&epoch_ad(number), bytes),
        }
    }

    pub(super) fn open(
        &self,
        number: EpochNumber,
        stored: &[u8],
    ) -> Result<EpochKey, UnwrapFailed> {
        let bytes: [u8; KEY_LEN] = match self {
            Self::Derived(cipher) => wrap::unwrap(cipher, &epoch_ad(number), stored)?,
            Self::Hsm(hsm) => hsm
                .unseal(&epoch_ad(number), stored)
                .map_err(|_| UnwrapFailed)?
                .try_into()
                .map_err(|_| UnwrapFailed)?,
        };
        Ok(EpochKey::from_bytes(number, bytes))
    }

    /// `stored` as `from` sealed it, sealed by `self` instead (moving to an HSM).
    pub(super) fn reseal(
        &self,
        from: &Self,
        number: EpochNumber,
        stored: &[u8],
    ) -> Result<Vec<u8>, ResealError> {
        let key = from
            .open(number, stored)
            .map_err(|_| ResealError::DoesNotOpen)?;
        Ok(self.seal_bytes(number, &key.bytes)?)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("the stored epoch key does not open under the old master key")]
    DoesNotOpen,
    #[error(transparent)]
    Hsm(#[from] HsmError),
}

fn epoch_ad(number: EpochNumber) -> Vec<u8> {
    [EPOCH_AD, &number.to_be_bytes()[..]].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DataKey;

    /// What a data key's row holds: the owner's wrap (60 bytes) wrapped by the epoch key.
    const DATA_WRAPPED_LEN: usize = wrap::NONCE_LEN + WRAPPED_LEN + wrap::TAG_LEN;

    #[test]
    fn a_subject_key_opens_only_under_its_epoch_and_subject() {
        let (epoch, subject, key) = (
            EpochKey::generate(1),
            Uuid::new_v4(),
            SubjectKey::generate(),
        );
        let wrapped = epoch.wrap_subject_key(subject, &key);
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(
            epoch.unwrap_subject_key(subject, &wrapped).unwrap().0,
            key.0
        );
        assert!(epoch.unwrap_subject_key(Uuid::new_v4(), &wrapped).is_err());
        assert!(
            EpochKey::generate(1)
                .unwrap_subject_key(subject, &wrapped)
                .is_err()
        );
        // The same bytes under another number are another epoch's key.
        let renumbered = EpochKey::from_bytes(2, epoch.bytes);
        assert!(renumbered.unwrap_subject_key(subject, &wrapped).is_err());
    }

    #[test]
    fn a_data_key_takes_both_wraps_to_open() {
        let (epoch, owner, record) = (
            EpochKey::generate(4),
            SubjectKey::generate(),
            Uuid::new_v4(),
        );
        let data = DataKey::generate();
        let inner = owner.wrap_data_key(record, &data);
        let outer = epoch.wrap_data_key(record, &inner);
        assert_eq!(outer.len(), DATA_WRAPPED_LEN);
        let back = epoch.unwrap_data_key(record, &outer).unwrap();
        assert_eq!(back.to_vec(), inner);
        assert!(owner.unwrap_data_key(record, &back).is_ok());
        assert!(epoch.unwrap_data_key(Uuid::new_v4(), &outer).is_err());
    }

    #[test]
    fn the_master_key_wraps_an_epoch_key_for_its_number_only() {
        let wrap = EpochWrapKey::of(&MasterKey::from_bytes([3; 32]));
        let epoch = EpochKey::generate(7);
        let stored = wrap.seal(&epoch).unwrap();
        assert_eq!(stored.len(), STORED_LEN);
        assert_eq!(wrap.open(7, &stored).unwrap().bytes, epoch.bytes);
        assert!(wrap.open(8, &stored).is_err());
        let other = EpochWrapKey::of(&MasterKey::from_bytes([4; 32]));
        assert!(other.open(7, &stored).is_err());
        assert_eq!(format!("{epoch:?}"), "EpochKey(7, ***)");
    }
}
