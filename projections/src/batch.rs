//! Applying one batch of events to one projector, with its checkpoint, in one
//! transaction: the only place rows of a read model are written.

use crate::{ProjectionError, Projector};
use commands::RecordedEvent;
use sqlx::{Connection as _, PgConnection};

/// How far a batch got.
pub enum BatchOutcome {
    /// Every event applied; the checkpoint is at `last_seq`.
    Applied { last_seq: i64 },
    /// The event at `seq` failed; what was committed before it is applied, and the
    /// checkpoint stands before it (never on or past it).
    Failed { seq: i64, error: ProjectionError },
    /// Another process holds the projector's lock, or has moved its checkpoint since
    /// the events were read: nothing was written.
    Busy,
}

/// Where a batch writes.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// The live tables, whose checkpoint row must stand at `checkpoint`. The events may
    /// start later than just after it: those between are ones the projector has no use
    /// for, whose checkpoint move the runner put off.
    Live { checkpoint: i64 },
    /// A rebuild's fresh tables in `schema` (first on the `search_path`); no checkpoint.
    Rebuild { schema: &'a str },
}

/// Applies `events` (in seq order) inside one transaction that also moves the checkpoint
/// to the last one. When event k fails, the transaction is rolled back and the events
/// before k are applied again in a new one, so the checkpoint ends before the failing
/// event: it is never skipped. The checkpoint is written only if it still stands where
/// the batch began (checked against its newest version), so two writers can never both
/// apply the same events.
pub async fn apply_batch(
    conn: &mut PgConnection,
    projector: &dyn Projector,
    events: &[RecordedEvent],
    target: Target<'_>,
) -> Result<BatchOutcome, sqlx::Error> {
    let mut tried = try_batch(conn, projector, events, target, Whole).await?;
    if let Tried::Failed(_, ProjectionError::Database(_)) = tried {
        // A set-based write names no event when the database refuses it: apply the batch
        // again an event at a time to find which one (or to succeed, if it was passing).
        tried = try_batch(conn, projector, events, target, OneByOne).await?;
    }
    match tried {
        Tried::Applied(last_seq) => Ok(BatchOutcome::Applied { last_seq }),
        Tried::Busy => Ok(BatchOutcome::Busy),
        Tried::Failed(index, error) => {
            if index > 0 {
                match try_batch(conn, projector, &events[..index], target, Whole).await? {
                    Tried::Applied(_) => {}
                    Tried::Busy => return Ok(BatchOutcome::Busy),
                    // It applied a moment ago; failing now means the database changed
                    // under it. Report the earlier event; the checkpoint has not moved.
                    Tried::Failed(earlier, error) => {
                        return Ok(BatchOutcome::Failed {
                            seq: events[earlier].seq,
                            error,
                        });
                    }
                }
            }
            Ok(BatchOutcome::Failed {
                seq: events[index].seq,
                error,
            })
        }
    }
}

enum Tried {
    Applied(i64),
    Failed(usize, ProjectionError),
    Busy,
}

/// How a batch's events are handed to the projector: all at once (its set-based writes),
/// or one at a time, to find the event a database error belongs to.
#[derive(Clone, Copy)]
enum Pace {
    Whole,
    OneByOne,
}
use Pace::{OneByOne, Whole};

/// The class half of the per-projector advisory lock `(class, hashtext(name))`: two-key
/// advisory locks live apart from the ledger's one-key lock.
pub const LOCK_CLASS: i32 = 0x6d63;

