//! The blind index of an e-mail address (DESIGN.md §4): HMAC-SHA256 of the normalised
//! address under a key derived from the master key, so login can find an account by
//! e-mail while the database and the ledger hold no address in the clear.
//!
//! It takes `Email`, never `&str`: only `Email::parse` makes the normal form (trimmed,
//! lowercased), and an index of any other form would silently never match.

use super::master_key::{MasterKey, Purpose};
use domain::account::Email;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

/// The index itself: 32 bytes, stored beside the account and compared for equality.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindIndex([u8; 32]);

impl BlindIndex {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Only a keyed digest, but it still singles out one person across logs and tables, so
/// `Debug` shows a prefix, enough to tell two apart in a test failure.
impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindIndex({}…)", hex::encode(&self.0[..4]))
    }
}

/// The HMAC, keyed once; each index starts from a copy of this state.
#[derive(Clone)]
pub(super) struct BlindIndexKey(Hmac<Sha256>);

impl BlindIndexKey {
    pub(super) fn derive(master: &MasterKey) -> Self {
        let key = master.derive(Purpose::BlindIndex);
        Self(Hmac::new_from_slice(&key).expect("HMAC takes a key of any length"))
    }

    pub(super) fn index(&self, email: &Email) -> BlindIndex {
        let mut mac = self.0.clone();
        mac.update(email.as_str().as_bytes());
        BlindIndex(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndexKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(raw: &str) -> Email {
        Email::parse(raw).unwrap()
    }

    #[test]
    fn the_same_address_written_differently_has_one_index() {
        let key = BlindIndexKey::derive(&MasterKey::from_bytes([3; 32]));
        assert_eq!(
            key.index(&email("Alice@X.org ")),
            key.index(&email("alice@x.org"))
        );
        assert_ne!(
            key.index(&email("alice@x.org")),
            key.index(&email("bob@x.org"))
        );
    }

    #[test]
    fn another_master_key_gives_another_index() {
        let a = BlindIndexKey::derive(&MasterKey::from_bytes([3; 32]));
        let b = BlindIndexKey::derive(&MasterKey::from_bytes([4; 32]));
        assert_ne!(
            a.index(&email("alice@x.org")),
            b.index(&email("alice@x.org"))
        );
    }

    #[test]
    fn is_hmac_sha256_of_the_normal_form_under_the_derived_key() {
        let master = MasterKey::from_bytes([3; 32]);
        let mut mac = Hmac::<Sha256>::new_from_slice(&master.derive(Purpose::BlindIndex)).unwrap();
        mac.update(b"alice@x.org");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        let index = BlindIndexKey::derive(&master).index(&email(" ALICE@x.org"));
        assert_eq!(index.as_bytes(), &expected);
        assert_eq!(index.to_hex(), hex::encode(expected));
    }
}
