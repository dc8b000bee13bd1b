//! A witness's cosignature over a signed tree head (DESIGN.md §9): a witness that checked
//! the head's signature and its consistency with the last head it cosigned signs the JCS
//! bytes of `{"kind":"medchain-cosignature/v1","log":K,"seq":N,"root":R,"at":T_w}` with
//! its own Ed25519 key W, and posts `{"witness":W,"name","at":T_w,"seq","root","sig"}`.
//! The log keeps it beside the head, outside the head's signed message.

use super::{Hash, payload::canonical_json};
use crate::Timestamp;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Value, json};

pub const COSIGNATURE_KIND: &str = "medchain-cosignature/v1";
/// A witness's name: short, printable.
pub const MAX_NAME_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub witness: VerifyingKey,
    pub name: String,
    pub at: Timestamp,
    pub seq: i64,
    pub root: Hash,
    pub sig: Signature,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignatureError {
    #[error("the cosignature is not valid: {0}")]
    Malformed(String),
    #[error("the cosignature's signature does not verify under the witness's key")]
    BadSignature,
}

fn signing_bytes(log: &VerifyingKey, seq: i64, root: &Hash, at: Timestamp) -> Vec<u8> {
    let body = json!({
        "kind": COSIGNATURE_KIND,
        "log": hex::encode(log.as_bytes()),
        "seq": seq,
        "root": root.to_hex(),
        "at": at.to_string(),
    });
    canonical_json(&body)
        .expect("strings and a non-negative seq are I-JSON")
        .into_bytes()
}

impl Cosignature {
    /// A witness (`key`, calling itself `name`) cosigns the head `(seq, root)` of the log
    /// whose key is `log`, at `at`.
    pub fn sign(
        key: &SigningKey,
        name: &str,
        log: &VerifyingKey,
        seq: i64,
        root: Hash,
        at: Timestamp,
    ) -> Self {
        Self {
            witness: key.verifying_key(),
            name: name.to_owned(),
            at,
            seq,
            root,
            sig: key.sign(&signing_bytes(log, seq, &root, at)),
        }
    }

    /// Whether it is the witness's signature over this head of the log `log`.
    pub fn verify(&self, log: &VerifyingKey) -> Result<(), CosignatureError> {
        self.witness
            .verify(
                &signing_bytes(log, self.seq, &self.root, self.at),
                &self.sig,
            )
            .map_err(|_| CosignatureError::BadSignature)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "witness": hex::encode(self.witness.as_bytes()),
            "name": self.name,
            "at": self.at.to_string(),
            "seq": self.seq,
            "root": self.root.to_hex(),
            "sig": hex::encode(self.sig.to_bytes()),
        })
    }

    /// Reads a posted cosignature (its signature is checked by `verify`, against the
    /// log's key, which the reader knows).
    pub fn parse(doc: &Value) -> Result<Self, CosignatureError> {
        let bad = |what: &str| CosignatureError::Malformed(what.to_owned());
        let field = |name: &str| {
            doc.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| bad(&format!("no {name:?}")))
        };
        let mut witness = [0u8; 32];
        hex::decode_to_slice(field("witness")?, &mut witness)
            .map_err(|_| bad("\"witness\" is not 32 bytes of hex"))?;
        let witness = VerifyingKey::from_bytes(&witness)
            .map_err(|_| bad("\"witness\" is not an Ed25519 public key"))?;
        let name = field("name")?.trim().to_owned();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(bad("\"name\" is 1 to 64 printable characters"));
        }
        let at = Timestamp::parse(field("at")?).map_err(|e| bad(&e.to_string()))?;
        let seq = doc
            .get("seq")
            .and_then(Value::as_i64)
            .filter(|s| *s >= 1)
            .ok_or_else(|| bad("no \"seq\""))?;
        let root = Hash::parse_hex(field("root")?).map_err(|e| bad(&e.to_string()))?;
        let mut sig = [0u8; 64];
        hex::decode_to_slice(field("sig")?, &mut sig)
            .map_err(|_| bad("\"sig\" is not 64 bytes of hex"))?;
        Ok(Self {
            witness,
            name,
            at,
            seq,
            root,
            sig: Signature::from_bytes(&sig),
        })
    }
}

/// The witnesses a log accepts cosignatures from (`MEDCHAIN_WITNESS_KEYS`:
/// `name=hex,name=hex`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessKeys(Vec<(String, VerifyingKey)>);

impl WitnessKeys {
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let (name, key) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{pair:?} is not name=<hex key>"))?;
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(key.trim(), &mut bytes)
                    .map_err(|_| format!("the key of {name:?} is not 32 bytes of hex"))?;
                let key = VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| format!("the key of {name:?} is not an Ed25519 public key"))?;
                Ok((name.trim().to_owned(), key))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn new(keys: Vec<(String, VerifyingKey)>) -> Self {
        Self(keys)
    }

    /// The configured name of `key`, if it is a witness of this log.
    pub fn name_of(&self, key: &VerifyingKey) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, k)| k == key)
            .map(|(name, _)| name.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &VerifyingKey)> {
        self.0.iter().map(|(n, k)| (n.as_str(), k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosignature_round_trips_and_binds_the_log_and_the_head() {
        let witness = SigningKey::from_bytes(&[1; 32]);
        let log = SigningKey::from_bytes(&[2; 32]).verifying_key();
        let other_log = SigningKey::from_bytes(&[3; 32]).verifying_key();
        let at = Timestamp::parse("2026-12-04T10:00:00Z").unwrap();
        let cosig = Cosignature::sign(
            &witness,
            "clinic-a",
            &log,
            42,
            Hash::from_bytes([9; 32]),
            at,
        );
        let parsed = Cosignature::parse(&cosig.to_json()).unwrap();
        assert_eq!(parsed, cosig);
        assert!(parsed.verify(&log).is_ok());
        assert_eq!(
            parsed.verify(&other_log),
            Err(CosignatureError::BadSignature)
        );
        let mut moved = cosig.to_json();
        moved["seq"] = json!(43);
        assert_eq!(
            Cosignature::parse(&moved).unwrap().verify(&log),
            Err(CosignatureError::BadSignature)
        );
        let keys = WitnessKeys::parse(&format!(
            "clinic-a={}, ",
            hex::encode(witness.verifying_key().as_bytes())
        ))
        .unwrap();
        assert_eq!(keys.name_of(&witness.verifying_key()), Some("clinic-a"));
        assert_eq!(keys.name_of(&log), None);
        assert!(WitnessKeys::parse("x=zz").is_err());
        let mut unnamed = cosig.to_json();
        unnamed["name"] = json!("");
        assert!(Cosignature::parse(&unnamed).is_err());
    }
}
