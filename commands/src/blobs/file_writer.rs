//! Writing a large blob into a local directory. `object_store`'s local multipart upload
//! hands every part to a fresh blocking task and leaves the whole file dirty in the page
//! cache until its closing fsync, so a 1 GiB upload stood still for a third of a second
//! at the end while the disk caught up. Here one blocking thread owns the file for the
//! whole upload and writes it past the page cache (`direct`), so the disk works while
//! the upload is still arriving and the closing fsync has little left to do.
//!
//! Where the filesystem refuses direct writes, the file is written through the page
//! cache, and the kernel is asked to start writing back each few MiB as soon as they are
//! written (`posix_fadvise(DONTNEED)`: on Linux it starts writeback of the range's dirty
//! pages without waiting and drops only pages already clean).
//!
//! The file appears at its path as it is written; callers write under a staging name and
//! rename once `finish` returned (the store's rename fsyncs the directory). A writer
//! dropped or aborted before `finish` removes the file.

use super::{BlobError, direct::DirectWriter};
use bytes::Bytes;
use std::{
    fs::File,
    io::Write as _,
    path::{Path, PathBuf},
};
use tokio::{sync::mpsc, task::JoinHandle};

/// Written bytes after which writeback of them is started.
const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;
const PAGE: u64 = 4096;

enum Message {
    Data(Bytes),
    Finish,
}

pub(super) struct FileWriter {
    tx: mpsc::Sender<Message>,
    /// Taken once joined.
    thread: Option<JoinHandle<Result<(), BlobError>>>,
}

impl FileWriter {
    /// Starts writing `path` (its directory is created); `in_flight` blocks at most wait
    /// for the thread.
    pub(super) fn start(path: PathBuf, in_flight: usize) -> Self {
        let (tx, rx) = mpsc::channel(in_flight);
        let thread = tokio::task::spawn_blocking(move || write_file(&path, rx));
        Self {
            tx,
            thread: Some(thread),
        }
    }

    pub(super) async fn write(&mut self, bytes: Bytes) -> Result<(), BlobError> {
        if self.tx.send(Message::Data(bytes)).await.is_err() {
            // The thread stopped on an error: that error is the answer.
            return Err(self
                .join()
                .await
                .err()
                .unwrap_or_else(|| stopped("the blob writer stopped")));
        }
        Ok(())
    }

    /// Waits until everything written is on stable storage.
    pub(super) async fn finish(mut self) -> Result<(), BlobError> {
        let _ = self.tx.send(Message::Finish).await;
        self.join().await
    }

    /// Gives up: the thread removes the file (and logs if it cannot).
    pub(super) async fn abort(self) {
        let Self { tx, thread } = self;
        drop(tx);
        if let Some(thread) = thread {
            let _ = thread.await;
        }
    }

    async fn join(&mut self) -> Result<(), BlobError> {
        match self.thread.take() {
            Some(thread) => thread
                .await
                .unwrap_or_else(|e| Err(BlobError::Io(std::io::Error::other(e)))),
            None => Err(stopped("the blob writer already stopped")),
        }
    }
}

fn stopped(why: &'static str) -> BlobError {
    BlobError::Io(std::io::Error::other(why))
}

/// The thread: writes what arrives; on `Finish` syncs, on anything else removes the file.
fn write_file(path: &PathBuf, mut rx: mpsc::Receiver<Message>) -> Result<(), BlobError> {
    let outcome = (|| {
        if let Some(dir) = path.parent() {
            create_dir_durably(dir)?;
        }
        let mut sink = Sink::create(path)?;
        while let Some(message) = rx.blocking_recv() {
            match message {
                Message::Data(bytes) => sink.write(&bytes)?,
                Message::Finish => {
                    sink.finish()?;
                    return Ok(true);
                }
            }
        }
        Ok::<_, std::io::Error>(false)
    })();
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => {
            remove(path);
            Err(stopped("the blob upload was abandoned"))
        }
        Err(e) => {
            remove(path);
            Err(BlobError::Io(e))
        }
    }
}

/// The file being written: past the page cache where the filesystem allows.
pub(super) enum Sink {
    Direct(DirectWriter),
    Buffered {
        file: File,
        written: u64,
        /// Bytes whose writeback has been started.
        started: u64,
    },
}

impl Sink {
    pub(super) fn create(path: &Path) -> std::io::Result<Self> {
        Ok(match DirectWriter::create(path)? {
            Some(file) => Self::Direct(file),
            None => Self::Buffered {
                file: File::create(path)?,
                written: 0,
                started: 0,
            },
        })
    }

    pub(super) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Direct(file) => file.write(bytes),
            Self::Buffered {
                file,
                written,
                started,
            } => {
                file.write_all(bytes)?;
                *written += bytes.len() as u64;
                // Whole pages only: a page still being filled would be written twice.
                let whole = *written & !(PAGE - 1);
                if whole - *started >= WRITEBACK_EVERY {
                    start_writeback(file, *started, whole - *started);
                    *started = whole;
                }
                Ok(())
            }
        }
    }

    pub(super) fn is_direct(&self) -> bool {
        matches!(self, Self::Direct(_))
    }

    /// Waits until every byte written is on stable storage.
    pub(super) fn finish(self) -> std::io::Result<()> {
        match self {
            Self::Direct(file) => file.finish(),
            Self::Buffered { file, .. } => file.sync_all(),
        }
    }
}

/// Creates `dir` and any missing parents, each on stable storage: the directory entry
/// of each new directory is fsynced in its parent, as the blob's own is by the rename.
fn create_dir_durably(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durably(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        // Another upload made it meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

fn remove(path: &PathBuf) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "removing an unfinished blob failed"),
    }
}

/// Advice only: a kernel that ignores it leaves the work to the closing fsync.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    let _ = rustix::fs::fadvise(
        file,
        offset,
        std::num::NonZeroU64::new(len),
        rustix::fs::Advice::DontNeed,
    );
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks() -> Vec<Bytes> {
        (0..40u8)
            .map(|i| Bytes::from(vec![i; 512 * 1024]))
            .collect()
    }

    #[tokio::test]
    async fn a_finished_file_holds_every_byte_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/blob");
        let mut writer = FileWriter::start(path.clone(), 2);
        for block in blocks() {
            writer.write(block).await.unwrap();
        }
        writer.finish().await.unwrap();
        let expected: Vec<u8> = blocks().concat();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }

    #[tokio::test]
    async fn an_aborted_or_dropped_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let aborted = dir.path().join("aborted");
        let mut writer = FileWriter::start(aborted.clone(), 2);
        writer.write(Bytes::from_static(b"some")).await.unwrap();
        writer.abort().await;
        assert!(!aborted.exists());

        let dropped = dir.path().join("dropped");
        let mut writer = FileWriter::start(dropped.clone(), 2);
        writer.write(Bytes::from_static(b"some")).await.unwrap();
        let thread = {
            let FileWriter { tx, thread } = writer;
            drop(tx);
            thread.unwrap()
        };
        assert!(thread.await.unwrap().is_err());
        assert!(!dropped.exists());
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_created_fails_the_write_or_the_finish() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        // A path under a regular file cannot be created.
        let mut writer = FileWriter::start(dir.path().join("file/blob"), 1);
        let mut failed = false;
        for _ in 0..4 {
            if writer.write(Bytes::from_static(b"data")).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed || writer.finish().await.is_err());
    }
}
