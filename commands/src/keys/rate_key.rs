//! The name a rate limit counts a subject under: HMAC-SHA256 of the subject's kind and
//! bytes (a client address, a normalised e-mail address) under a key derived from the
//! master key, so the `rate_limit_hits` table says how often, never who or from where.

use super::master_key::{MasterKey, Purpose};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

#[derive(Clone)]
pub(super) struct RateKey(Hmac<Sha256>);

impl RateKey {
    pub(super) fn derive(master: &MasterKey) -> Self {
        let key = master.derive(Purpose::RateLimit);
        Self(Hmac::new_from_slice(&key).expect("HMAC takes a key of any length"))
    }

    pub(super) fn name(&self, kind: &str, subject: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        // The kind's length first, so no kind and subject can run into another pair.
        mac.update(&(kind.len() as u64).to_be_bytes());
        mac.update(kind.as_bytes());
        mac.update(subject);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RateKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differ_by_kind_subject_and_master_key() {
        let key = RateKey::derive(&MasterKey::from_bytes([5; 32]));
        let a = key.name("address", b"192.0.2.1");
        assert_eq!(a, key.name("address", b"192.0.2.1"));
        assert_ne!(a, key.name("account", b"192.0.2.1"));
        assert_ne!(a, key.name("address", b"192.0.2.2"));
        assert_ne!(a, key.name("addres", b"s192.0.2.1"));
        let other = RateKey::derive(&MasterKey::from_bytes([6; 32]));
        assert_ne!(a, other.name("address", b"192.0.2.1"));
    }
}
