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
//! incremental and hold one block at most, so memory stays bounded whatever the file's
//! size; and both work in place, in the block that is handed on (`Tail`): sealing fills a
//! block with plaintext and encrypts each segment where it lies, opening appends each
//! segment's ciphertext to the block and decrypts it there, so no byte is copied twice.

use crate::keys::DataKey;
use aead_stream::{NewStream as _, StreamBE32, StreamPrimitive as _};
use aes_gcm::{Aes256Gcm, aead};
use rand::RngCore;
use uuid::Uuid;

pub const SEGMENT: usize = 64 * 1024;
pub const TAG: usize = 16;
pub const HEADER: usize = 16;
const MAGIC: &[u8; 4] = b"MCHB";
const VERSION: u8 = 1;
const PREFIX: usize = 7;
/// A sealed segment as stored.
const SEALED: usize = SEGMENT + TAG;

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
    #[error("the blob is not of the size its record says")]
    Size,
    #[error("the file is too large for one blob")]
    TooLong,
}

fn aad(header: &[u8; HEADER], record: Uuid) -> [u8; HEADER + 16] {
    let mut aad = [0u8; HEADER + 16];
    aad[..HEADER].copy_from_slice(header);
    aad[HEADER..].copy_from_slice(record.as_bytes());
    aad
}

/// The bytes of a vector from `from` on, as the AEAD's in-place buffer: a segment is
/// sealed or opened where it lies, in the block that is handed on, without a copy.
struct Tail<'a> {
    vec: &'a mut Vec<u8>,
    from: usize,
}

impl AsRef<[u8]> for Tail<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.vec[self.from..]
    }
}

impl AsMut<[u8]> for Tail<'_> {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.vec[self.from..]
    }
}

impl aead::Buffer for Tail<'_> {
    fn extend_from_slice(&mut self, other: &[u8]) -> aead::Result<()> {
        self.vec.extend_from_slice(other);
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        self.vec.truncate(self.from + len);
    }
}

/// Encrypts a file as it arrives, into blocks of about `block` bytes of ciphertext.
pub struct Sealer {
    stream: StreamBE32<Aes256Gcm>,
    aad: [u8; HEADER + 16],
    block_size: usize,
    /// Sealed segments, then the plaintext of the segment being filled (`pending` bytes).
    block: Vec<u8>,
    pending: usize,
    counter: u32,
    plaintext: u64,
    ciphertext: u64,
}

impl Sealer {
    pub fn new(key: &DataKey, record: Uuid, block_size: usize) -> Self {
        let mut prefix = [0u8; PREFIX];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(MAGIC);
        header[4] = VERSION;
        header[5..9].copy_from_slice(&(SEGMENT as u32).to_be_bytes());
        header[9..].copy_from_slice(&prefix);
        Self::with_header(key, record, header, block_size)
            .expect("a header made here is of this format")
    }

    /// Seals again under a blob's own header (its nonce prefix): what an export's checker
    /// does to show a file is the one whose ciphertext the ledger names (DESIGN.md §12).
    pub fn with_header(
        key: &DataKey,
        record: Uuid,
        header: [u8; HEADER],
        block_size: usize,
    ) -> Result<Self, BlobCorrupt> {
        if &header[..4] != MAGIC
            || header[4] != VERSION
            || header[5..9] != (SEGMENT as u32).to_be_bytes()
        {
            return Err(BlobCorrupt::Header);
        }
        let prefix: [u8; PREFIX] = header[9..].try_into().expect("seven bytes");
        let mut block = Self::fresh(block_size);
        block.extend_from_slice(&header);
        Ok(Self {
            stream: StreamBE32::from_aead(key.cipher(), &prefix.into()),
            aad: aad(&header, record),
            block_size,
            block,
            pending: 0,
            counter: 0,
            plaintext: 0,
            ciphertext: 0,
        })
    }

    fn fresh(block_size: usize) -> Vec<u8> {
        Vec::with_capacity(block_size + 2 * SEALED)
    }

