//! One ledger entry and its hash: `SHA-256(JCS(entry))`, DESIGN.md §3.
//!
//! The canonical bytes are written field by field instead of building a JSON value and
//! canonicalising it: JCS of an object is its members sorted by key, each `"key":value`
//! with the value itself canonical, so splicing the already-canonical payload into the
//! fixed key order is exactly JCS and spares the appender a parse and a copy. A test
//! checks this against `serde_json_canonicalizer` on the whole entry.

use super::{CanonicalPayload, Hash, payload::write_string};
use crate::Timestamp;
use sha2::{Digest, Sha256};
use std::io::Write;
use uuid::Uuid;

/// The ledger format version, `"v"` in every entry.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub seq: i64,
    pub id: Uuid,
    pub stream: &'a str,
    pub version: i32,
    pub event_type: &'a str,
    pub actor: Option<Uuid>,
    pub at: Timestamp,
    pub payload: &'a CanonicalPayload,
    pub prev: Hash,
}

impl Entry<'_> {
    /// Appends the RFC 8785 bytes of the entry to `out`. Keys in UTF-16 order:
    /// actor, at, id, payload, prev, seq, stream, type, v, version.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"actor\":");
        match self.actor {
            Some(actor) => write_uuid(out, actor),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"at\":\"");
        write!(out, "{}", self.at).expect("writing to a Vec cannot fail");
        out.extend_from_slice(b"\",\"id\":");
        write_uuid(out, self.id);
        out.extend_from_slice(b",\"payload\":");
        out.extend_from_slice(self.payload.as_str().as_bytes());
        out.extend_from_slice(b",\"prev\":\"");
        let mut hex = [0u8; 64];
        hex::encode_to_slice(self.prev.as_bytes(), &mut hex).expect("64 hex digits for 32 bytes");
        out.extend_from_slice(&hex);
        write!(out, "\",\"seq\":{},\"stream\":", self.seq).expect("writing to a Vec cannot fail");
        write_string(self.stream, out);
        out.extend_from_slice(b",\"type\":");
        write_string(self.event_type, out);
        write!(
            out,
            ",\"v\":{FORMAT_VERSION},\"version\":{}}}",
            self.version
        )
        .expect("writing to a Vec cannot fail");
    }

    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.payload.as_str().len());
        self.write_canonical(&mut out);
        out
    }

    pub fn hash(&self) -> Hash {
        self.hash_with(&mut Vec::new())
    }

    /// Hashes using `scratch` as the buffer, so a loop over many entries allocates once.
    pub fn hash_with(&self, scratch: &mut Vec<u8>) -> Hash {
        scratch.clear();
        self.write_canonical(scratch);
        Hash::from_bytes(Sha256::digest(scratch.as_slice()).into())
    }
}

fn write_uuid(out: &mut Vec<u8>, id: Uuid) {
    out.push(b'"');
    out.extend_from_slice(
        id.hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: serde_json::Value) -> CanonicalPayload {
        CanonicalPayload::from_value(&v).unwrap()
    }

    fn sample(payload: &CanonicalPayload) -> Entry<'_> {
        Entry {
            seq: 1,
            id: Uuid::parse_str("0191d0f4-6f4e-7c6b-9a55-2b8f3c1d2e4f").unwrap(),
            stream: "user-4f7e2a1c-9b3d-4e5f-8a6b-7c8d9e0f1a2b",
            version: 1,
            event_type: "UserRegistered",
            actor: None,
            at: Timestamp::parse("2026-11-24T10:15:30.123456Z").unwrap(),
            payload,
            prev: Hash::ZERO,
        }
    }

    /// The expected bytes and hash were computed outside Rust, with Python's json and
    /// hashlib: `json.dumps(entry, sort_keys=True, separators=(",", ":"),
    /// ensure_ascii=False)` is JCS for entries holding only strings and integers.
    #[test]
    fn matches_an_independently_computed_entry() {
        let p =
            payload(json!({"role": "PATIENT", "name": {"ct": "q83v", "n": "AAEC"}, "size": 1234}));
        let e = sample(&p);
        let expected = concat!(
            r#"{"actor":null,"at":"2026-11-24T10:15:30.123456Z","id":"0191d0f4-6f4e-7c6b-9a55-2b8f3c1d2e4f","#,
            r#""payload":{"name":{"ct":"q83v","n":"AAEC"},"role":"PATIENT","size":1234},"#,
            r#""prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,"#,
            r#""stream":"user-4f7e2a1c-9b3d-4e5f-8a6b-7c8d9e0f1a2b","type":"UserRegistered","v":1,"version":1}"#
        );
        assert_eq!(String::from_utf8(e.canonical_bytes()).unwrap(), expected);
        assert_eq!(
            e.hash().to_hex(),
            "9f7a65a31eb48ecbbad1e14dad2556c26483d5035e306eb6bf117a4c28f898eb"
        );
    }

    #[test]
    fn splicing_equals_canonicalising_the_whole_entry() {
        let strange = [
            "plain",
            "quote\" back\\slash",
            "\u{1}\u{1f}\n\t\u{7f}",
            "€𝄞\u{2028}",
            "",
        ];
        for (i, s) in strange.iter().enumerate() {
            let p = payload(
                json!({"s": s, "n": -(i as i64), "z": [s, {"é": 1, "e": 2}], "\u{10000}": 0, "\u{ff}": 1}),
            );
            let actor = (i % 2 == 0).then(Uuid::new_v4);
            let e = Entry {
                seq: i as i64 + 7,
                stream: s,
                event_type: s,
                actor,
                prev: Hash::from_bytes([i as u8; 32]),
                ..sample(&p)
            };
            let whole = json!({
                "v": 1, "seq": e.seq, "id": e.id.to_string(), "stream": e.stream, "version": e.version,
                "type": e.event_type, "actor": e.actor.map(|a| a.to_string()), "at": e.at.to_string(),
                "payload": serde_json::from_str::<serde_json::Value>(p.as_str()).unwrap(), "prev": e.prev.to_hex(),
            });
            assert_eq!(
                String::from_utf8(e.canonical_bytes()).unwrap(),
                serde_json_canonicalizer::to_string(&whole).unwrap(),
                "case {i}"
            );
        }
    }

    #[test]
    fn actor_is_a_lowercase_uuid_or_null() {
        let p = payload(json!({}));
        let actor = Uuid::parse_str("ABCDEF01-2345-4789-ABCD-EF0123456789").unwrap();
        let text = String::from_utf8(
            Entry {
                actor: Some(actor),
                ..sample(&p)
            }
            .canonical_bytes(),
        )
        .unwrap();
        assert!(
            text.starts_with(r#"{"actor":"abcdef01-2345-4789-abcd-ef0123456789","at":"#),
            "{text}"
        );
    }
}
