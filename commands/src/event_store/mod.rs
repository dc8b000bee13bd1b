//! The event store: append to a stream at an expected version, read a stream, read all.
//!
//! Appends go through one group-commit appender per `EventStore` (one per process): see
//! `appender`. Reads go straight to the pool.

mod appender;
mod error;
mod new_event;
mod read;

pub use error::AppendError;
pub use new_event::{NewEvent, NewEventError, new_events};
pub use read::{
    LedgerFilter, RecordedEvent, read_all as read_all_from, read_page, read_stream_until,
    row_stream, rows_of_streams,
};

use crate::clock::Clock;
use domain::{StreamName, ledger::Hash};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The advisory-lock key that serialises appends across processes: "medchain" in ASCII.
pub const LEDGER_LOCK_KEY: i64 = 0x6d65_6463_6861_696e;

/// The channel the appender NOTIFYs after each commit, with the new head as payload.
pub const LEDGER_CHANNEL: &str = "medchain_ledger";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// The stream must be at exactly this version; 0 means it must not exist yet.
    Exact(i32),
    /// Append whatever the stream's version (events that do not depend on its state).
    Any,
}

/// What a successful append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first_seq: i64,
    pub last_seq: i64,
    /// The stream's version after the append.
    pub version: i32,
    pub last_hash: Hash,
}

#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
    appender: mpsc::Sender<appender::Request>,
    stats: Arc<appender::Stats>,
    /// The newest seq this process has appended (committed).
    committed: Arc<tokio::sync::watch::Sender<i64>>,
}

impl EventStore {
    /// Starts this process's appender on `pool`. Dropping every clone stops it.
    pub fn start(pool: PgPool, clock: Arc<dyn Clock>) -> Self {
        let stats = Arc::new(appender::Stats::default());
        let appender = appender::spawn(pool.clone(), clock, stats.clone());
        Self {
            pool,
            appender,
            stats,
            committed: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// The newest seq appended through this process, as each append is acknowledged:
    /// its projectors apply their own process's events at once and leave other
    /// processes' to them (`projections::Projections::follow_local_appends`).
    pub fn committed(&self) -> tokio::sync::watch::Receiver<i64> {
        self.committed.subscribe()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Appends `events` to `stream` if it is at `expected`; a stale version is
    /// `AppendError::Conflict` and stores nothing. Concurrent calls share a transaction.
    pub async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        if events.is_empty() {
            return Err(AppendError::Empty);
        }
        if events.len() > appender::MAX_BATCH_EVENTS {
            return Err(AppendError::TooMany {
                count: events.len(),
                max: appender::MAX_BATCH_EVENTS,
            });
        }
        let (reply, answer) = oneshot::channel();
        let request = appender::Request {
            stream: stream.clone(),
            expected,
            events,
            reply,
        };
        self.appender
            .send(request)
            .await
            .map_err(|_| AppendError::Stopped)?;
        let appended = answer.await.map_err(|_| AppendError::Stopped)??;
        self.committed.send_if_modified(|seq| {
            let moved = appended.last_seq > *seq;
            *seq = (*seq).max(appended.last_seq);
            moved
        });
        Ok(appended)
    }

    pub async fn read_stream(
        &self,
        stream: &StreamName,
    ) -> Result<Vec<RecordedEvent>, sqlx::Error> {
        read::read_stream(&self.pool, stream, 0).await
    }

    /// The stream's events after `version`, in order: what a state folded up to
    /// `version` has yet to see.
    pub async fn read_stream_after(
        &self,
        stream: &StreamName,
        version: i32,
    ) -> Result<Vec<RecordedEvent>, sqlx::Error> {
        read::read_stream(&self.pool, stream, version).await
    }

    /// Events with `seq >= from_seq`, at most `limit`, in order.
    pub async fn read_all(
        &self,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, sqlx::Error> {
        read::read_all(&self.pool, from_seq, limit).await
    }

    /// How the appender has batched so far: for benchmarks.
    pub fn appender_stats(&self) -> appender::StatsSnapshot {
        self.stats.snapshot()
    }
}

pub use appender::StatsSnapshot;
