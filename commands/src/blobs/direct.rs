//! Writing a large blob past the page cache (`O_DIRECT`), in aligned 2 MiB chunks.
//!
//! Why: measured per GiB uploaded, copying the blob into the page cache, ext4's delayed
//! allocation and building its writeback a 4 KiB page at a time cost the server about
//! 0.45 core-seconds, more than encrypting it; and the pages then pushed PostgreSQL's out
//! of memory though nobody would read the blob soon. A direct write hands the disk one
//! aligned chunk from one buffer, and the kernel copies nothing.
//!
//! By hand because the crates that do it allocate aligned memory with `unsafe`; here the
//! aligned chunk is a window into an ordinary `Vec`, a page larger than the chunk.
//! The tail (under a chunk, so not aligned) is written through the page cache once the
//! file has left direct mode; `finish` then syncs the file. A filesystem that refuses
//! direct writes (at `open`, or at the first write) gets the same bytes buffered.

use rustix::fs::OFlags;
use std::{
    fs::{File, OpenOptions},
    io,
    os::unix::fs::{FileExt as _, OpenOptionsExt as _},
    path::Path,
};

/// Memory and file offsets of direct writes are multiples of this: the largest logical
/// block size of common disks.
const ALIGN: usize = 4096;
/// Bytes a direct write hands the disk: large enough for the disk's full rate, small
/// enough that it writes one while the next is being filled.
pub(super) const CHUNK: usize = 2 << 20;

pub(super) struct DirectFile {
    file: File,
    /// `CHUNK + ALIGN` bytes; the chunk is the aligned window at `start`.
    buffer: Vec<u8>,
    start: usize,
    filled: usize,
    /// Where the chunk goes in the file.
    offset: u64,
    direct: bool,
}

impl DirectFile {
    /// Creates `path` for direct writes; `None` when its filesystem does not take them.
    pub(super) fn create(path: &Path) -> io::Result<Option<Self>> {
        let opened = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(OFlags::DIRECT.bits() as i32)
            .open(path);
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let buffer = vec![0u8; CHUNK + ALIGN];
        let start = (ALIGN - buffer.as_ptr() as usize % ALIGN) % ALIGN;
        Ok(Some(Self {
            file,
            buffer,
            start,
            filled: 0,
            offset: 0,
            direct: true,
        }))
    }

    pub(super) fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = (CHUNK - self.filled).min(bytes.len());
            let at = self.start + self.filled;
            self.buffer[at..at + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            if self.filled == CHUNK {
                self.write_chunk()?;
            }
        }
        Ok(())
    }

    /// Writes the tail, then waits until every byte is on stable storage.
    pub(super) fn finish(mut self) -> io::Result<()> {
        if self.filled > 0 {
            self.leave_direct_mode()?;
            self.write_chunk()?;
        }
        self.file.sync_all()
    }

    fn write_chunk(&mut self) -> io::Result<()> {
        let chunk = &self.buffer[self.start..self.start + self.filled];
        match self.file.write_all_at(chunk, self.offset) {
            Ok(()) => {}
            // Opened direct, but this filesystem wants another alignment: write buffered.
            // At an explicit offset, a retry writes each byte where it belongs.
            Err(e)
                if self.direct
                    && e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) =>
            {
                self.leave_direct_mode()?;
                let chunk = &self.buffer[self.start..self.start + self.filled];
                self.file.write_all_at(chunk, self.offset)?;
            }
            Err(e) => return Err(e),
        }
        self.offset += self.filled as u64;
        self.filled = 0;
        Ok(())
    }

    fn leave_direct_mode(&mut self) -> io::Result<()> {
        if self.direct {
            let flags = rustix::fs::fcntl_getfl(&self.file)?;
            rustix::fs::fcntl_setfl(&self.file, flags - OFlags::DIRECT)?;
            self.direct = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes no two chunks share, so a chunk written at the wrong offset shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1])
            .collect()
    }

    fn written(sizes: &[usize]) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let data = pattern(sizes.iter().sum());
        let mut file = DirectFile::create(&path)
            .unwrap()
            .expect("this test's filesystem takes direct writes");
        let mut rest = data.as_slice();
        for &size in sizes {
            let (piece, after) = rest.split_at(size);
            file.write(piece).unwrap();
            rest = after;
        }
        assert!(file.direct, "aligned chunks were taken directly");
        file.finish().unwrap();
        (std::fs::read(&path).unwrap(), data)
    }

    #[test]
    fn pieces_of_any_size_land_in_order_with_an_unaligned_tail() {
        let (got, want) = written(&[1, 262_160, CHUNK - 7, 3 * CHUNK + 5, 4095, 17]);
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the file differs from what was written");
    }

    #[test]
    fn a_chunk_the_disk_refuses_to_take_directly_is_written_buffered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let mut file = DirectFile::create(&path).unwrap().unwrap();
        // Memory one byte off any block boundary: no disk takes it directly.
        file.start += 1;
        let data = pattern(2 * CHUNK + 100);
        file.write(&data).unwrap();
        assert!(
            !file.direct,
            "the refused chunk moved the file to buffered writes"
        );
        file.finish().unwrap();
        assert!(std::fs::read(&path).unwrap() == data);
    }

    #[test]
    fn whole_chunks_and_an_empty_file_are_written_exactly() {
        let (got, want) = written(&[CHUNK, CHUNK]);
        assert!(got == want);
        let (got, want) = written(&[]);
        assert!(got.is_empty() && want.is_empty());
    }
}
