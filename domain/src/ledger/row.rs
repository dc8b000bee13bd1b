//! A ledger row as stored: the entry's fields with the payload as stored text, plus the
//! stored hash. What verification and export read.

use super::{CanonicalPayload, Entry, Hash, PayloadError};
use crate::Timestamp;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Row {
    pub seq: i64,
    pub id: Uuid,
    pub stream: String,
    pub version: i32,
    pub event_type: String,
    pub actor: Option<Uuid>,
    pub at: Timestamp,
    /// The payload's JSON text as the database returns it.
    pub payload: String,
    pub prev: Hash,
    pub hash: Hash,
}

impl Row {
    /// Recomputes the hash from the stored fields, canonicalising the payload again as an
    /// auditor's tool would; `scratch` is reused between rows.
    pub fn recompute_hash(&self, scratch: &mut Vec<u8>) -> Result<Hash, PayloadError> {
        let payload = CanonicalPayload::from_json_text(&self.payload)?;
        Ok(self.entry(&payload).hash_with(scratch))
    }

    pub fn entry<'a>(&'a self, payload: &'a CanonicalPayload) -> Entry<'a> {
        Entry {
            seq: self.seq,
            id: self.id,
            stream: &self.stream,
            version: self.version,
            event_type: &self.event_type,
            actor: self.actor,
            at: self.at,
            payload,
            prev: self.prev,
        }
    }

    /// One line of the JSON Lines export (DESIGN.md §8): the entry's fields plus `"hash"`,
    /// canonical, so the line without `"hash"` re-canonicalises to the hashed bytes.
    pub fn export_line(&self) -> Result<String, PayloadError> {
        let payload = CanonicalPayload::from_json_text(&self.payload)?;
        let mut bytes = self.entry(&payload).canonical_bytes();
        // `"hash"` sorts between `"at"` and `"id"`; insert it there to stay canonical.
        let at = br#","id":"#;
        let split = bytes
            .windows(at.len())
            .position(|w| w == at)
            .expect("every entry has an id");
        let hash = format!(",\"hash\":\"{}\"", self.hash.to_hex());
        bytes.splice(split..split, hash.into_bytes());
        Ok(String::from_utf8(bytes).expect("canonical JSON is UTF-8"))
    }
}
