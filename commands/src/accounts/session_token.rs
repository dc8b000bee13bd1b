//! A session token: 256 random bits, given to the client once as unpadded base64url and
//! stored only as its SHA-256, so a copy of the database opens no session.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use std::fmt;

/// 32 bytes in unpadded base64url.
const TOKEN_CHARS: usize = 43;

#[derive(Clone)]
pub struct SessionToken(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the session token is not well formed")]
pub struct MalformedToken;

impl SessionToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn parse(raw: &str) -> Result<Self, MalformedToken> {
        let ok = raw.len() == TOKEN_CHARS
            && URL_SAFE_NO_PAD
                .decode(raw)
                .is_ok_and(|bytes| bytes.len() == 32);
        ok.then(|| Self(raw.to_owned())).ok_or(MalformedToken)
    }

    /// What the client holds; shown once, at login.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database holds.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_and_hashes_stably() {
        let t = SessionToken::generate();
        let again = SessionToken::parse(t.expose()).unwrap();
        assert_eq!(t.hash(), again.hash());
        assert_ne!(t.hash(), SessionToken::generate().hash());
    }

    #[test]
    fn refuses_what_is_not_a_token() {
        for bad in ["", "abc", &"A".repeat(44), &"!".repeat(43)] {
            assert_eq!(SessionToken::parse(bad).unwrap_err(), MalformedToken);
        }
    }

    #[test]
    fn debug_hides_it() {
        assert_eq!(
            format!("{:?}", SessionToken::generate()),
            "SessionToken(***)"
        );
    }
}
