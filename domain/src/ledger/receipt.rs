//! The files a patient or an auditor checks offline (DESIGN.md §9): a receipt (an event,
//! its inclusion proof, and the signed tree head it is proven in) and a consistency file
//! (two signed heads and the proof that the first tree is a prefix of the second). Both
//! are checked against the ledger's public key, which the checker supplies: a key taken
//! from the file itself would prove nothing.

use super::{
    Hash, SignedCheckpoint, canonical_json,
    merkle::{leaf_hash, verify_consistency, verify_inclusion},
};
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const RECEIPT_KIND: &str = "medchain-receipt/v1";
pub const CONSISTENCY_KIND: &str = "medchain-consistency/v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("the file is not a receipt or a consistency file: {0}")]
    Malformed(String),
    #[error("the event's hash does not match its fields")]
    EventHash,
    #[error("the head: {0}")]
    Head(#[from] super::CheckpointError),
    #[error("the head has no Merkle root: it is a checkpoint, not a tree head")]
    NoRoot,
    #[error(
        "the proof is for seq {proof} in a tree of {size}, but the event is seq {event} and the head's size {head}"
    )]
    Mismatch {
        proof: i64,
        size: i64,
        event: i64,
        head: i64,
    },
    #[error("the inclusion proof does not lead from the event to the head's root")]
    Inclusion,
    #[error("the consistency proof does not join the two heads' roots")]
    Consistency,
}

/// What a checked file proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proven {
    /// Event `seq` (of type `event_type`) is in the signed tree of `size` events.
    Included {
        seq: i64,
        event_type: String,
        size: i64,
    },
    /// The signed tree of `from` events is a prefix of the signed tree of `to`.
    Consistent { from: i64, to: i64 },
}

/// What the content route's `MedChain-Receipt` header signs: the JCS bytes of
/// `{"seq","hash"}` of the read's event, committed before the first byte was sent.
pub fn promise_bytes(seq: i64, hash: &Hash) -> Vec<u8> {
    canonical_json(&json!({"seq": seq, "hash": hash.to_hex()}))
        .expect("a seq and a hex string are I-JSON")
        .into_bytes()
}

/// The `MedChain-Receipt` header's value: `seq=<s>; hash=<h>; sig=<hex>`.
pub fn promise_header(seq: i64, hash: &Hash, key: &ed25519_dalek::SigningKey) -> String {
    use ed25519_dalek::Signer as _;
    let sig = key.sign(&promise_bytes(seq, hash));
    format!(
        "seq={seq}; hash={}; sig={}",
        hash.to_hex(),
        hex::encode(sig.to_bytes())
    )
}

/// Checks a `MedChain-Receipt` header against the ledger's key; the seq and hash it
/// promises.
pub fn check_promise(header: &str, key: &VerifyingKey) -> Option<(i64, Hash)> {
    use ed25519_dalek::Verifier as _;
    let mut seq = None;
    let mut hash = None;
    let mut sig = None;
    for part in header.split(';') {
        match part.trim().split_once('=')? {
            ("seq", v) => seq = v.parse::<i64>().ok(),
            ("hash", v) => hash = Hash::parse_hex(v).ok(),
            ("sig", v) => {
                let mut bytes = [0u8; 64];
                hex::decode_to_slice(v, &mut bytes).ok()?;
                sig = Some(ed25519_dalek::Signature::from_bytes(&bytes));
            }
            _ => {}
        }
    }
    let (seq, hash, sig) = (seq?, hash?, sig?);
    key.verify(&promise_bytes(seq, &hash), &sig).ok()?;
    Some((seq, hash))
}

/// A receipt file: `{"kind","event","proof":{"seq","treeSize","path"},"head"}`.
pub fn receipt_json(event_line: &Value, seq: i64, size: i64, path: &[Hash], head: &Value) -> Value {
    json!({
        "kind": RECEIPT_KIND,
        "event": event_line,
        "proof": {"seq": seq, "treeSize": size, "path": path.iter().map(Hash::to_hex).collect::<Vec<_>>()},
        "head": head,
    })
}

