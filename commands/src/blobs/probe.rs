//! The blob disk's own rates, for benchmarks: a scratch file written and read back by the
//! same code that writes and reads local blobs, without the encryption around it.

use super::{BlobError, BlobReader, file_writer::Sink};
use std::{
    path::Path,
    time::{Duration, Instant},
};

/// What `probe_disk` measured: how long writing and reading took, and whether the
/// filesystem took the writes directly (past the page cache).
pub struct DiskProbe {
    pub write: Duration,
    pub read: Duration,
    pub direct: bool,
}

/// Writes `mib` MiB to a scratch file in `dir` and reads them back as blobs are written
/// (on stable storage before the write counts as done) and read. The disk's share of a
/// transfer.
pub fn probe_disk(dir: &Path, mib: usize) -> Result<DiskProbe, BlobError> {
    let path = dir.join("blob-disk-probe");
    let probed = probe_at(&path, mib);
    let removed = std::fs::remove_file(&path);
    let probed = probed?;
    removed?;
    Ok(probed)
}

fn probe_at(path: &Path, mib: usize) -> Result<DiskProbe, BlobError> {
    const MIB: usize = 1 << 20;
    let block = vec![0x3c_u8; MIB];
    let started = Instant::now();
    let mut sink = Sink::create(path)?;
    let direct = sink.is_direct();
    for _ in 0..mib {
        sink.write(&block)?;
    }
    sink.finish()?;
    let write = started.elapsed();

    let started = Instant::now();
    let mut reader = BlobReader::open_local(path)?;
    let mut buf = Vec::with_capacity(MIB);
    while reader.read_blocking(&mut buf, MIB)? > 0 {
        buf.clear();
    }
    Ok(DiskProbe {
        write,
        read: started.elapsed(),
        direct,
    })
}
