//! Reading a blob from a blocking thread (the one that decrypts it), as many bytes as it
//! asks for at a time. A local file is read from the disk directly, a chunk ahead
//! (`direct`), or, where its filesystem refuses that, straight into the caller's buffer
//! through the page cache; an object store's stream is waited on chunk by chunk.

use super::{BlobError, direct::DirectReader};
use bytes::{Buf as _, Bytes};
use futures::{StreamExt as _, stream::BoxStream};
use std::io::Read as _;

pub struct BlobReader(Source);

enum Source {
    Direct(DirectReader),
    File(std::fs::File),
    Stream {
        chunks: BoxStream<'static, Result<Bytes, BlobError>>,
        runtime: tokio::runtime::Handle,
        left: Bytes,
    },
}

impl BlobReader {
    /// A local blob file: read directly where its filesystem allows, else through the
    /// page cache.
    pub(super) fn open_local(path: &std::path::Path) -> std::io::Result<Self> {
        Ok(match DirectReader::open(path)? {
            Some(reader) => Self(Source::Direct(reader)),
            None => Self::file(std::fs::File::open(path)?),
        })
    }

    pub(super) fn file(file: std::fs::File) -> Self {
        Self(Source::File(file))
    }

    /// Must be made on the runtime that is to drive the stream.
    pub(super) fn stream(chunks: BoxStream<'static, Result<Bytes, BlobError>>) -> Self {
        Self(Source::Stream {
            chunks,
            runtime: tokio::runtime::Handle::current(),
            left: Bytes::new(),
        })
    }

    /// Appends `n` bytes to `buf`, fewer only where the blob ends; returns how many. It
    /// blocks: call it from a blocking thread, never from the runtime.
    pub fn read_blocking(&mut self, buf: &mut Vec<u8>, n: usize) -> Result<usize, BlobError> {
        match &mut self.0 {
            Source::Direct(reader) => Ok(reader.read(buf, n)?),
            Source::File(file) => Ok(file.take(n as u64).read_to_end(buf)?),
            Source::Stream {
                chunks,
                runtime,
                left,
            } => {
                let mut got = 0;
                while got < n {
                    if left.is_empty() {
                        match runtime.block_on(chunks.next()) {
                            Some(chunk) => *left = chunk?,
                            None => break,
                        }
                    }
                    let take = (n - got).min(left.len());
                    buf.extend_from_slice(&left[..take]);
                    left.advance(take);
                    got += take;
                }
                Ok(got)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all_in(reader: &mut BlobReader, piece: usize) -> Vec<u8> {
        let mut buf = Vec::new();
        loop {
            let got = reader.read_blocking(&mut buf, piece).unwrap();
            if got < piece {
                return buf;
            }
        }
    }

    #[test]
    fn a_file_is_read_in_the_pieces_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let mut reader = BlobReader::file(std::fs::File::open(&path).unwrap());
        assert_eq!(read_all_in(&mut reader, 7_000), content);
    }

    #[test]
    fn a_stream_is_read_in_the_pieces_asked_for_across_its_chunks() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let chunks: Vec<Result<Bytes, BlobError>> = content
            .chunks(3_001)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut reader = {
            let _entered = runtime.enter();
            BlobReader::stream(futures::stream::iter(chunks).boxed())
        };
        assert_eq!(read_all_in(&mut reader, 7_000), content);
    }

    #[test]
    fn a_failing_stream_fails_the_read() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let chunks: Vec<Result<Bytes, BlobError>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("gone").into()),
        ];
        let mut reader = {
            let _entered = runtime.enter();
            BlobReader::stream(futures::stream::iter(chunks).boxed())
        };
        let mut buf = Vec::new();
        assert!(reader.read_blocking(&mut buf, 10).is_err());
    }
}