    /// Takes the next plaintext bytes; hands each full block of ciphertext to `emit`,
    /// which answers whether to go on.
    pub fn push(
        &mut self,
        mut data: &[u8],
        emit: &mut impl FnMut(Vec<u8>) -> bool,
    ) -> Result<(), BlobCorrupt> {
        self.plaintext += data.len() as u64;
        while !data.is_empty() {
            // A full segment is sealed only once more bytes prove it is not the last.
            if self.pending == SEGMENT {
                self.seal_pending(false)?;
                if self.block.len() >= self.block_size && !self.emit(emit) {
                    return Err(BlobCorrupt::Truncated);
                }
            }
            let take = (SEGMENT - self.pending).min(data.len());
            self.block.extend_from_slice(&data[..take]);
            self.pending += take;
            data = &data[take..];
        }
        Ok(())
    }

    /// Seals the last segment and hands over the rest; returns the plaintext and
    /// ciphertext sizes.
    pub fn finish(
        mut self,
        emit: &mut impl FnMut(Vec<u8>) -> bool,
    ) -> Result<(u64, u64), BlobCorrupt> {
        self.seal_pending(true)?;
        if !self.emit(emit) {
            return Err(BlobCorrupt::Truncated);
        }
        Ok((self.plaintext, self.ciphertext))
    }

    fn emit(&mut self, emit: &mut impl FnMut(Vec<u8>) -> bool) -> bool {
        let block = std::mem::replace(&mut self.block, Self::fresh(self.block_size));
        self.ciphertext += block.len() as u64;
        emit(block)
    }

    fn seal_pending(&mut self, last: bool) -> Result<(), BlobCorrupt> {
        if self.counter == u32::MAX {
            return Err(BlobCorrupt::TooLong);
        }
        let from = self.block.len() - self.pending;
        self.stream
            .encrypt_in_place(
                self.counter,
                last,
                &self.aad,
                &mut Tail {
                    vec: &mut self.block,
                    from,
                },
            )
            .map_err(|_| BlobCorrupt::TooLong)?;
        self.pending = 0;
        self.counter += 1;
        Ok(())
    }
}

/// Decrypts a blob of a known size, pulled a piece at a time: `next_len` says how many
/// bytes to append next, `open` takes them. The last segment is known from the size, so
/// a blob cut at a segment boundary fails (its new last segment was not sealed as last).
pub struct Opener {
    key: DataKey,
    record: Uuid,
    stream: Option<(StreamBE32<Aes256Gcm>, [u8; HEADER + 16])>,
    /// Segments, and the stored size of the last one.
    segments: u32,
    last_len: usize,
    counter: u32,
    header: Option<[u8; HEADER]>,
}

impl Opener {
    /// `stored`: the blob's size as recorded when it was written.
    pub fn new(key: DataKey, record: Uuid, stored: u64) -> Result<Self, BlobCorrupt> {
        let body = stored.checked_sub(HEADER as u64).ok_or(BlobCorrupt::Size)?;
        let segments = body.div_ceil(SEALED as u64).max(1);
        let last_len = body - (segments - 1) * SEALED as u64;
        // An empty segment is only ever the whole of an empty file.
        if last_len < TAG as u64 || (last_len == TAG as u64 && segments > 1) {
            return Err(BlobCorrupt::Size);
        }
        Ok(Self {
            key,
            record,
            stream: None,
            segments: u32::try_from(segments).map_err(|_| BlobCorrupt::TooLong)?,
            last_len: last_len as usize,
            counter: 0,
            header: None,
        })
    }

    /// The blob's header, once read.
    pub fn header(&self) -> Option<[u8; HEADER]> {
        self.header
    }

    /// How many bytes come next (the header, then each segment); `None` at the end.
    pub fn next_len(&self) -> Option<usize> {
        let (counter, segments) = (u64::from(self.counter), u64::from(self.segments));
        match &self.stream {
            None => Some(HEADER),
            Some(_) if counter + 1 < segments => Some(SEALED),
            Some(_) if counter + 1 == segments => Some(self.last_len),
            Some(_) => None,
        }
    }

    /// Takes the `next_len` bytes at `buf[from..]`: a header is checked and removed; a
    /// segment is opened in place, leaving its plaintext.
    pub fn open(&mut self, buf: &mut Vec<u8>, from: usize) -> Result<(), BlobCorrupt> {
        let expected = self.next_len().ok_or(BlobCorrupt::Size)?;
        if buf.len() - from != expected {
            return Err(BlobCorrupt::Truncated);
        }
        let Some((stream, aad)) = &self.stream else {
            let header: [u8; HEADER] = buf[from..].try_into().expect("a full header");
            buf.truncate(from);
            return self.read_header(header);
        };
        let last = u64::from(self.counter) + 1 == u64::from(self.segments);
        stream
            .decrypt_in_place(self.counter, last, aad, &mut Tail { vec: buf, from })
            .map_err(|_| BlobCorrupt::Segment(self.counter))?;
        self.counter += 1;
        Ok(())
    }

