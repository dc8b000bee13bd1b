//! Sealing a field (DESIGN.md §4): personal data enters an event only as AES-256-GCM
//! ciphertext under the person's subject key, in the text form `domain::Sealed` fixes.
//!
//! Each seal draws a fresh 96-bit nonce, so equal values do not show as equal. The
//! associated data names the stream and the field, length-prefixed so no two pairs can
//! run together, which keeps a sealed value from being moved to another event's or
//! another field's place and still opening there.

use super::subject_key::SubjectKey;
use super::wrap::NONCE_LEN;
use aes_gcm::{
    Aes256Gcm,
    aead::{Aead, Nonce, Payload},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use domain::{Sealed, sealed::SEALED_PREFIX};
use rand::RngCore;

const FIELD_AD_PREFIX: &[u8] = b"medchain field v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Deliberately one case: which of key, place or bytes was wrong is not told apart,
    /// by the cipher or by us.
    #[error("the sealed field does not open: another key, another stream or field, or altered")]
    DoesNotOpen,
    #[error("the sealed field opened but is not UTF-8 text")]
    NotText,
}

impl SubjectKey {
    /// Seals `plaintext` as the field `field` of an event in `stream`.
    pub fn seal(&self, stream: &str, field: &str, plaintext: &[u8]) -> Sealed {
        seal_with(&self.cipher(), stream, field, plaintext)
    }

    /// Opens what `seal` made for the same stream and field under this key.
    pub fn open(&self, stream: &str, field: &str, sealed: &Sealed) -> Result<Vec<u8>, SealError> {
        open_with(&self.cipher(), stream, field, sealed)
    }

    pub fn seal_str(&self, stream: &str, field: &str, plaintext: &str) -> Sealed {
        self.seal(stream, field, plaintext.as_bytes())
    }

    pub fn open_string(
        &self,
        stream: &str,
        field: &str,
        sealed: &Sealed,
    ) -> Result<String, SealError> {
        String::from_utf8(self.open(stream, field, sealed)?).map_err(|_| SealError::NotText)
    }
}

/// Seals under any key of ours (a subject's, a record's): one construction for all.
pub(super) fn seal_with(cipher: &Aes256Gcm, stream: &str, field: &str, plaintext: &[u8]) -> Sealed {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            &Nonce::<Aes256Gcm>::from(nonce),
            Payload {
                msg: plaintext,
                aad: &field_ad(stream, field),
            },
        )
        .expect("AES-GCM refuses only inputs over 64 GiB");
    let body = URL_SAFE_NO_PAD.encode([&nonce[..], &ciphertext].concat());
    Sealed::parse(&format!("{SEALED_PREFIX}{body}"))
        .expect("a nonce and a tag are at least the shortest sealed body")
}

pub(super) fn open_with(
    cipher: &Aes256Gcm,
    stream: &str,
    field: &str,
    sealed: &Sealed,
) -> Result<Vec<u8>, SealError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed.body())
        .map_err(|_| SealError::DoesNotOpen)?;
    if bytes.len() < NONCE_LEN {
        return Err(SealError::DoesNotOpen);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| SealError::DoesNotOpen)?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad: &field_ad(stream, field),
            },
        )
        .map_err(|_| SealError::DoesNotOpen)
}

/// `prefix ‖ len(stream) ‖ stream ‖ len(field) ‖ field`, lengths as 8 bytes big-endian:
/// unambiguous whatever bytes the names hold.
fn field_ad(stream: &str, field: &str) -> Vec<u8> {
    let mut ad = Vec::with_capacity(FIELD_AD_PREFIX.len() + 16 + stream.len() + field.len());
    ad.extend_from_slice(FIELD_AD_PREFIX);
    for part in [stream, field] {
        ad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        ad.extend_from_slice(part.as_bytes());
    }
    ad
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "user-0190b0c8-7d2a-7c3e-9f1a-2b3c4d5e6f70";
    const NAME: &str = "Alice Example";

    #[test]
    fn opens_what_it_sealed() {
        let key = SubjectKey::generate();
        let sealed = key.seal_str(STREAM, "name", NAME);
        assert_eq!(key.open_string(STREAM, "name", &sealed).unwrap(), NAME);
        let empty = key.seal(STREAM, "phone", b"");
        assert_eq!(key.open(STREAM, "phone", &empty).unwrap(), b"");
    }

    #[test]
    fn the_same_text_seals_differently_each_time() {
        let key = SubjectKey::generate();
        assert_ne!(
            key.seal_str(STREAM, "name", NAME),
            key.seal_str(STREAM, "name", NAME)
        );
    }

    #[test]
    fn does_not_open_in_another_place_or_under_another_key() {
        let key = SubjectKey::generate();
        let sealed = key.seal_str(STREAM, "name", NAME);
        let other_stream = "user-0190b0c8-7d2a-7c3e-9f1a-2b3c4d5e6f71";
        assert_eq!(
            key.open(other_stream, "name", &sealed),
            Err(SealError::DoesNotOpen)
        );
        assert_eq!(
            key.open(STREAM, "email", &sealed),
            Err(SealError::DoesNotOpen)
        );
        assert_eq!(
            SubjectKey::generate().open(STREAM, "name", &sealed),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn stream_and_field_cannot_trade_bytes() {
        let key = SubjectKey::generate();
        let sealed = key.seal_str("user-1", "name", NAME);
        assert_eq!(
            key.open("user-1n", "ame", &sealed),
            Err(SealError::DoesNotOpen)
        );
        assert_eq!(
            key.open("user-", "1name", &sealed),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn a_flipped_byte_anywhere_fails() {
        let key = SubjectKey::generate();
        let sealed = key.seal_str(STREAM, "name", NAME);
        let bytes = URL_SAFE_NO_PAD.decode(sealed.body()).unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x80;
            let bad =
                Sealed::parse(&format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bad))).unwrap();
            assert_eq!(
                key.open(STREAM, "name", &bad),
                Err(SealError::DoesNotOpen),
                "byte {i}"
            );
        }
    }

    #[test]
    fn the_text_is_domain_sealed_and_hides_the_plaintext() {
        let key = SubjectKey::generate();
        let sealed = key.seal_str(STREAM, "name", NAME);
        let text = sealed.as_str();
        assert_eq!(Sealed::parse(text).unwrap(), sealed);
        assert!(text.starts_with("aes256gcm:"));
        let bytes = URL_SAFE_NO_PAD.decode(sealed.body()).unwrap();
        assert_eq!(bytes.len(), NONCE_LEN + NAME.len() + 16);
        assert!(!text.contains(NAME));
        assert!(!text.contains("Alice"));
        assert!(!bytes.windows(NAME.len()).any(|w| w == NAME.as_bytes()));
    }

    #[test]
    fn binary_that_is_not_text_is_refused_as_a_string() {
        let key = SubjectKey::generate();
        let sealed = key.seal(STREAM, "name", &[0xff, 0xfe]);
        assert_eq!(
            key.open_string(STREAM, "name", &sealed),
            Err(SealError::NotText)
        );
    }
}
