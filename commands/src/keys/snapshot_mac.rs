//! The MAC of a kernel snapshot (`kernel::snapshots`): HMAC-SHA256, under a key derived
//! from the master key, over the stream, the version, the seq, the format and the state. A snapshot
//! decides what a command may do (a user's role, a record's shares), and it lives in a
//! table anyone with the database can write; with the MAC, a row written by anyone but
//! this code (or moved to another stream or version) is ignored, and the stream is
//! folded from the ledger instead.

use super::master_key::{MasterKey, Purpose};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The HMAC, keyed once; each tag starts from a copy of this state.
#[derive(Clone)]
pub struct SnapshotKey(Hmac<Sha256>);

impl SnapshotKey {
    pub(super) fn derive(master: &MasterKey) -> Self {
        let key = master.derive(Purpose::SnapshotMac);
        Self(Hmac::new_from_slice(&key).expect("HMAC takes a key of any length"))
    }

    fn mac(
        &self,
        stream: &str,
        version: i32,
        last_seq: i64,
        format: i32,
        state: &str,
    ) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        // Lengths first, so no two different inputs read as the same bytes.
        mac.update(&(stream.len() as u64).to_be_bytes());
        mac.update(stream.as_bytes());
        mac.update(&version.to_be_bytes());
        mac.update(&last_seq.to_be_bytes());
        mac.update(&format.to_be_bytes());
        mac.update(state.as_bytes());
        mac
    }

    pub fn tag(
        &self,
        stream: &str,
        version: i32,
        last_seq: i64,
        format: i32,
        state: &str,
    ) -> Vec<u8> {
        self.mac(stream, version, last_seq, format, state)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// In constant time.
    pub fn verify(
        &self,
        stream: &str,
        version: i32,
        last_seq: i64,
        format: i32,
        state: &str,
        tag: &[u8],
    ) -> bool {
        self.mac(stream, version, last_seq, format, state)
            .verify_slice(tag)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_holds_only_for_its_stream_version_seq_format_and_state() {
        let key = SnapshotKey::derive(&MasterKey::from_bytes([7; 32]));
        let tag = key.tag("user-1", 64, 100, 1, "{}");
        assert!(key.verify("user-1", 64, 100, 1, "{}", &tag));
        assert!(!key.verify("user-2", 64, 100, 1, "{}", &tag));
        assert!(!key.verify("user-1", 65, 100, 1, "{}", &tag));
        assert!(!key.verify("user-1", 64, 101, 1, "{}", &tag));
        assert!(!key.verify("user-1", 64, 100, 2, "{}", &tag));
        assert!(!key.verify("user-1", 64, 100, 1, "{\"x\":1}", &tag));
        let other = SnapshotKey::derive(&MasterKey::from_bytes([8; 32]));
        assert!(!other.verify("user-1", 64, 100, 1, "{}", &tag));
    }
}
