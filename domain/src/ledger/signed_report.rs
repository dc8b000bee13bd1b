//! Signed reports: an answer taken from the ledger (an accounting of disclosures), bound
//! to the ledger head it reflects and signed with the ledger's Ed25519 key, so anyone
//! holding the public key can check it offline:
//! `{"report":…, "head":{"seq","hash"}, "key":"<hex>", "sig":"<hex>"}`, where `sig` signs
//! the JCS bytes of `{"report","head"}` (hex as in checkpoints). An erasure certificate
//! (DESIGN.md §11) is signed the same way with its body under `"certificate"`: one
//! construction for every signed answer (`sign_document`, `verify_document`).

use super::{Hash, PayloadError, payload::canonical_json};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("the report is not I-JSON: {0}")]
    NotIJson(#[from] PayloadError),
    #[error("the signed report is not valid: {0}")]
    Malformed(String),
    #[error("the report's signature does not verify")]
    BadSignature,
}

/// The JCS bytes a signature covers: `{<name>: body, "head": …}`.
fn signed_bytes(
    name: &str,
    body: &Value,
    head_seq: i64,
    head_hash: Hash,
) -> Result<Vec<u8>, ReportError> {
    let mut signed = serde_json::Map::new();
    signed.insert(name.to_owned(), body.clone());
    signed.insert(
        "head".to_owned(),
        json!({"seq": head_seq, "hash": head_hash.to_hex()}),
    );
    Ok(canonical_json(&Value::Object(signed))?.into_bytes())
}

/// Signs `report` as reflecting the ledger up to `head_seq`, whose hash is `head_hash`;
/// returns the document, canonical JSON.
pub fn sign_report(
    report: &Value,
    head_seq: i64,
    head_hash: Hash,
    key: &SigningKey,
) -> Result<String, ReportError> {
    sign_document("report", report, head_seq, head_hash, key)
}

/// Signs `body` under the field `name` (`report`, `certificate`), bound to the head.
pub fn sign_document(
    name: &str,
    body: &Value,
    head_seq: i64,
    head_hash: Hash,
    key: &SigningKey,
) -> Result<String, ReportError> {
    let sig = key.sign(&signed_bytes(name, body, head_seq, head_hash)?);
    let mut doc = serde_json::Map::new();
    doc.insert(name.to_owned(), body.clone());
    doc.insert(
        "head".to_owned(),
        json!({"seq": head_seq, "hash": head_hash.to_hex()}),
    );
    doc.insert(
        "key".to_owned(),
        Value::String(hex::encode(key.verifying_key().as_bytes())),
    );
    doc.insert("sig".to_owned(), Value::String(hex::encode(sig.to_bytes())));
    Ok(canonical_json(&Value::Object(doc))?)
}

/// A report whose signature verified against the key it names.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedReport {
    pub report: Value,
    pub head_seq: i64,
    pub head_hash: Hash,
    pub key: VerifyingKey,
}

/// Parses a signed report and checks its signature (the caller compares `key` with the
/// ledger's own).
pub fn verify_report(text: &str) -> Result<VerifiedReport, ReportError> {
    verify_document("report", text)
}

/// Parses a document signed under the field `name` and checks its signature.
pub fn verify_document(name: &str, text: &str) -> Result<VerifiedReport, ReportError> {
    let bad = |what: &str| ReportError::Malformed(what.to_owned());
    let doc: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let report = doc
        .get(name)
        .cloned()
        .ok_or_else(|| bad(&format!("no \"{name}\"")))?;
    let head = doc.get("head").ok_or_else(|| bad("no \"head\""))?;
    let head_seq = head
        .get("seq")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("no \"head.seq\""))?;
    let head_hash = head
        .get("hash")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no \"head.hash\""))
        .and_then(|h| Hash::parse_hex(h).map_err(|e| bad(&e.to_string())))?;
    let hex_field = |name: &str, len: usize| {
        doc.get(name)
            .and_then(Value::as_str)
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() == len)
            .ok_or_else(|| bad(&format!("\"{name}\" is not {len} bytes of hex")))
    };
    let key_bytes: [u8; 32] = hex_field("key", 32)?.try_into().expect("checked length");
    let sig_bytes: [u8; 64] = hex_field("sig", 64)?.try_into().expect("checked length");
    let key = VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| bad("\"key\" is not an Ed25519 public key"))?;
    key.verify(
        &signed_bytes(name, &report, head_seq, head_hash)?,
        &Signature::from_bytes(&sig_bytes),
    )
    .map_err(|_| ReportError::BadSignature)?;
    Ok(VerifiedReport {
        report,
        head_seq,
        head_hash,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[5u8; 32])
    }

    fn report() -> Value {
        json!({"patient": "a1", "disclosures": [{"seq": 7, "action": "VIEWED"}]})
    }

    #[test]
    fn a_signed_report_verifies_and_names_its_key_and_head() {
        let text = sign_report(&report(), 42, Hash::from_bytes([3; 32]), &key()).unwrap();
        let verified = verify_report(&text).unwrap();
        assert_eq!(verified.report, report());
        assert_eq!(verified.head_seq, 42);
        assert_eq!(verified.head_hash, Hash::from_bytes([3; 32]));
        assert_eq!(verified.key, key().verifying_key());
    }

    #[test]
    fn the_signature_covers_the_jcs_bytes_of_report_and_head() {
        let text = sign_report(&report(), 42, Hash::from_bytes([3; 32]), &key()).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let body = canonical_json(&json!({"report": doc["report"], "head": doc["head"]})).unwrap();
        let sig = Signature::from_bytes(
            &hex::decode(doc["sig"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
        );
        assert!(key().verifying_key().verify(body.as_bytes(), &sig).is_ok());
    }

    #[test]
    fn an_edited_report_or_head_fails() {
        let text = sign_report(&report(), 42, Hash::from_bytes([3; 32]), &key()).unwrap();
        let edited = text.replace("VIEWED", "DOWNLOADED");
        assert_eq!(verify_report(&edited), Err(ReportError::BadSignature));
        let moved = text.replace("\"seq\":42", "\"seq\":41");
        assert_eq!(verify_report(&moved), Err(ReportError::BadSignature));
        assert!(matches!(
            verify_report("{}"),
            Err(ReportError::Malformed(_))
        ));
    }
}
