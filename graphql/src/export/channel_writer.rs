//! `std::io::Write` into a bounded channel of `Bytes`: the zip is written on a blocking
//! thread (the `zip` crate is synchronous) and its bytes reach the response body through
//! this, a few hundred KiB at a time, so the whole export is never in memory. A client
//! that goes away closes the channel, and the next write fails: the thread stops.

use bytes::Bytes;
use std::io::{self, Write};
use tokio::sync::mpsc::Sender;

/// Bytes gathered before they are handed over.
const CHUNK: usize = 64 * 1024;

pub struct ChannelWriter {
    tx: Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    pub fn new(tx: Sender<Result<Bytes, io::Error>>) -> Self {
        Self {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn hand_over(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_over()
    }
}
