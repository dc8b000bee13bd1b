//! How many transfers run at once. Each upload holds three blocking threads for its
//! whole life (sealing, hashing, writing a local blob) and each download one
//! (decrypting). Tokio's blocking pool has 512 threads; were they all taken, a transfer
//! whose later threads queue behind others' would wait on them while they wait on it,
//! and none would finish. So past these numbers a transfer waits for its turn, and after
//! `wait` is told to come back (RATE_LIMITED) rather than held forever. The turns also
//! bound memory: a download of a local blob holds two 2 MiB read-ahead chunks (on a
//! thread of its own, outside the pool) and an upload one, besides the blocks in flight.
//! A download that ends early gives its turn back at once; its read-ahead thread may
//! finish one chunk's read before it notices, so the bound is loose by that much.

use crate::CommandError;
use std::{sync::Arc, time::Duration};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Copy)]
pub struct TransferLimits {
    pub uploads: usize,
    pub downloads: usize,
    pub wait: Duration,
}

impl Default for TransferLimits {
    /// 64 × 3 + 128 threads: well under 512, with room for password hashing and files.
    fn default() -> Self {
        Self {
            uploads: 64,
            downloads: 128,
            wait: Duration::from_secs(30),
        }
    }
}

pub(super) struct Turns {
    uploads: Arc<Semaphore>,
    downloads: Arc<Semaphore>,
    wait: Duration,
}

/// A transfer's turn: held while it runs.
pub(super) type Turn = OwnedSemaphorePermit;

impl Turns {
    pub(super) fn new(limits: TransferLimits) -> Self {
        Self {
            uploads: Arc::new(Semaphore::new(limits.uploads.max(1))),
            downloads: Arc::new(Semaphore::new(limits.downloads.max(1))),
            wait: limits.wait,
        }
    }

    pub(super) async fn upload(&self) -> Result<Turn, CommandError> {
        self.take(&self.uploads, "uploads").await
    }

    pub(super) async fn download(&self) -> Result<Turn, CommandError> {
        self.take(&self.downloads, "downloads").await
    }

    async fn take(&self, turns: &Arc<Semaphore>, what: &str) -> Result<Turn, CommandError> {
        match tokio::time::timeout(self.wait, turns.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            _ => Err(CommandError::RateLimited(format!(
                "too many {what} are under way; try again in a moment"
            ))),
        }
    }
}
