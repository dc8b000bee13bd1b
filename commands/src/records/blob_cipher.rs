//! The file blob format (DESIGN.md §8): a 16-byte header, then the file as a stream of
//! AES-256-GCM segments of 64 KiB plaintext each, the STREAM construction of Hoang,
//! Reyhanitabar, Rogaway and Vizár as `aead-stream` implements it (`StreamBE32`): each
//! segment's nonce is the file's random 7-byte prefix, the segment's 32-bit big-endian
//! counter and a last-segment flag. So reordering, dropping, repeating or splicing
//! segments, or cutting the file short at a segment boundary, all fail authentication.
//!
//! ```text
//! header   "MCHB" | version (1) | segment size, u32 BE (65536) | nonce prefix (7)
//! segment  ciphertext of 64 KiB (the last: 0..=64 KiB) | tag (16)
//! ```
//!
//! Every segment's associated data is the header and the record id, so the header cannot
//! be altered and a blob cannot be passed off as another record's. Both directions are
//! incremental state machines over byte slices of any size, holding one segment at most:
//! memory stays bounded whatever the file's size.

use crate::keys::DataKey;
use aead_stream::{NewStream as _, StreamBE32, StreamPrimitive as _};
use aes_gcm::Aes256Gcm;
use rand::RngCore;
use uuid::Uuid;

pub const SEGMENT: usize = 64 * 1024;
pub const TAG: usize = 16;
pub const HEADER: usize = 16;
const MAGIC: &[u8; 4] = b"MCHB";
const VERSION: u8 = 1;
const PREFIX: usize = 7;

/// The ciphertext size of a file of `plaintext` bytes.
pub fn stored_size(plaintext: u64) -> u64 {
    let segments = plaintext.div_ceil(SEGMENT as u64).max(1);
    HEADER as u64 + plaintext + segments * TAG as u64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlobCorrupt {
    #[error("the blob does not start with a MedChain header of a known version")]
    Header,
    #[error("segment {0} does not authenticate (altered, reordered, or from another file)")]
    Segment(u32),
    #[error("the blob ends early, or is missing its last segment")]
    Truncated,
    #[error("the file is too large for one blob")]
    TooLong,
}

fn aad(header: &[u8; HEADER], record: Uuid) -> [u8; HEADER + 16] {
    let mut aad = [0u8; HEADER + 16];
    aad[..HEADER].copy_from_slice(header);
    aad[HEADER..].copy_from_slice(record.as_bytes());
    aad
}

/// Encrypts a file as it arrives.
pub struct Sealer {
    stream: StreamBE32<Aes256Gcm>,
    header: [u8; HEADER],
    aad: [u8; HEADER + 16],
    pending: Vec<u8>,
    counter: u32,
    header_written: bool,
    plaintext: u64,
}

impl Sealer {
    pub fn new(key: &DataKey, record: Uuid) -> Self {
        let mut prefix = [0u8; PREFIX];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(MAGIC);
        header[4] = VERSION;
        header[5..9].copy_from_slice(&(SEGMENT as u32).to_be_bytes());
        header[9..].copy_from_slice(&prefix);
        Self {
            stream: StreamBE32::from_aead(key.cipher(), &prefix.into()),
            header,
            aad: aad(&header, record),
            pending: Vec::with_capacity(SEGMENT + TAG),
            counter: 0,
            header_written: false,
            plaintext: 0,
        }
    }

    /// Takes the next plaintext bytes; appends to `out` the ciphertext that is ready.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), BlobCorrupt> {
        self.write_header(out);
        self.plaintext += data.len() as u64;
        while !data.is_empty() {
            // A full segment is sealed only once more bytes prove it is not the last.
            if self.pending.len() == SEGMENT {
                self.seal_pending(false, out)?;
            }
            let take = (SEGMENT - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// Seals the last segment; returns the plaintext size.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<u64, BlobCorrupt> {
        self.write_header(out);
        self.seal_pending(true, out)?;
        Ok(self.plaintext)
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            out.extend_from_slice(&self.header);
            self.header_written = true;
        }
    }

    fn seal_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), BlobCorrupt> {
        if self.counter == u32::MAX {
            return Err(BlobCorrupt::TooLong);
        }
        self.stream
            .encrypt_in_place(self.counter, last, &self.aad, &mut self.pending)
            .map_err(|_| BlobCorrupt::TooLong)?;
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        self.counter += 1;
        Ok(())
    }
}

/// Decrypts a blob as it is read.
pub struct Opener {
    key: DataKey,
    record: Uuid,
    stream: Option<(StreamBE32<Aes256Gcm>, [u8; HEADER + 16])>,
    pending: Vec<u8>,
    counter: u32,
}

impl Opener {
    pub fn new(key: DataKey, record: Uuid) -> Self {
        Self {
            key,
            record,
            stream: None,
            pending: Vec::with_capacity(SEGMENT + TAG),
            counter: 0,
        }
    }

