//! Reading a blob directly, a chunk ahead of its caller: a thread of its own reads the
//! next chunk from the disk while the caller (the decrypting thread) takes bytes from the
//! one before, so the disk and the decryption overlap, as they did with the page cache's
//! read-ahead. Two chunks go back and forth between them; the thread ends at the blob's
//! end (a chunk it could not fill), on an error (which the caller gets, then again at
//! every later read), or when the reader is dropped.

use super::{CHUNK, Chunk, leave_direct_mode, refused};
use std::{
    fs::{File, OpenOptions},
    io,
    os::unix::fs::FileExt as _,
    path::Path,
    sync::mpsc::{Receiver, SyncSender, sync_channel},
};

/// One being read from the disk while the other is being taken.
const CHUNKS: usize = 2;

pub(in crate::blobs) struct DirectReader {
    full: Receiver<io::Result<Chunk>>,
    empty: SyncSender<Chunk>,
    current: Option<Chunk>,
    /// Bytes of `current` already taken.
    taken: usize,
    /// The last chunk has arrived: once it is taken, the blob has ended.
    last: bool,
    /// What failed, told again at every read after it.
    failed: Option<(io::ErrorKind, String)>,
    /// Never joined (dropping the channels ends it at its next hand-over); kept so tests
    /// can watch it end.
    _read_ahead: std::thread::JoinHandle<()>,
}

impl DirectReader {
    /// Opens `path` for direct reads; `None` when its filesystem does not take them.
    pub(in crate::blobs) fn open(path: &Path) -> io::Result<Option<Self>> {
        match super::open(path, OpenOptions::new().read(true))? {
            Some(file) => Self::start(file).map(Some),
            None => Ok(None),
        }
    }

    fn start(file: File) -> io::Result<Self> {
        let (full_tx, full) = sync_channel(CHUNKS);
        let (empty, empty_rx) = sync_channel(CHUNKS);
        for _ in 0..CHUNKS {
            empty
                .send(Chunk::new())
                .expect("the channel holds every chunk");
        }
        let thread = std::thread::Builder::new()
            .name("blob-read-ahead".into())
            .spawn(move || read_ahead(&file, &empty_rx, &full_tx))?;
        Ok(Self {
            full,
            empty,
            current: None,
            taken: 0,
            last: false,
            failed: None,
            _read_ahead: thread,
        })
    }

    /// Appends `n` bytes to `buf`, fewer only where the blob ends; returns how many.
    pub(in crate::blobs) fn read(&mut self, buf: &mut Vec<u8>, n: usize) -> io::Result<usize> {
        let mut got = 0;
        while got < n {
            let exhausted = self.current.as_ref().is_none_or(|c| self.taken == c.len);
            if exhausted {
                if let Some(used) = self.current.take() {
                    // Never blocks: the channel has room for every chunk there is.
                    let _ = self.empty.send(used);
                }
                if self.last {
                    break;
                }
                if let Some((kind, why)) = &self.failed {
                    return Err(io::Error::new(*kind, why.clone()));
                }
                let failed = match self.full.recv() {
                    Ok(Ok(chunk)) => {
                        self.last = chunk.len < CHUNK;
                        self.current = Some(chunk);
                        self.taken = 0;
                        continue;
                    }
                    Ok(Err(e)) => e,
                    // Gone without a last chunk or an error: it panicked.
                    Err(_) => io::Error::other("the blob's read-ahead stopped before its end"),
                };
                self.failed = Some((failed.kind(), failed.to_string()));
                return Err(failed);
            }
            let chunk = self.current.as_ref().expect("a chunk with bytes left");
            let take = (n - got).min(chunk.len - self.taken);
            buf.extend_from_slice(&chunk.filled()[self.taken..self.taken + take]);
            self.taken += take;
            got += take;
        }
        Ok(got)
    }
}

/// The read-ahead thread: fills each chunk handed back, in order, until the file ends.
fn read_ahead(file: &File, empty: &Receiver<Chunk>, full: &SyncSender<io::Result<Chunk>>) {
    let mut offset = 0u64;
    let mut direct = true;
    while let Ok(mut chunk) = empty.recv() {
        let filled = fill(file, &mut chunk, offset, &mut direct);
        let last = filled.is_err() || chunk.len < CHUNK;
        offset += chunk.len as u64;
        if full.send(filled.map(|()| chunk)).is_err() || last {
            return;
        }
    }
}

