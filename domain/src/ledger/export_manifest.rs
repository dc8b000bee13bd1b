//! A patient's export's manifest (DESIGN.md §12): what the bundle holds and what ties it
//! to the ledger, signed with the ledger's key over its JCS bytes (`manifest.sig`, hex
//! Ed25519). Each file names its record, its original name, the SHA-256 and size of the
//! plaintext in the bundle, and the data key and blob header that seal it again into the
//! ciphertext whose SHA-256 the record's upload event names.

use super::{Hash, canonical_json};
use crate::Timestamp;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const EXPORT_FORMAT: &str = "medchain-export/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub patient: Uuid,
    pub created_at: String,
    pub head: ManifestHead,
    pub files: Vec<ManifestFile>,
    /// The bundle's other members (the FHIR Bundle, the ledger's events, proofs and
    /// head), each by its SHA-256, so a change to any byte of the bundle is caught
    /// somewhere (DESIGN.md §12 lists `files`; these are added beside them).
    pub parts: Vec<ManifestPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestPart {
    pub path: String,
    /// Lowercase hex.
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestFile {
    /// Its place in the bundle: `files/<record id>/<safe basename>`.
    pub path: String,
    pub record: Uuid,
    /// The name as uploaded (the bundle's is reduced to a safe basename).
    pub file_name: String,
    /// Of the plaintext, lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// The record's data key, hex: the export is the patient's own copy.
    pub data_key: String,
    /// The blob's 16-byte header (format, segment size, nonce prefix), hex.
    pub blob_header: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("manifest.json is not a manifest of this format: {0}")]
    Malformed(String),
    #[error("manifest.sig is not a hex Ed25519 signature")]
    BadSignatureText,
    #[error("manifest.sig does not hold over manifest.json under the ledger's key")]
    Signature,
}

impl Manifest {
    pub fn new(patient: Uuid, at: Timestamp, head_seq: i64, head_hash: Hash) -> Self {
        Self {
            format: EXPORT_FORMAT.to_owned(),
            patient,
            created_at: at.to_string(),
            head: ManifestHead {
                seq: head_seq,
                hash: head_hash.to_hex(),
            },
            files: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// The JCS bytes that are the file and that are signed.
    pub fn canonical(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("a manifest is JSON");
        canonical_json(&value)
            .expect("a manifest's strings and whole numbers are I-JSON")
            .into_bytes()
    }

    /// `manifest.json` and `manifest.sig`.
    pub fn signed(&self, key: &SigningKey) -> (Vec<u8>, String) {
        let bytes = self.canonical();
        let sig = key.sign(&bytes);
        (bytes, hex::encode(sig.to_bytes()))
    }

    /// The manifest in `json`, if `sig` holds over those very bytes under `key`.
    pub fn verify(json: &[u8], sig: &str, key: &VerifyingKey) -> Result<Self, ManifestError> {
        let bytes: [u8; 64] = hex::decode(sig.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(ManifestError::BadSignatureText)?;
        key.verify(json, &Signature::from_bytes(&bytes))
            .map_err(|_| ManifestError::Signature)?;
        let manifest: Manifest =
            serde_json::from_slice(json).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if manifest.format != EXPORT_FORMAT {
            return Err(ManifestError::Malformed(format!(
                "format is {:?}, not {EXPORT_FORMAT:?}",
                manifest.format
            )));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let mut m = Manifest::new(
            Uuid::from_u128(1),
            Timestamp::from_micros(1_700_000_000_000_000),
            42,
            Hash::ZERO,
        );
        m.files.push(ManifestFile {
            path: "files/0000/scan.pdf".into(),
            record: Uuid::from_u128(2),
            file_name: "../scan.pdf".into(),
            sha256: "ab".repeat(32),
            size: 10,
            data_key: "cd".repeat(32),
            blob_header: "ef".repeat(16),
        });
        m
    }

    #[test]
    fn a_signed_manifest_verifies_and_any_change_does_not() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let (json, sig) = manifest().signed(&key);
        assert_eq!(
            Manifest::verify(&json, &sig, &key.verifying_key()),
            Ok(manifest())
        );
        let mut changed = json.clone();
        let at = changed.iter().position(|b| *b == b'4').unwrap();
        changed[at] = b'5';
        assert_eq!(
            Manifest::verify(&changed, &sig, &key.verifying_key()),
            Err(ManifestError::Signature)
        );
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert_eq!(
            Manifest::verify(&json, &sig, &other.verifying_key()),
            Err(ManifestError::Signature)
        );
        assert_eq!(
            Manifest::verify(&json, "zz", &key.verifying_key()),
            Err(ManifestError::BadSignatureText)
        );
    }
}