    /// Takes the next blob bytes; appends to `out` the plaintext that authenticated.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), BlobCorrupt> {
        while !data.is_empty() {
            if self.stream.is_none() {
                let take = (HEADER - self.pending.len()).min(data.len());
                self.pending.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.pending.len() == HEADER {
                    self.read_header()?;
                }
                continue;
            }
            if self.pending.len() == SEGMENT + TAG {
                self.open_pending(false, out)?;
            }
            let take = (SEGMENT + TAG - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// The blob ended: what is left must be the last segment.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), BlobCorrupt> {
        if self.stream.is_none() || self.pending.len() < TAG {
            return Err(BlobCorrupt::Truncated);
        }
        self.open_pending(true, out)
    }

    fn read_header(&mut self) -> Result<(), BlobCorrupt> {
        let header: [u8; HEADER] = self.pending[..].try_into().expect("a full header");
        if &header[..4] != MAGIC
            || header[4] != VERSION
            || header[5..9] != (SEGMENT as u32).to_be_bytes()
        {
            return Err(BlobCorrupt::Header);
        }
        let prefix: [u8; PREFIX] = header[9..].try_into().expect("seven bytes");
        self.stream = Some((
            StreamBE32::from_aead(self.key.cipher(), &prefix.into()),
            aad(&header, self.record),
        ));
        self.pending.clear();
        Ok(())
    }

    fn open_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), BlobCorrupt> {
        let (stream, aad) = self.stream.as_ref().ok_or(BlobCorrupt::Truncated)?;
        if self.counter == u32::MAX {
            return Err(BlobCorrupt::TooLong);
        }
        stream
            .decrypt_in_place(self.counter, last, aad, &mut self.pending)
            .map_err(|_| BlobCorrupt::Segment(self.counter))?;
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        self.counter += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: Uuid = Uuid::from_u128(7);

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Seals `plain` fed in pieces of `piece` bytes.
    fn seal(key: &DataKey, plain: &[u8], piece: usize) -> Vec<u8> {
        let mut sealer = Sealer::new(key, RECORD);
        let mut out = Vec::new();
        for chunk in plain.chunks(piece.max(1)) {
            sealer.push(chunk, &mut out).unwrap();
        }
        assert_eq!(sealer.finish(&mut out).unwrap(), plain.len() as u64);
        out
    }

    fn open(key: &DataKey, blob: &[u8], piece: usize) -> Result<Vec<u8>, BlobCorrupt> {
        let mut opener = Opener::new(key.clone(), RECORD);
        let mut out = Vec::new();
        for chunk in blob.chunks(piece.max(1)) {
            opener.push(chunk, &mut out)?;
        }
        opener.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_at_every_boundary_and_in_any_pieces() {
        let key = DataKey::generate();
        for len in [
            0,
            1,
            SEGMENT - 1,
            SEGMENT,
            SEGMENT + 1,
            3 * SEGMENT,
            3 * SEGMENT + 17,
        ] {
            let plain = data(len);
            for piece in [1_000, 7_919, SEGMENT, 200_000] {
                let blob = seal(&key, &plain, piece);
                assert_eq!(blob.len() as u64, stored_size(len as u64), "{len}");
                assert_eq!(
                    open(&key, &blob, piece / 3 + 1).unwrap(),
                    plain,
                    "{len}/{piece}"
                );
            }
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_fails() {
        let key = DataKey::generate();
        let blob = seal(&key, &data(2 * SEGMENT + 5), 10_000);
        for at in [0, 5, 12, HEADER, HEADER + SEGMENT + 20, blob.len() - 1] {
            let mut bad = blob.clone();
            bad[at] ^= 0x01;
            assert!(open(&key, &bad, 4_096).is_err(), "bit at {at}");
        }
    }

    #[test]
    fn truncation_at_or_inside_a_segment_fails() {
        let key = DataKey::generate();
        let blob = seal(&key, &data(3 * SEGMENT + 5), 10_000);
        let boundary = HEADER + 3 * (SEGMENT + TAG);
        for cut in [boundary, boundary - 1, HEADER + SEGMENT + TAG, HEADER, 3] {
            assert!(open(&key, &blob[..cut], 4_096).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn swapped_segments_fail() {
        let key = DataKey::generate();
        let blob = seal(&key, &data(3 * SEGMENT + 5), 10_000);
        let seg = SEGMENT + TAG;
        let mut swapped = blob[..HEADER].to_vec();
        swapped.extend_from_slice(&blob[HEADER + seg..HEADER + 2 * seg]);
        swapped.extend_from_slice(&blob[HEADER..HEADER + seg]);
        swapped.extend_from_slice(&blob[HEADER + 2 * seg..]);
        assert_eq!(open(&key, &swapped, 4_096), Err(BlobCorrupt::Segment(0)));
    }

    #[test]
    fn another_key_or_record_does_not_open_it() {
        let key = DataKey::generate();
        let blob = seal(&key, &data(100), 100);
        assert!(open(&DataKey::generate(), &blob, 100).is_err());
        let mut opener = Opener::new(key, Uuid::from_u128(8));
        let mut out = Vec::new();
        opener.push(&blob, &mut out).unwrap();
        assert!(opener.finish(&mut out).is_err());
    }

    #[test]
    fn a_spliced_segment_from_another_file_fails() {
        let key = DataKey::generate();
        let a = seal(&key, &data(2 * SEGMENT + 1), 10_000);
        let b = seal(&key, &data(2 * SEGMENT + 1), 10_000);
        let seg = SEGMENT + TAG;
        let mut spliced = a[..HEADER + seg].to_vec();
        spliced.extend_from_slice(&b[HEADER + seg..]);
        assert!(open(&key, &spliced, 4_096).is_err());
    }
}
