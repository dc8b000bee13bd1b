//! A SHA-256 ledger hash: 32 bytes, written as 64 lowercase hex digits.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash([u8; 32]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a ledger hash is 64 lowercase hex digits (32 bytes)")]
pub struct InvalidHash;

impl Hash {
    /// The `prev` of seq 1.
    pub const ZERO: Hash = Hash([0; 32]);

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidHash> {
        bytes.try_into().map(Self).map_err(|_| InvalidHash)
    }

    pub fn parse_hex(raw: &str) -> Result<Self, InvalidHash> {
        if raw.len() != 64 || raw.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(InvalidHash);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(raw, &mut out).map_err(|_| InvalidHash)?;
        Ok(Self(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_zero() {
        assert_eq!(Hash::ZERO.to_string(), "0".repeat(64));
        let h = Hash::from_bytes([0xab; 32]);
        assert_eq!(Hash::parse_hex(&h.to_hex()), Ok(h));
    }

    #[test]
    fn refuses_uppercase_and_wrong_lengths() {
        assert!(Hash::parse_hex(&"AB".repeat(32)).is_err());
        assert!(Hash::parse_hex("abcd").is_err());
        assert!(Hash::from_slice(&[0; 31]).is_err());
    }
}
