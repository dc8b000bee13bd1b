//! What a projector is: a name, the tables it owns, and how one event changes them.

use commands::RecordedEvent;
use domain::{DomainEvent, StreamName};
use futures::future::BoxFuture;
use sqlx::PgConnection;

/// A read model kept from the ledger. Its tables are created by migrations and written
/// only by it; `apply` runs inside the transaction that also moves its checkpoint, so
/// replaying a batch twice is impossible and replaying the ledger gives the same rows.
///
/// `apply` must use unqualified table names: a rebuild replays into a schema of fresh
/// tables by putting that schema first on the `search_path`. It must be deterministic
/// (no `now()`, no randomness): a rebuild must give byte-identical rows.
pub trait Projector: Send + Sync + 'static {
    /// Stable: the checkpoint row's key, the lock's key, what `/health` names.
    fn name(&self) -> &'static str;

    /// The tables it owns; a rebuild replaces exactly these.
    fn tables(&self) -> &'static [&'static str];

    /// The event types it reads; the runner skips the others without calling `apply`
    /// (they still move the checkpoint).
    fn event_types(&self) -> &'static [&'static str];

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
}

/// Why a projector could not apply an event. Either way it stops on that event.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("event {seq} ({event_type}) cannot be read: {reason}")]
    Malformed {
        seq: i64,
        event_type: String,
        reason: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl ProjectionError {
    pub fn malformed(event: &RecordedEvent, reason: impl std::fmt::Display) -> Self {
        Self::Malformed {
            seq: event.seq,
            event_type: event.event_type.clone(),
            reason: reason.to_string(),
        }
    }
}

/// The event's stream name, or why it has none a projector can read.
pub fn stream_of(event: &RecordedEvent) -> Result<StreamName, ProjectionError> {
    StreamName::parse(&event.stream).map_err(|e| ProjectionError::malformed(event, e))
}

/// The event read as one of aggregate `E`'s, or why it cannot be.
pub fn read_as<E: DomainEvent>(event: &RecordedEvent) -> Result<E, ProjectionError> {
    E::from_stored(&event.event_type, &event.payload)
        .map_err(|e| ProjectionError::malformed(event, e))
}