    fn read_header(&mut self, header: [u8; HEADER]) -> Result<(), BlobCorrupt> {
        if &header[..4] != MAGIC
            || header[4] != VERSION
            || header[5..9] != (SEGMENT as u32).to_be_bytes()
        {
            return Err(BlobCorrupt::Header);
        }
        let prefix: [u8; PREFIX] = header[9..].try_into().expect("seven bytes");
        self.header = Some(header);
        self.stream = Some((
            StreamBE32::from_aead(self.key.cipher(), &prefix.into()),
            aad(&header, self.record),
        ));
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

    #[test]
    fn sealing_again_under_the_blobs_header_gives_the_same_blob() {
        let key = DataKey::generate();
        let plain = data(3 * SEGMENT + 77);
        let blob = seal_in(&key, &plain, 1000, 4 * SEALED);
        let header: [u8; HEADER] = blob[..HEADER].try_into().unwrap();
        let mut again = Sealer::with_header(&key, RECORD, header, 4 * SEALED).unwrap();
        let mut out = Vec::new();
        let mut emit = |b: Vec<u8>| {
            out.extend_from_slice(&b);
            true
        };
        again.push(&plain, &mut emit).unwrap();
        again.finish(&mut emit).unwrap();
        assert_eq!(out, blob);
        let mut bad = header;
        bad[0] = b'X';
        assert!(Sealer::with_header(&key, RECORD, bad, 4 * SEALED).is_err());
    }

    /// Seals `plain` fed in pieces of `piece` bytes, in blocks of `block` bytes.
    fn seal_in(key: &DataKey, plain: &[u8], piece: usize, block: usize) -> Vec<u8> {
        let mut sealer = Sealer::new(key, RECORD, block);
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        let mut emit = |b: Vec<u8>| {
            blocks.push(b);
            true
        };
        for chunk in plain.chunks(piece.max(1)) {
            sealer.push(chunk, &mut emit).unwrap();
        }
        let (plaintext, ciphertext) = sealer.finish(&mut emit).unwrap();
        assert_eq!(plaintext, plain.len() as u64);
        let blob = blocks.concat();
        assert_eq!(ciphertext, blob.len() as u64);
        blob
    }

    fn seal(key: &DataKey, plain: &[u8], piece: usize) -> Vec<u8> {
        seal_in(key, plain, piece, 4 * SEGMENT)
    }

    /// Opens `blob` as recorded with size `stored`, reading it as a file is read.
    fn open_as(
        key: &DataKey,
        record: Uuid,
        blob: &[u8],
        stored: u64,
    ) -> Result<Vec<u8>, BlobCorrupt> {
        let mut opener = Opener::new(key.clone(), record, stored)?;
        let mut rest = blob;
        let mut out = Vec::new();
        while let Some(n) = opener.next_len() {
            let from = out.len();
            let take = n.min(rest.len());
            out.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            opener.open(&mut out, from)?;
        }
        if !rest.is_empty() {
            return Err(BlobCorrupt::Size);
        }
        Ok(out)
    }

    fn open(key: &DataKey, blob: &[u8]) -> Result<Vec<u8>, BlobCorrupt> {
        open_as(key, RECORD, blob, blob.len() as u64)
    }

    #[test]
    fn round_trips_at_every_boundary_in_any_pieces_and_blocks() {
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
                for block in [1, SEGMENT, 3 * SEGMENT + 5] {
                    let blob = seal_in(&key, &plain, piece, block);
                    assert_eq!(blob.len() as u64, stored_size(len as u64), "{len}");
                    assert_eq!(open(&key, &blob).unwrap(), plain, "{len}/{piece}/{block}");
                }
            }
        }
    }

    #[test]
    fn blocks_are_about_the_block_size() {
        let key = DataKey::generate();
        let mut sealer = Sealer::new(&key, RECORD, 4 * SEGMENT);
        let mut sizes = Vec::new();
        let mut emit = |b: Vec<u8>| {
            sizes.push(b.len());
            true
        };
        sealer.push(&data(20 * SEGMENT), &mut emit).unwrap();
        sealer.finish(&mut emit).unwrap();
        assert!(
            sizes[..sizes.len() - 1]
                .iter()
                .all(|&s| (4 * SEGMENT..5 * SEALED).contains(&s)),
            "{sizes:?}"
        );
    }

    #[test]
    fn a_stopped_receiver_stops_the_sealer() {
        let key = DataKey::generate();
        let mut sealer = Sealer::new(&key, RECORD, SEGMENT);
        let mut emit = |_: Vec<u8>| false;
        assert_eq!(
            sealer.push(&data(3 * SEGMENT), &mut emit),
            Err(BlobCorrupt::Truncated)
        );
    }

    #[test]
    fn a_flipped_bit_anywhere_fails() {
        let key = DataKey::generate();
        let blob = seal(&key, &data(2 * SEGMENT + 5), 10_000);
        for at in [0, 5, 12, HEADER, HEADER + SEGMENT + 20, blob.len() - 1] {
            let mut bad = blob.clone();
            bad[at] ^= 0x01;
            assert!(open(&key, &bad).is_err(), "bit at {at}");
        }
    }

    #[test]
    fn truncation_at_or_inside_a_segment_fails_whatever_size_is_believed() {
        let key = DataKey::generate();
        let blob = seal(&key, &data(3 * SEGMENT + 5), 10_000);
        let boundary = HEADER + 3 * SEALED;
        for cut in [boundary, boundary - 1, HEADER + SEALED, HEADER, 3] {
            // Against the recorded size, and as if the record said the cut size.
            assert!(
                open_as(&key, RECORD, &blob[..cut], blob.len() as u64).is_err(),
                "cut at {cut}"
            );
            assert!(
                open(&key, &blob[..cut]).is_err(),
                "cut at {cut}, size believed"
            );
        }
    }

    #[test]
    fn bytes_beyond_the_recorded_size_fail() {
        let key = DataKey::generate();
        let mut blob = seal(&key, &data(SEGMENT + 5), 10_000);
        let stored = blob.len() as u64;
        blob.extend_from_slice(b"more");
        assert_eq!(open_as(&key, RECORD, &blob, stored), Err(BlobCorrupt::Size));
    }

    #[test]
    fn sizes_no_blob_can_have_are_refused() {
        let key = DataKey::generate();
        for stored in [
            0,
            HEADER as u64 - 1,
            HEADER as u64,
            (HEADER + TAG) as u64 - 1,
            (HEADER + SEALED + 3) as u64,
            (HEADER + SEALED + TAG) as u64,
        ] {
            assert_eq!(
                Opener::new(key.clone(), RECORD, stored).err(),
                Some(BlobCorrupt::Size),
                "{stored}"
            );
        }
    }

    #[test]
    fn swapped_segments_fail() {
        let key = DataKey::generate();
        let blob = seal(&key, &data(3 * SEGMENT + 5), 10_000);
        let seg = SEALED;
        let mut swapped = blob[..HEADER].to_vec();
        swapped.extend_from_slice(&blob[HEADER + seg..HEADER + 2 * seg]);
        swapped.extend_from_slice(&blob[HEADER..HEADER + seg]);
        swapped.extend_from_slice(&blob[HEADER + 2 * seg..]);
        assert_eq!(open(&key, &swapped), Err(BlobCorrupt::Segment(0)));
    }

    #[test]
    fn another_key_or_record_does_not_open_it() {
        let key = DataKey::generate();
        let blob = seal(&key, &data(100), 100);
        assert!(open(&DataKey::generate(), &blob).is_err());
        assert!(open_as(&key, Uuid::from_u128(8), &blob, blob.len() as u64).is_err());
    }

    #[test]
    fn a_spliced_segment_from_another_file_fails() {
        let key = DataKey::generate();
        let a = seal(&key, &data(2 * SEGMENT + 1), 10_000);
        let b = seal(&key, &data(2 * SEGMENT + 1), 10_000);
        let seg = SEALED;
        let mut spliced = a[..HEADER + seg].to_vec();
        spliced.extend_from_slice(&b[HEADER + seg..]);
        assert!(open(&key, &spliced).is_err());
    }
}