async fn try_batch(
    conn: &mut PgConnection,
    projector: &dyn Projector,
    events: &[RecordedEvent],
    target: Target<'_>,
    pace: Pace,
) -> Result<Tried, sqlx::Error> {
    let Some(last) = events.last() else {
        return Ok(Tried::Busy);
    };
    // A batch commits without waiting for its WAL to reach the disk
    // (`synchronous_commit = off`, for its transaction alone): everything it writes is
    // derived from ledger events already durably committed, so a crash can lose only the
    // newest batches, rows and checkpoint together (the commit is still atomic and WAL
    // order holds), and the projector applies them again from the ledger at the next
    // start. Waiting for a flush per batch made every projector compete with the appender
    // for the WAL. What leaves the process from a view is the same when derived again (a
    // notification's id is derived from its event's; a tree root from the events under
    // it), and the mail worker claims its rows in a synchronous commit, later in the WAL,
    // whose flush takes the batch with it.
    let mut tx = conn.begin().await?;
    match target {
        Target::Live { checkpoint } => {
            // One writer per projector across processes, and only from where it stands.
            // And the asynchronous commit above.
            let locked: bool = sqlx::query_scalar(
                "SELECT pg_try_advisory_xact_lock($1, hashtext($2)) \
                 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit",
            )
            .bind(LOCK_CLASS)
            .bind(projector.name())
            .fetch_one(&mut *tx)
            .await?;
            if !locked {
                return Ok(Tried::Busy);
            }
            // Read in a statement after the lock's, whose snapshot holds every batch
            // committed before the lock was granted. Read in the lock's own statement, the
            // row was as it stood when that statement began: a batch that committed (and
            // let go of the lock) in between went unseen, its events were applied again,
            // and a table without upserts failed on them (two server processes, in CI).
            let at: i64 = sqlx::query_scalar(
                "SELECT coalesce((SELECT last_seq FROM projection_checkpoints WHERE name = $1), 0)",
            )
            .bind(projector.name())
            .fetch_one(&mut *tx)
            .await?;
            if at != checkpoint {
                return Ok(Tried::Busy);
            }
        }
        Target::Rebuild { schema } => {
            sqlx::query(
                "SELECT set_config('search_path', $1 || ', public', true), \
                 set_config('synchronous_commit', 'off', true)",
            )
            .bind(quote_ident(schema))
            .execute(&mut *tx)
            .await?;
        }
    }
    let (positions, wanted): (Vec<usize>, Vec<&RecordedEvent>) = events
        .iter()
        .enumerate()
        .filter(|(_, event)| projector.reads(&event.event_type))
        .unzip();
    let applied = match pace {
        Whole => projector.apply_many(&mut tx, &wanted).await,
        OneByOne => {
            let mut applied = Ok(());
            for (index, event) in wanted.iter().enumerate() {
                if let Err((_, error)) = projector.apply_many(&mut tx, &[*event]).await {
                    applied = Err((index, error));
                    break;
                }
            }
            applied
        }
    };
    if let Err((index, error)) = applied {
        tx.rollback().await?;
        return Ok(Tried::Failed(positions[index], error));
    }
    if let Target::Live { checkpoint } = target {
        // The row, not the lock, is the truth: a writer that moved it without the lock
        // is caught here, where PostgreSQL checks the condition against the row's newest
        // version.
        let moved = sqlx::query(
            "INSERT INTO projection_checkpoints (name, last_seq) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET last_seq = $2, failed_seq = NULL, failure = NULL, \
             updated_at = now() WHERE projection_checkpoints.last_seq = $3 \
             RETURNING pg_notify($4, $5)",
        )
        .bind(projector.name())
        .bind(last.seq)
        .bind(checkpoint)
        .bind(crate::PROJECTIONS_CHANNEL)
        .bind(crate::runner::progress_payload(projector.name(), last.seq))
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Tried::Busy);
        }
    }
    tx.commit().await?;
    Ok(Tried::Applied(last.seq))
}

/// Moves the checkpoint over events the projector has no use for (most events concern
/// one or two of them), from `from` to `to`: one statement, under the same advisory lock
/// and with the same NOTIFY as a batch. False when it did not move (another writer holds
/// the lock, or moved it meanwhile).
pub(crate) async fn move_checkpoint_only(
    conn: impl sqlx::PgExecutor<'_>,
    name: &str,
    from: i64,
    to: i64,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "WITH locked AS (SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok) \
         UPDATE projection_checkpoints SET last_seq = $4, failed_seq = NULL, failure = NULL, \
                updated_at = now() \
         FROM locked WHERE locked.ok AND name = $2 AND last_seq = $3 \
         RETURNING pg_notify($5, $6)",
    )
    .bind(LOCK_CLASS)
    .bind(name)
    .bind(from)
    .bind(to)
    .bind(crate::PROJECTIONS_CHANNEL)
    .bind(crate::runner::progress_payload(name, to))
    .execute(conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// An identifier quoted for SQL: our schema names are plain, this keeps them so.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
