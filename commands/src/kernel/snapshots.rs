//! Snapshots of folded states, in the `snapshots` table: one row per stream, replaced by a
//! later one. A state is written whenever a stream's version passes a multiple of
//! `EVERY`, by whichever process folded or appended past it (appends to a stream are
//! serialised, so each multiple is passed once), so however long a stream grows, a command
//! in a fresh process reads fewer than `EVERY` of its events.
//!
//! A snapshot is derived data, never a source of truth: one that cannot be read (another
//! `FORMAT`, a state whose shape changed) is ignored, and the stream is folded from its
//! first event as before. So is one whose MAC (`keys::snapshot_mac`) does not hold: a
//! snapshot decides what a command may do, and the table can be written by anyone with
//! the database. States hold only what their events hold (sealed fields stay sealed), so
//! a snapshot reveals nothing the ledger does not.

use super::Loaded;
use crate::{CommandError, keys::KeyRing};
use domain::{Aggregate, StreamName};
use sqlx::PgPool;

/// Events a fold applies before its state is worth a snapshot.
pub(super) const EVERY: i32 = 64;

/// Raise when a state's meaning changes in a way its JSON would not show: every older
/// snapshot is then ignored.
const FORMAT: i32 = 1;

/// Whether a state that moved from version `from` to `to` passed a multiple of `EVERY`.
pub(super) fn due(from: i32, to: i32) -> bool {
    to / EVERY > from / EVERY
}

/// The stream's snapshot, if it has one this code can read.
pub(super) async fn read<A: Aggregate>(
    pool: &PgPool,
    keys: &KeyRing,
    stream: &StreamName,
) -> Result<Option<Loaded<A>>, CommandError> {
    let row: Option<(i32, i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT version, last_seq, state, mac FROM snapshots WHERE stream = $1 AND format = $2",
    )
    .bind(stream.as_str())
    .bind(FORMAT)
    .fetch_optional(pool)
    .await?;
    let Some((version, last_seq, state, mac)) = row else {
        return Ok(None);
    };
    if !keys
        .snapshots()
        .verify(stream.as_str(), version, last_seq, FORMAT, &state, &mac)
    {
        // Not ours: it goes, so the next fold can leave a true one in its place.
        tracing::warn!(stream = %stream, version, "a snapshot's MAC does not hold; removed, folding from the start");
        sqlx::query("DELETE FROM snapshots WHERE stream = $1 AND mac = $2")
            .bind(stream.as_str())
            .bind(&mac)
            .execute(pool)
            .await?;
        return Ok(None);
    }
    match serde_json::from_str::<A>(&state) {
        Ok(state) => Ok(Some(Loaded {
            state,
            version,
            last_seq,
            read: 0,
        })),
        Err(e) => {
            tracing::debug!(stream = %stream, error = %e, "snapshot unreadable; folding from the start");
            Ok(None)
        }
    }
}

/// Keeps `loaded` as the stream's snapshot unless a later one is kept already (a row
/// whose MAC did not hold was removed when it was read).
pub(super) async fn write<A: Aggregate>(
    pool: &PgPool,
    keys: &KeyRing,
    stream: &StreamName,
    loaded: &Loaded<A>,
) -> Result<(), CommandError> {
    let state = serde_json::to_string(&loaded.state).map_err(CommandError::internal)?;
    let mac = keys.snapshots().tag(
        stream.as_str(),
        loaded.version,
        loaded.last_seq,
        FORMAT,
        &state,
    );
    sqlx::query(
        "INSERT INTO snapshots (stream, version, last_seq, format, state, mac) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (stream) DO UPDATE SET version = EXCLUDED.version, \
           last_seq = EXCLUDED.last_seq, format = EXCLUDED.format, state = EXCLUDED.state, \
           mac = EXCLUDED.mac \
         WHERE snapshots.version < EXCLUDED.version OR snapshots.format <> EXCLUDED.format",
    )
    .bind(stream.as_str())
    .bind(loaded.version)
    .bind(loaded.last_seq)
    .bind(FORMAT)
    .bind(state)
    .bind(mac)
    .execute(pool)
    .await?;
    Ok(())
}