/// Reads the file from `offset` until the chunk is full or the file ends.
fn fill(file: &File, chunk: &mut Chunk, offset: u64, direct: &mut bool) -> io::Result<()> {
    chunk.len = 0;
    while chunk.len < CHUNK {
        let at = chunk.len;
        match file.read_at(&mut chunk.window()[at..], offset + at as u64) {
            Ok(0) => break,
            Ok(n) => chunk.len += n,
            // A direct read this filesystem wants aligned otherwise is refused (and, on
            // some, one from an unaligned offset after a short read at the file's end):
            // the page cache reads on from the same offset.
            Err(e) if *direct && refused(&e) => {
                leave_direct_mode(file)?;
                *direct = false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{pattern, scratch};
    use super::*;

    fn read_back(len: usize, piece: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        let dir = scratch()?;
        let path = dir.path().join("blob");
        let data = pattern(len);
        std::fs::write(&path, &data).unwrap();
        let mut reader = DirectReader::open(&path).unwrap().expect("direct reads");
        let mut got = Vec::new();
        while reader.read(&mut got, piece).unwrap() == piece {}
        assert_eq!(
            reader.read(&mut got, piece).unwrap(),
            0,
            "the end stays the end"
        );
        Some((got, data))
    }

    #[test]
    fn files_of_any_size_are_read_whole_in_the_pieces_asked_for() {
        for len in [0, 1, 4095, 4096, CHUNK, CHUNK + 1, 3 * CHUNK + 12_345] {
            let Some((got, want)) = read_back(len, 65_552) else {
                return;
            };
            assert_eq!(got.len(), want.len(), "a file of {len} bytes");
            assert!(got == want, "a file of {len} bytes reads back as written");
        }
        for len in [CHUNK + 7, 2 * CHUNK] {
            let Some((got, want)) = read_back(len, 3 * CHUNK) else {
                return;
            };
            assert!(got == want, "{len} bytes in pieces larger than a chunk");
        }
    }

    #[test]
    fn a_chunk_the_disk_refuses_to_fill_directly_is_read_through_the_cache() {
        let Some(dir) = scratch() else { return };
        let path = dir.path().join("blob");
        let data = pattern(CHUNK / 2 + 3);
        std::fs::write(&path, &data).unwrap();
        let file = super::super::open(&path, OpenOptions::new().read(true))
            .unwrap()
            .unwrap();
        let (empty_tx, empty) = sync_channel(1);
        let (full, full_rx) = sync_channel(2);
        let mut chunk = Chunk::new();
        // Memory one byte off any block boundary: no disk fills it directly.
        chunk.start += 1;
        empty_tx.send(chunk).unwrap();
        drop(empty_tx);
        read_ahead(&file, &empty, &full);
        let chunk = full_rx.recv().unwrap().unwrap();
        assert!(chunk.filled() == data.as_slice());
    }

    #[test]
    fn a_failed_read_is_told_at_that_read_and_every_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, pattern(3 * CHUNK)).unwrap();
        // Opened for writing only: every read of it fails.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        let mut reader = DirectReader::start(file).unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            let e = reader.read(&mut got, 100).unwrap_err();
            assert!(e.to_string().contains("Bad file descriptor"), "{e}");
        }
        assert!(got.is_empty());
    }

    #[test]
    fn a_dropped_reader_ends_its_read_ahead() {
        let Some(dir) = scratch() else { return };
        let path = dir.path().join("blob");
        std::fs::write(&path, pattern(5 * CHUNK)).unwrap();
        let mut reader = DirectReader::open(&path).unwrap().unwrap();
        let mut got = Vec::new();
        reader.read(&mut got, 10).unwrap();
        // Both chunks are out: the thread waits for one to come back.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!reader._read_ahead.is_finished());
        let thread = {
            let reader = reader;
            let DirectReader { _read_ahead, .. } = reader;
            _read_ahead
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !thread.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "the read-ahead still runs"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
