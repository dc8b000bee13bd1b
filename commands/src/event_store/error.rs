//! What an append can fail with.

use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("stream {stream} is at version {actual}, not the expected {expected}")]
    Conflict {
        stream: String,
        expected: i32,
        actual: i32,
    },
    #[error("an append needs at least one event")]
    Empty,
    #[error("{count} events in one append; at most {max}")]
    TooMany { count: usize, max: usize },
    /// The ledger is frozen (a restore short of the newest signed head): the database's
    /// own message, which says why.
    #[error("{0}")]
    ReadOnly(String),
    #[error("the appender has stopped")]
    Stopped,
    /// Shared by every caller of a failed batch, hence the `Arc`.
    #[error("database error while appending: {0}")]
    Database(#[source] Arc<sqlx::Error>),
}

impl AppendError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}