/// A consistency file: `{"kind","from","to","path"}`, `from` and `to` signed tree heads.
pub fn consistency_json(from: &Value, to: &Value, path: &[Hash]) -> Value {
    json!({
        "kind": CONSISTENCY_KIND,
        "from": from,
        "to": to,
        "path": path.iter().map(Hash::to_hex).collect::<Vec<_>>(),
    })
}

/// Checks a receipt or a consistency file against the ledger's key.
pub fn check_proof_file(text: &str, key: &VerifyingKey) -> Result<Proven, ProofError> {
    let bad = |what: &str| ProofError::Malformed(what.to_owned());
    let doc: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    match doc.get("kind").and_then(Value::as_str) {
        Some(RECEIPT_KIND) => check_receipt(&doc, key),
        Some(CONSISTENCY_KIND) => check_consistency(&doc, key),
        _ => Err(bad(
            "\"kind\" is neither medchain-receipt/v1 nor medchain-consistency/v1",
        )),
    }
}

fn head(
    doc: &Value,
    name: &str,
    key: &VerifyingKey,
) -> Result<(SignedCheckpoint, Hash), ProofError> {
    let value = doc
        .get(name)
        .ok_or_else(|| ProofError::Malformed(format!("no {name:?}")))?;
    let signed = SignedCheckpoint::parse(&value.to_string())?;
    signed.require_key(key)?;
    let root = signed.checkpoint.root.ok_or(ProofError::NoRoot)?;
    Ok((signed, root))
}

fn path(value: Option<&Value>) -> Result<Vec<Hash>, ProofError> {
    value
        .and_then(Value::as_array)
        .ok_or_else(|| ProofError::Malformed("no \"path\" list".into()))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|h| Hash::parse_hex(h).ok())
                .ok_or_else(|| ProofError::Malformed("a path entry is not a hash".into()))
        })
        .collect()
}

fn check_receipt(doc: &Value, key: &VerifyingKey) -> Result<Proven, ProofError> {
    let bad = |what: &str| ProofError::Malformed(what.to_owned());
    let event = doc
        .get("event")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no \"event\" object"))?;
    // The export line without "hash", canonical (RFC 8785), is what was hashed.
    let mut fields = event.clone();
    let stated = fields
        .remove("hash")
        .and_then(|h| h.as_str().and_then(|h| Hash::parse_hex(h).ok()))
        .ok_or_else(|| bad("the event has no \"hash\""))?;
    let canonical =
        canonical_json(&Value::Object(fields)).map_err(|e| bad(&format!("the event: {e}")))?;
    let computed = Hash::from_bytes(Sha256::digest(canonical.as_bytes()).into());
    if computed != stated {
        return Err(ProofError::EventHash);
    }
    let event_seq = event
        .get("seq")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("the event has no seq"))?;
    let event_type = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let proof = doc.get("proof").ok_or_else(|| bad("no \"proof\""))?;
    let seq = proof
        .get("seq")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("no proof seq"))?;
    let size = proof
        .get("treeSize")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("no proof treeSize"))?;
    let path = path(proof.get("path"))?;
    let (signed, root) = head(doc, "head", key)?;
    if seq != event_seq || size != signed.checkpoint.seq || seq < 1 || seq > size {
        return Err(ProofError::Mismatch {
            proof: seq,
            size,
            event: event_seq,
            head: signed.checkpoint.seq,
        });
    }
    if !verify_inclusion(
        &leaf_hash(&computed),
        (seq - 1) as u64,
        size as u64,
        &path,
        &root,
    ) {
        return Err(ProofError::Inclusion);
    }
    Ok(Proven::Included {
        seq,
        event_type,
        size,
    })
}

