//! Writing a blob directly: whole chunks as they fill; the tail (under a chunk, so not
//! aligned) through the page cache once the file has left direct mode, then one sync.

use super::{CHUNK, Chunk, leave_direct_mode, refused};
use std::{
    fs::{File, OpenOptions},
    io,
    os::unix::fs::FileExt as _,
    path::Path,
};

pub(in crate::blobs) struct DirectWriter {
    file: File,
    chunk: Chunk,
    /// Where the chunk goes in the file.
    offset: u64,
    direct: bool,
}

impl DirectWriter {
    /// Creates `path` for direct writes; `None` when its filesystem does not take them.
    pub(in crate::blobs) fn create(path: &Path) -> io::Result<Option<Self>> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        Ok(super::open(path, &mut options)?.map(|file| Self {
            file,
            chunk: Chunk::new(),
            offset: 0,
            direct: true,
        }))
    }

    pub(in crate::blobs) fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let at = self.chunk.len;
            let n = (CHUNK - at).min(bytes.len());
            self.chunk.window()[at..at + n].copy_from_slice(&bytes[..n]);
            self.chunk.len += n;
            bytes = &bytes[n..];
            if self.chunk.len == CHUNK {
                self.write_chunk()?;
            }
        }
        Ok(())
    }

    /// Writes the tail, then waits until every byte is on stable storage.
    pub(in crate::blobs) fn finish(mut self) -> io::Result<()> {
        if self.chunk.len > 0 {
            self.leave_direct_mode()?;
            self.write_chunk()?;
        }
        self.file.sync_all()
    }

    fn write_chunk(&mut self) -> io::Result<()> {
        match self.file.write_all_at(self.chunk.filled(), self.offset) {
            Ok(()) => {}
            // Opened direct, but this filesystem wants another alignment: write buffered.
            // At an explicit offset, a retry writes each byte where it belongs.
            Err(e) if self.direct && refused(&e) => {
                self.leave_direct_mode()?;
                self.file.write_all_at(self.chunk.filled(), self.offset)?;
            }
            Err(e) => return Err(e),
        }
        self.offset += self.chunk.len as u64;
        self.chunk.len = 0;
        Ok(())
    }

    fn leave_direct_mode(&mut self) -> io::Result<()> {
        if self.direct {
            leave_direct_mode(&self.file)?;
            self.direct = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{pattern, scratch};
    use super::*;

    fn written(sizes: &[usize]) -> Option<(Vec<u8>, Vec<u8>)> {
        let dir = scratch()?;
        let path = dir.path().join("blob");
        let data = pattern(sizes.iter().sum());
        let mut file = DirectWriter::create(&path).unwrap().expect("direct writes");
        let mut rest = data.as_slice();
        for &size in sizes {
            let (piece, after) = rest.split_at(size);
            file.write(piece).unwrap();
            rest = after;
        }
        assert!(file.direct, "aligned chunks were taken directly");
        file.finish().unwrap();
        Some((std::fs::read(&path).unwrap(), data))
    }

    #[test]
    fn pieces_of_any_size_land_in_order_with_an_unaligned_tail() {
        let Some((got, want)) = written(&[1, 262_160, CHUNK - 7, 3 * CHUNK + 5, 4095, 17]) else {
            return;
        };
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the file differs from what was written");
    }

    #[test]
    fn a_chunk_the_disk_refuses_to_take_directly_is_written_buffered() {
        let Some(dir) = scratch() else { return };
        let path = dir.path().join("blob");
        let mut file = DirectWriter::create(&path).unwrap().unwrap();
        // Memory one byte off any block boundary: no disk takes it directly.
        file.chunk.start += 1;
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
        let Some((got, want)) = written(&[CHUNK, CHUNK]) else {
            return;
        };
        assert!(got == want);
        let (got, want) = written(&[]).expect("as above");
        assert!(got.is_empty() && want.is_empty());
    }
}
