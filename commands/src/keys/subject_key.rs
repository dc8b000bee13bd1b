//! Subject keys (DESIGN.md §4): one random key per person, which seals their fields and
//! wraps their files' keys. Destroying it erases that person (crypto-shredding) while the
//! ledger, which hashed only ciphertext, still verifies.
//!
//! A subject key is stored only wrapped: AES-256-GCM under the wrap key derived from the
//! master key, with a fresh nonce, and with the subject's id as associated data, so a
//! wrapped key copied onto another subject's row does not open there. This file is the
//! pure part; `key_ring` reads and writes the `subject_keys` table.

use super::master_key::{MasterKey, Purpose};
use super::wrap::{self, UnwrapFailed};
use aes_gcm::{Aes256Gcm, aead::KeyInit};
use rand::RngCore;
use std::fmt;
use uuid::Uuid;

pub(super) const KEY_LEN: usize = 32;
/// What a wrapped key is on disk: nonce ‖ encrypted key ‖ tag.
pub(super) const WRAPPED_LEN: usize = wrap::NONCE_LEN + KEY_LEN + wrap::TAG_LEN;

const WRAP_AD_PREFIX: &[u8] = b"medchain subject key v1|";

/// One person's key. `Debug` hides it and there is no `PartialEq` (nothing should need
/// to compare keys, and a plain comparison would not be constant-time); it leaves this
/// module only as ciphertext.
#[derive(Clone)]
pub struct SubjectKey(pub(super) [u8; KEY_LEN]);

/// What the key store knows about one subject.
#[derive(Debug, Clone)]
pub enum SubjectKeyState {
    Live(SubjectKey),
    /// Erased: whatever was sealed under this key is gone for good.
    Destroyed,
    /// No key was ever made for this subject.
    Missing,
}

impl SubjectKeyState {
    /// The key while it lives; `None` once destroyed or if never made.
    pub fn live(self) -> Option<SubjectKey> {
        match self {
            Self::Live(key) => Some(key),
            Self::Destroyed | Self::Missing => None,
        }
    }
}

impl SubjectKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The AEAD for sealing under this key. Building it per use costs one AES key
    /// schedule, which is nothing beside the database round trip that fetched the key.
    pub(super) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(***)")
    }
}

/// The key-wrapping key derived from the master key, as subject keys were wrapped before
/// key epochs (rows whose `epoch` is NULL). Only reads and the move into epoch 1 use it.
#[derive(Clone)]
pub(super) struct WrapKey(Aes256Gcm);

impl WrapKey {
    pub(super) fn derive(master: &MasterKey) -> Self {
        Self(Aes256Gcm::new(
            &master.derive(Purpose::SubjectKeyWrap).into(),
        ))
    }

    #[cfg(any(test, feature = "test-hooks"))]
    pub(super) fn wrap(&self, subject: Uuid, key: &SubjectKey) -> Vec<u8> {
        wrap::wrap(&self.0, &wrap::ad(WRAP_AD_PREFIX, subject, None), &key.0)
    }

    pub(super) fn unwrap(&self, subject: Uuid, wrapped: &[u8]) -> Result<SubjectKey, UnwrapFailed> {
        wrap::unwrap(&self.0, &wrap::ad(WRAP_AD_PREFIX, subject, None), wrapped).map(SubjectKey)
    }
}

impl fmt::Debug for WrapKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WrapKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap_key(byte: u8) -> WrapKey {
        WrapKey::derive(&MasterKey::from_bytes([byte; 32]))
    }

    #[test]
    fn a_wrapped_key_opens_for_its_subject() {
        let (wk, subject, key) = (wrap_key(1), Uuid::new_v4(), SubjectKey::generate());
        let wrapped = wk.wrap(subject, &key);
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(wk.unwrap(subject, &wrapped).unwrap().0, key.0);
        assert_ne!(wk.wrap(subject, &key), wrapped, "a fresh nonce each time");
    }

    #[test]
    fn a_wrapped_key_does_not_open_for_another_subject_or_master_key() {
        let (wk, subject, key) = (wrap_key(1), Uuid::new_v4(), SubjectKey::generate());
        let wrapped = wk.wrap(subject, &key);
        assert!(wk.unwrap(Uuid::new_v4(), &wrapped).is_err());
        assert!(wrap_key(2).unwrap(subject, &wrapped).is_err());
    }

    #[test]
    fn a_damaged_or_cut_wrapped_key_does_not_open() {
        let (wk, subject) = (wrap_key(1), Uuid::new_v4());
        let wrapped = wk.wrap(subject, &SubjectKey::generate());
        for i in [0, wrap::NONCE_LEN, WRAPPED_LEN - 1] {
            let mut bad = wrapped.clone();
            bad[i] ^= 1;
            assert!(wk.unwrap(subject, &bad).is_err(), "byte {i}");
        }
        assert!(wk.unwrap(subject, &wrapped[..WRAPPED_LEN - 1]).is_err());
        assert!(wk.unwrap(subject, &[]).is_err());
    }

    #[test]
    fn keys_are_random_and_debug_hides_them() {
        let key = SubjectKey::generate();
        assert_ne!(key.0, SubjectKey::generate().0);
        assert_eq!(format!("{key:?}"), "SubjectKey(***)");
        assert_eq!(
            format!("{:?}", SubjectKeyState::Live(key)),
            "Live(SubjectKey(***))"
        );
        assert_eq!(format!("{:?}", wrap_key(1)), "WrapKey(***)");
    }
}