fn check_consistency(doc: &Value, key: &VerifyingKey) -> Result<Proven, ProofError> {
    let (from, from_root) = head(doc, "from", key)?;
    let (to, to_root) = head(doc, "to", key)?;
    let path = path(doc.get("path"))?;
    let (a, b) = (from.checkpoint.seq, to.checkpoint.seq);
    if a < 1 || !verify_consistency(a as u64, b as u64, &from_root, &to_root, &path) {
        return Err(ProofError::Consistency);
    }
    Ok(Proven::Consistent { from: a, to: b })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::ledger::{
        Checkpoint,
        merkle::{completed_by, inclusion_path, root},
    };
    use ed25519_dalek::SigningKey;
    use std::collections::HashMap;

    /// Three export lines, a tree over them, and a signed head of size 3.
    fn ledger() -> (Vec<Value>, Vec<Vec<Hash>>, Value, SigningKey) {
        let key = SigningKey::from_bytes(&[5; 32]);
        let mut lines = Vec::new();
        let mut nodes = HashMap::new();
        let mut prev = Hash::ZERO;
        for seq in 1..=3i64 {
            let mut line = json!({
                "seq": seq, "id": format!("00000000-0000-0000-0000-00000000000{seq}"),
                "stream": "user-x", "version": seq, "type": "Thing", "actor": null,
                "at": "2026-11-24T10:15:30.000000Z", "payload": {"n": seq}, "prev": prev.to_hex(),
            });
            let hash =
                Hash::from_bytes(Sha256::digest(canonical_json(&line).unwrap().as_bytes()).into());
            line["hash"] = json!(hash.to_hex());
            for (node, h) in completed_by((seq - 1) as u64, leaf_hash(&hash), |n| nodes[&n]) {
                nodes.insert(node, h);
            }
            prev = hash;
            lines.push(line);
        }
        let paths = (0..3)
            .map(|i| inclusion_path(i, 3, |n| nodes[&n]).unwrap())
            .collect();
        let head = Checkpoint {
            seq: 3,
            hash: prev,
            root: Some(root(3, |n| nodes[&n])),
            at: Timestamp::from_micros(0),
        }
        .sign(&key);
        let head: Value = serde_json::from_str(&head.to_json()).unwrap();
        (lines, paths, head, key)
    }

    #[test]
    fn a_read_promise_is_signed_and_checked() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let hash = Hash::from_bytes([8; 32]);
        let header = promise_header(17, &hash, &key);
        assert!(header.starts_with("seq=17; hash=0808"), "{header}");
        assert_eq!(
            check_promise(&header, &key.verifying_key()),
            Some((17, hash))
        );
        let moved = header.replace("seq=17", "seq=18");
        assert_eq!(check_promise(&moved, &key.verifying_key()), None);
        let other = SigningKey::from_bytes(&[6; 32]).verifying_key();
        assert_eq!(check_promise(&header, &other), None);
    }

    #[test]
    fn a_receipt_proves_its_event_and_nothing_else() {
        let (lines, paths, head, key) = ledger();
        let receipt = receipt_json(&lines[1], 2, 3, &paths[1], &head).to_string();
        assert_eq!(
            check_proof_file(&receipt, &key.verifying_key()),
            Ok(Proven::Included {
                seq: 2,
                event_type: "Thing".into(),
                size: 3
            })
        );
        // Another key, an edited event, the wrong path: refused.
        let other = SigningKey::from_bytes(&[6; 32]).verifying_key();
        assert!(check_proof_file(&receipt, &other).is_err());
        let edited = receipt.replace(r#""n":2"#, r#""n":3"#);
        assert_eq!(
            check_proof_file(&edited, &key.verifying_key()),
            Err(ProofError::EventHash)
        );
        let wrong_path = receipt_json(&lines[1], 2, 3, &paths[0], &head).to_string();
        assert_eq!(
            check_proof_file(&wrong_path, &key.verifying_key()),
            Err(ProofError::Inclusion)
        );
    }
}
