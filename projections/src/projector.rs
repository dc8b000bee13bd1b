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

    /// Whether it reads events of `event_type`: those `event_types` lists, unless it
    /// reads every event whatever its type (the transparency log's tree).
    fn reads(&self, event_type: &str) -> bool {
        self.event_types().contains(&event_type)
    }

    /// How long, once caught up, it lets new events gather before its next batch. Zero
    /// (the default) for the views people read their own writes from; more for one whose
    /// readers can wait a moment and whose cost is mostly per batch, not per event.
    fn gather(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;

    /// Applies a run of the events it reads, in seq order, inside the batch's
    /// transaction; on failure, the index of the event that failed. By default each in
    /// turn through `apply`; a projector that writes a run with set-based statements
    /// overrides it. A database error may be reported at any index (a set-based write
    /// belongs to every event): the batch is then applied again an event at a time.
    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a RecordedEvent],
    ) -> BoxFuture<'a, Result<(), (usize, ProjectionError)>> {
        Box::pin(async move {
            for (index, event) in events.iter().enumerate() {
                self.apply(tx, event).await.map_err(|e| (index, e))?;
            }
            Ok(())
        })
    }
}

/// The two `Projector` methods of a set-based projector, whose `apply(tx, events)`
/// folds a run of events and writes them with one statement per table: `apply` is a run
/// of one, `apply_many` the run itself. Said once here, not in every such projector.
#[macro_export]
macro_rules! set_based {
    ($apply:path) => {
        fn apply<'a>(
            &'a self,
            tx: &'a mut ::sqlx::PgConnection,
            event: &'a ::commands::RecordedEvent,
        ) -> ::futures::future::BoxFuture<'a, Result<(), $crate::ProjectionError>> {
            ::futures::FutureExt::boxed(
                async move { $apply(tx, &[event]).await.map_err(|(_, e)| e) },
            )
        }

        fn apply_many<'a>(
            &'a self,
            tx: &'a mut ::sqlx::PgConnection,
            events: &'a [&'a ::commands::RecordedEvent],
        ) -> ::futures::future::BoxFuture<'a, Result<(), (usize, $crate::ProjectionError)>> {
            ::futures::FutureExt::boxed($apply(tx, events))
        }
    };
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
    /// Whether trying the same event again may succeed: the database was away, or the
    /// statement lost a race or was cancelled (a deadlock, a serialization failure, a
    /// lock or statement timeout, an administrator's cancel, a restart) rather than
    /// refusing what the event asks. A malformed event, or a constraint the event
    /// breaks, is not transient: the projector stops on it.
    pub fn is_transient(&self) -> bool {
        let ProjectionError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                matches!(
                    code.as_ref(),
                    // serialization_failure, deadlock_detected, query_canceled,
                    // lock_not_available, admin/crash shutdown, cannot_connect_now
                    "40001" | "40P01" | "57014" | "55P03" | "57P01" | "57P02" | "57P03"
                ) || code.starts_with("08")
            }),
            _ => false,
        }
    }

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
