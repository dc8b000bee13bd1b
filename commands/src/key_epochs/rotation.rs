//! The rotation (DESIGN.md §11): a new epoch key, every live key moved under it in
//! batches while reads and uploads go on, then each older epoch closed, its key destroyed
//! and `KeyEpochRetired` appended; then the erasures this completed get `ErasureCompleted`.
//!
//! One process at a time: the whole rotation holds a session-level advisory lock on a
//! connection of its own, which is closed afterwards (never returned to the pool still
//! holding the lock), and a process that finds the lock taken does not wait. Every step
//! is safe to repeat and recorded before the next depends on it, so a rotation cut off
//! anywhere is finished by the next start (`resume`): an epoch is destroyed only after it
//! was closed (no insert under it can follow: inserts take FOR SHARE on its row and check
//! it is open) and a pass then found no key left under it. No key is ever left wrapped
//! only by a destroyed epoch.

use super::KeyEpochs;
use crate::{
    CommandError, Decision,
    keys::{ROTATION_LOCK, RewrapCursor},
};
use domain::{
    Timestamp,
    account::UserId,
    erasure::{EpochNumber, ErasureCompletion, ErasureSubject, KeyEpoch, complete, retire},
    record::RecordId,
};
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationOutcome {
    /// The epoch keys are wrapped under now.
    pub current: EpochNumber,
    pub retired: Vec<EpochNumber>,
    pub keys_moved: u64,
    pub erasures_completed: usize,
}

/// Test builds only (feature `test-hooks`): a rotation can stop for good after a given
/// number of batches, so a test can kill it exactly halfway, and take small batches.
#[derive(Debug, Clone, Copy)]
pub struct RotationHooks {
    pub batch: i64,
    pub pause_after_batches: Option<u64>,
}

const BATCH: i64 = 2000;

impl RotationHooks {
    pub fn none() -> Self {
        Self {
            batch: BATCH,
            pause_after_batches: None,
        }
    }

    /// `MEDCHAIN_TEST_ROTATION_BATCH` and `MEDCHAIN_TEST_ROTATION_PAUSE_AFTER`, read only
    /// when built for tests.
    pub fn from_env() -> Self {
        #[cfg(feature = "test-hooks")]
        {
            let read = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
            Self {
                batch: read("MEDCHAIN_TEST_ROTATION_BATCH").unwrap_or(BATCH as u64) as i64,
                pause_after_batches: read("MEDCHAIN_TEST_ROTATION_PAUSE_AFTER"),
            }
        }
        #[cfg(not(feature = "test-hooks"))]
        Self::none()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("another process is rotating the key epochs")]
pub struct Busy;

impl KeyEpochs {
    /// Rotates now: begins a new epoch and retires every older one. `Conflict` when
    /// another process is rotating.
    pub async fn rotate(&self) -> Result<RotationOutcome, CommandError> {
        // In a task of its own: a caller that goes away (a closed request) does not cut
        // the rotation off between steps.
        let this = self.clone();
        tokio::spawn(async move { this.locked(true).await })
            .await
            .map_err(CommandError::internal)??
            .ok_or_else(|| CommandError::Conflict(Busy.to_string()))
    }

    /// At start: finishes a rotation that was cut off, moves keys from before key epochs
    /// into the current one, and begins epoch 1 on a new database. Nothing when another
    /// process holds the lock (it is doing the same).
    pub async fn resume(&self) -> Result<Option<RotationOutcome>, CommandError> {
        self.locked(false).await
    }

    /// Rotates when the current epoch has lasted `MEDCHAIN_KEY_EPOCH`; otherwise only
    /// drops retired epochs' keys from memory (another process may have rotated).
    pub async fn rotate_if_due(&self) -> Result<Option<RotationOutcome>, CommandError> {
        let rows = self.epoch_rows().await?;
        let retired: Vec<EpochNumber> = rows
            .iter()
            .filter(|r| r.retired_at.is_some())
            .map(|r| r.number as EpochNumber)
            .collect();
        self.inner.keys.refresh_epochs(&retired);
        let now = self.inner.clock.now();
        let due = match rows.iter().rev().find(|r| r.closed_at.is_none()) {
            Some(open) => {
                Timestamp::from_datetime(open.started_at).plus_micros(self.interval_micros()) <= now
            }
            None => true,
        };
        let unfinished = rows.iter().filter(|r| r.retired_at.is_none()).count() > 1;
        if due || unfinished {
            return self.locked(due).await;
        }
        Ok(None)
    }

    async fn locked(&self, begin_new: bool) -> Result<Option<RotationOutcome>, CommandError> {
        let mut lock = PgConnection::connect_with(&self.pool().connect_options()).await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(ROTATION_LOCK)
            .fetch_one(&mut lock)
            .await?;
        if !got {
            return Ok(None);
        }
        let outcome = self.run(begin_new).await;
        // Closing the connection releases the lock whatever happened.
        let _ = lock.close().await;
        outcome.map(Some)
    }

