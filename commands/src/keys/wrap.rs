//! The one AES-256-GCM key wrap every stored key uses (a subject key under its epoch key,
//! a data key under its owner's key and then its epoch key, an epoch key under the master
//! key): `nonce ‖ ciphertext ‖ tag`, a fresh random 96-bit nonce each time, and associated
//! data that binds the wrap to its place (the subject or record id, the epoch number), so
//! a wrapped key copied to another row, or read as another epoch's, does not open.

use aes_gcm::{
    Aes256Gcm,
    aead::{Aead, Nonce, Payload},
};
use rand::RngCore;

pub(super) const NONCE_LEN: usize = 12;
pub(super) const TAG_LEN: usize = 16;

/// A wrapped key did not open: another key, another place, or damage. One case, as the
/// cipher gives no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UnwrapFailed;

pub(super) fn wrap(cipher: &Aes256Gcm, ad: &[u8], key: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            &Nonce::<Aes256Gcm>::from(nonce),
            Payload { msg: key, aad: ad },
        )
        .expect("AES-GCM refuses only inputs over 64 GiB");
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// Opens what `wrap` made of a `LEN`-byte key.
pub(super) fn unwrap<const LEN: usize>(
    cipher: &Aes256Gcm,
    ad: &[u8],
    wrapped: &[u8],
) -> Result<[u8; LEN], UnwrapFailed> {
    if wrapped.len() != NONCE_LEN + LEN + TAG_LEN {
        return Err(UnwrapFailed);
    }
    let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
    let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| UnwrapFailed)?;
    let key = cipher
        .decrypt(
            &nonce,
            Payload {
                msg: sealed,
                aad: ad,
            },
        )
        .map_err(|_| UnwrapFailed)?;
    key.try_into().map_err(|_| UnwrapFailed)
}

/// `prefix ‖ id ‖ epoch (4 bytes, big-endian)`: fixed length after the prefix.
pub(super) fn ad(prefix: &[u8], id: uuid::Uuid, epoch: Option<u32>) -> Vec<u8> {
    let mut ad = Vec::with_capacity(prefix.len() + 20);
    ad.extend_from_slice(prefix);
    ad.extend_from_slice(id.as_bytes());
    if let Some(epoch) = epoch {
        ad.extend_from_slice(&epoch.to_be_bytes());
    }
    ad
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::KeyInit;

    #[test]
    fn opens_only_with_its_key_and_place() {
        let cipher = Aes256Gcm::new(&[1u8; 32].into());
        let place = ad(b"p|", uuid::Uuid::from_u128(1), Some(2));
        let wrapped = wrap(&cipher, &place, &[9u8; 32]);
        assert_eq!(wrapped.len(), 60);
        assert_eq!(unwrap::<32>(&cipher, &place, &wrapped), Ok([9u8; 32]));
        let other_epoch = ad(b"p|", uuid::Uuid::from_u128(1), Some(3));
        assert!(unwrap::<32>(&cipher, &other_epoch, &wrapped).is_err());
        let other_key = Aes256Gcm::new(&[2u8; 32].into());
        assert!(unwrap::<32>(&other_key, &place, &wrapped).is_err());
        assert!(unwrap::<32>(&cipher, &place, &wrapped[1..]).is_err());
        let mut bad = wrapped.clone();
        bad[20] ^= 1;
        assert!(unwrap::<32>(&cipher, &place, &bad).is_err());
        assert_ne!(wrap(&cipher, &place, &[9u8; 32]), wrapped, "a fresh nonce");
    }
}
