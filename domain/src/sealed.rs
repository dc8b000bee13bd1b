//! A sealed field as it stands in an event payload: ciphertext only (DESIGN.md §4).
//!
//! The text is `aes256gcm:` followed by unpadded base64url of `nonce (12 bytes) ‖
//! ciphertext ‖ tag (16 bytes)`. `domain` only carries it; `commands::keys` makes and
//! opens it, because sealing needs a random nonce and a key. It is a plain string in JSON
//! so auditors see ciphertext where personal data would be.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const SEALED_PREFIX: &str = "aes256gcm:";

/// Shortest valid body: a 12-byte nonce and a 16-byte tag (empty plaintext), 28 bytes,
/// which is 38 base64url characters.
const MIN_BODY_CHARS: usize = 38;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sealed(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a sealed field is \"{SEALED_PREFIX}\" followed by base64url of nonce, ciphertext and tag")]
pub struct InvalidSealed;

impl Sealed {
    pub fn parse(raw: &str) -> Result<Self, InvalidSealed> {
        let body = raw.strip_prefix(SEALED_PREFIX).ok_or(InvalidSealed)?;
        let base64url = body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if body.len() < MIN_BODY_CHARS || !base64url {
            return Err(InvalidSealed);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base64url body after the prefix.
    pub fn body(&self) -> &str {
        &self.0[SEALED_PREFIX.len()..]
    }
}

impl TryFrom<String> for Sealed {
    type Error = InvalidSealed;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Sealed> for String {
    fn from(s: Sealed) -> String {
        s.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} chars)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g";

    #[test]
    fn takes_the_prefix_and_base64url() {
        let raw = format!("{SEALED_PREFIX}{BODY}");
        assert_eq!(Sealed::parse(&raw).unwrap().body(), BODY);
    }

    #[test]
    fn refuses_plaintext_and_short_or_foreign_bodies() {
        assert_eq!(Sealed::parse("Alice Example"), Err(InvalidSealed));
        assert_eq!(
            Sealed::parse(&format!("{SEALED_PREFIX}AAEC")),
            Err(InvalidSealed)
        );
        assert_eq!(
            Sealed::parse(&format!("{SEALED_PREFIX}{BODY}+/=")),
            Err(InvalidSealed)
        );
    }

    #[test]
    fn is_a_plain_string_in_json() {
        let s = Sealed::parse(&format!("{SEALED_PREFIX}{BODY}")).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, format!("\"{SEALED_PREFIX}{BODY}\""));
        assert_eq!(serde_json::from_str::<Sealed>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Sealed>("\"plain\"").is_err());
    }
}