    async fn run(&self, begin_new: bool) -> Result<RotationOutcome, CommandError> {
        let keys = &self.inner.keys;
        let rows = self.epoch_rows().await?;
        let newest = rows.last();
        let current = match newest {
            Some(n) if !begin_new && n.closed_at.is_none() => n.number as EpochNumber,
            _ => {
                let number = newest.map_or(1, |n| n.number as EpochNumber + 1);
                keys.create_epoch_key(number).await?;
                sqlx::query("INSERT INTO key_epochs (number, started_at) VALUES ($1, $2)")
                    .bind(number as i32)
                    .bind(self.inner.clock.now().to_datetime())
                    .execute(self.pool())
                    .await?;
                keys.refresh_epochs(&[]);
                tracing::info!(epoch = number, "key epoch begun");
                number
            }
        };
        let older: Vec<EpochNumber> = rows
            .iter()
            .filter(|r| r.retired_at.is_none() && (r.number as EpochNumber) < current)
            .map(|r| r.number as EpochNumber)
            .collect();

        let mut keys_moved = self.move_all(current).await?;
        for &epoch in &older {
            // Waits for inserts under it in flight (FOR SHARE); none can follow.
            sqlx::query(
                "UPDATE key_epochs SET closed_at = coalesce(closed_at, $2) WHERE number = $1",
            )
            .bind(epoch as i32)
            .bind(self.inner.clock.now().to_datetime())
            .execute(self.pool())
            .await?;
        }
        // What was inserted under an older epoch before it closed.
        keys_moved += self.move_all(current).await?;
        keys.vacuum_keys(self.pool()).await?;
        for &epoch in &older {
            self.retire(epoch).await?;
        }
        let erasures_completed = self.complete_erasures().await?;
        if !older.is_empty() || keys_moved > 0 {
            tracing::info!(epoch = current, retired = ?older, keys_moved, erasures_completed, "key rotation finished");
        }
        Ok(RotationOutcome {
            current,
            retired: older,
            keys_moved,
            erasures_completed,
        })
    }

    /// Moves every key under an older epoch (or none) under `current`: one pass over
    /// each key table in key order, batch by batch.
    async fn move_all(&self, current: EpochNumber) -> Result<u64, CommandError> {
        let hooks = self.inner.hooks;
        let mut moved = 0;
        let mut batches = 0u64;
        let mut cursor = Some(RewrapCursor::START);
        while let Some(at) = cursor {
            let (n, next) = self
                .inner
                .keys
                .rewrap_batch(self.pool(), current, at, hooks.batch)
                .await?;
            moved += n;
            cursor = next;
            if n > 0 {
                batches += 1;
                if hooks.pause_after_batches == Some(batches) {
                    // A test kills the process here, halfway through a rotation.
                    eprintln!("medchain: rotation paused after {batches} batches");
                    std::future::pending::<()>().await;
                }
            }
        }
        Ok(moved)
    }

    /// Destroys a closed epoch's key, then records it: on the ledger and in `key_epochs`.
    async fn retire(&self, epoch: EpochNumber) -> Result<(), CommandError> {
        self.inner.keys.destroy_epoch_key(epoch).await?;
        let done = self
            .inner
            .kernel
            .execute::<KeyEpoch, ()>(epoch, None, |state| Ok(Decision::events(retire(state))))
            .await?;
        sqlx::query(
            "UPDATE key_epochs SET retired_at = coalesce(retired_at, $2), \
                    retired_seq = coalesce(retired_seq, $3) WHERE number = $1",
        )
        .bind(epoch as i32)
        .bind(self.inner.clock.now().to_datetime())
        .bind(done.seq)
        .execute(self.pool())
        .await?;
        tracing::info!(epoch, "key epoch retired: its key destroyed");
        Ok(())
    }

    /// Every erasure whose epochs are now all retired gets `ErasureCompleted`.
    async fn complete_erasures(&self) -> Result<usize, CommandError> {
        let pending: Vec<(String, Uuid, Uuid, i32, i32)> = sqlx::query_as(
            "SELECT x.kind, x.subject_id, x.owner_id, x.first_epoch, x.last_epoch \
             FROM key_erasures x \
             WHERE x.completed_seq IS NULL AND x.first_epoch > 0 \
               AND NOT EXISTS (SELECT 1 FROM key_epochs e \
                               WHERE e.number BETWEEN x.first_epoch AND x.last_epoch \
                                 AND e.retired_at IS NULL) \
             ORDER BY x.erased_at",
        )
        .fetch_all(self.pool())
        .await?;
        let mut completed = 0;
        for (kind, id, owner, first, last) in pending {
            let subject = match kind.as_str() {
                "user" => ErasureSubject::User(UserId::from_uuid(id)),
                _ => ErasureSubject::Record(RecordId::from_uuid(id)),
            };
            let epochs: Vec<(EpochNumber, bool)> =
                (first..=last).map(|n| (n as EpochNumber, true)).collect();
            let done = self
                .inner
                .kernel
                .execute::<ErasureCompletion, ()>(subject, None, |state| {
                    complete(state, UserId::from_uuid(owner), &epochs)
                        .map(Decision::events)
                        .map_err(|e| CommandError::Conflict(e.to_string()))
                })
                .await?;
            sqlx::query(
                "UPDATE key_erasures SET completed_seq = $3 WHERE kind = $1 AND subject_id = $2",
            )
            .bind(&kind)
            .bind(id)
            .bind(done.seq)
            .execute(self.pool())
            .await?;
            completed += 1;
        }
        Ok(completed)
    }
}
