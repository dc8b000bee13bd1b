//! Checkpoints: `{seq, hash, at}` signed with the ledger's Ed25519 key (DESIGN.md §8),
//! kept outside the database so that a rewritten chain can be told from the real one.
//! A checkpoint with the Merkle `root` of the first `seq` events is a signed tree head
//! (§9): the signature covers `{seq, hash, root, at}`, so the tree is tied to the chain.

use super::{Hash, payload::canonical_json};
use crate::Timestamp;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: Hash,
    /// The transparency log's root over seq 1..=seq, when it is a signed tree head.
    pub root: Option<Hash>,
    /// When it was signed.
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub key: VerifyingKey,
    pub sig: Signature,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("checkpoint file is not valid: {0}")]
    Malformed(String),
    #[error("checkpoint signature does not verify")]
    BadSignature,
    #[error("checkpoint was signed by key {found}, not by this ledger's key {expected}")]
    WrongKey { found: String, expected: String },
}

impl Checkpoint {
    /// The signed bytes: JCS of `{"seq","hash","at"}`, or `{"seq","hash","root","at"}` for
    /// a tree head.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut body =
            json!({"seq": self.seq, "hash": self.hash.to_hex(), "at": self.at.to_string()});
        if let Some(root) = self.root {
            body["root"] = json!(root.to_hex());
        }
        canonical_json(&body)
            .expect("strings and a non-negative seq are I-JSON")
            .into_bytes()
    }

    pub fn sign(self, key: &SigningKey) -> SignedCheckpoint {
        let sig = key.sign(&self.signing_bytes());
        SignedCheckpoint {
            checkpoint: self,
            key: key.verifying_key(),
            sig,
        }
    }
}

impl SignedCheckpoint {
    pub fn to_json(&self) -> String {
        let c = &self.checkpoint;
        let mut doc = json!({
            "seq": c.seq, "hash": c.hash.to_hex(), "at": c.at.to_string(),
            "key": hex::encode(self.key.as_bytes()), "sig": hex::encode(self.sig.to_bytes()),
        });
        if let Some(root) = c.root {
            doc["root"] = json!(root.to_hex());
        }
        canonical_json(&doc).expect("strings and a non-negative seq are I-JSON")
    }

    /// Parses a checkpoint file and checks its signature against the key it names.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let bad = |what: &str| CheckpointError::Malformed(what.to_owned());
        let doc: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let field = |name: &str| {
            doc.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| bad(&format!("no {name:?}")))
        };
        let seq = doc
            .get("seq")
            .and_then(Value::as_i64)
            .filter(|s| *s >= 0)
            .ok_or_else(|| bad("no \"seq\""))?;
        let hash = Hash::parse_hex(field("hash")?).map_err(|e| bad(&e.to_string()))?;
        let root = match doc.get("root") {
            None | Some(Value::Null) => None,
            Some(_) => Some(Hash::parse_hex(field("root")?).map_err(|e| bad(&e.to_string()))?),
        };
        let at = Timestamp::parse(field("at")?).map_err(|e| bad(&e.to_string()))?;
        let key_bytes: [u8; 32] =
            hex_array(field("key")?).ok_or_else(|| bad("\"key\" is not 32 bytes of hex"))?;
        let sig_bytes: [u8; 64] =
            hex_array(field("sig")?).ok_or_else(|| bad("\"sig\" is not 64 bytes of hex"))?;
        let key = VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| bad("\"key\" is not an Ed25519 public key"))?;
        let signed = Self {
            checkpoint: Checkpoint {
                seq,
                hash,
                root,
                at,
            },
            key,
            sig: Signature::from_bytes(&sig_bytes),
        };
        signed.verify_signature()?;
        Ok(signed)
    }

    pub fn verify_signature(&self) -> Result<(), CheckpointError> {
        self.key
            .verify(&self.checkpoint.signing_bytes(), &self.sig)
            .map_err(|_| CheckpointError::BadSignature)
    }

    /// A valid signature proves nothing unless the key is the ledger's own.
    pub fn require_key(&self, expected: &VerifyingKey) -> Result<(), CheckpointError> {
        if &self.key == expected {
            Ok(())
        } else {
            Err(CheckpointError::WrongKey {
                found: hex::encode(self.key.as_bytes()),
                expected: hex::encode(expected.as_bytes()),
            })
        }
    }
}

fn hex_array<const N: usize>(raw: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(raw, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            seq: 42,
            hash: Hash::from_bytes([9; 32]),
            root: None,
            at: Timestamp::parse("2026-11-24T10:15:30Z").unwrap(),
        }
    }

    #[test]
    fn signs_the_canonical_body() {
        assert_eq!(
            String::from_utf8(checkpoint().signing_bytes()).unwrap(),
            format!(
                r#"{{"at":"2026-11-24T10:15:30.000000Z","hash":"{}","seq":42}}"#,
                "09".repeat(32)
            )
        );
    }

    #[test]
    fn a_written_checkpoint_parses_and_verifies() {
        let signed = checkpoint().sign(&key());
        let parsed = SignedCheckpoint::parse(&signed.to_json()).unwrap();
        assert_eq!(parsed, signed);
        assert!(parsed.require_key(&key().verifying_key()).is_ok());
        assert!(
            parsed
                .require_key(&SigningKey::from_bytes(&[8; 32]).verifying_key())
                .is_err()
        );
    }

    #[test]
    fn a_tree_head_signs_its_root_too() {
        let head = Checkpoint {
            root: Some(Hash::from_bytes([3; 32])),
            ..checkpoint()
        };
        assert_eq!(
            String::from_utf8(head.signing_bytes()).unwrap(),
            format!(
                r#"{{"at":"2026-11-24T10:15:30.000000Z","hash":"{}","root":"{}","seq":42}}"#,
                "09".repeat(32),
                "03".repeat(32)
            )
        );
        let signed = head.sign(&key());
        assert_eq!(SignedCheckpoint::parse(&signed.to_json()).unwrap(), signed);
        let other_root = signed.to_json().replace(&"03".repeat(32), &"04".repeat(32));
        assert_eq!(
            SignedCheckpoint::parse(&other_root),
            Err(CheckpointError::BadSignature)
        );
    }

    #[test]
    fn an_edited_checkpoint_fails_its_signature() {
        let text = checkpoint()
            .sign(&key())
            .to_json()
            .replace("\"seq\":42", "\"seq\":41");
        assert_eq!(
            SignedCheckpoint::parse(&text),
            Err(CheckpointError::BadSignature)
        );
    }
}
