//! Local blobs past the page cache (`O_DIRECT`): written (`write`) and read (`read`) in
//! aligned 2 MiB chunks.
//!
//! Why, measured per GiB on the machine this was built on: writing a blob through the
//! page cache cost the server about 0.45 core-seconds (copying it in, ext4's delayed
//! allocation, building writeback a 4 KiB page at a time), more than encrypting it; a
//! first read of it through the cache cost 1 to 2 core-seconds of kernel copying, against
//! 0.07 direct. And the pages of a blob nobody reads again soon pushed PostgreSQL's data
//! out of the cache. A direct transfer hands the disk whole aligned chunks of one buffer.
//!
//! By hand because the crates that do it allocate aligned memory with `unsafe`; here an
//! aligned chunk is a window into an ordinary `Vec`, a page larger than the chunk.
//! A filesystem that refuses direct transfers (at `open`, or at the first one) gets the
//! same bytes through the page cache.

mod read;
mod write;

pub(super) use read::DirectReader;
pub(super) use write::DirectWriter;

use std::{
    fs::{File, OpenOptions},
    io,
    path::Path,
};

/// Memory and file offsets of direct transfers are multiples of this: the largest
/// logical block size of common disks.
const ALIGN: usize = 4096;
/// Bytes a direct transfer hands the disk: large enough for the disk's full rate, small
/// enough that one is transferred while the next is being filled or emptied.
const CHUNK: usize = 2 << 20;

/// `CHUNK` bytes at an `ALIGN`ed address, the first `len` of them in use.
struct Chunk {
    /// `CHUNK + ALIGN` bytes; the chunk is the aligned window at `start`.
    buffer: Vec<u8>,
    start: usize,
    len: usize,
}

impl Chunk {
    fn new() -> Self {
        let buffer = vec![0u8; CHUNK + ALIGN];
        let start = (ALIGN - buffer.as_ptr() as usize % ALIGN) % ALIGN;
        Self {
            buffer,
            start,
            len: 0,
        }
    }

    /// The bytes in use.
    fn filled(&self) -> &[u8] {
        &self.buffer[self.start..self.start + self.len]
    }

    /// The whole chunk.
    fn window(&mut self) -> &mut [u8] {
        &mut self.buffer[self.start..self.start + CHUNK]
    }
}

/// Opens `path` for direct transfers; `None` when its filesystem does not take them.
#[cfg(target_os = "linux")]
fn open(path: &Path, options: &mut OpenOptions) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match options
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
    {
        Ok(file) => Ok(Some(file)),
        Err(e) if refused(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Elsewhere (a developer's Mac) blobs go through the page cache.
#[cfg(not(target_os = "linux"))]
fn open(_: &Path, _: &mut OpenOptions) -> io::Result<Option<File>> {
    Ok(None)
}

/// What a filesystem answers when it does not take a direct transfer.
fn refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error())
}

/// From here on `file` goes through the page cache.
#[cfg(target_os = "linux")]
fn leave_direct_mode(file: &File) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    rustix::fs::fcntl_setfl(file, flags - rustix::fs::OFlags::DIRECT)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn leave_direct_mode(_: &File) -> io::Result<()> {
    Ok(())
}

/// A scratch directory on the disk this checkout is on (`/tmp` is memory, tmpfs, on many
/// machines, which takes direct transfers of any alignment, or none); `None`, and the
/// test is skipped, where that filesystem does not take direct transfers at all.
#[cfg(test)]
fn scratch() -> Option<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(".direct-io-test-")
        .tempdir_in(env!("CARGO_MANIFEST_DIR"))
        .expect("a scratch directory beside the sources");
    let probe = dir.path().join("probe");
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    match open(&probe, &mut options).expect("a file in the scratch directory") {
        Some(_) => Some(dir),
        None => {
            eprintln!(
                "skipped: {} takes no direct transfers",
                dir.path().display()
            );
            None
        }
    }
}

#[cfg(test)]
fn pattern(len: usize) -> Vec<u8> {
    // Bytes no two chunks share, so a chunk at the wrong offset shows.
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1])
        .collect()
}
