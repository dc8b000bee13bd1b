//! The automatic checkpoint: every `every_events` events or every `every` (whichever
//! comes first, and only when the ledger moved), the head is signed and stored outside
//! the database, so verification can tell a truncated or re-hashed chain from the real
//! one without anybody remembering to run `medchain ledger checkpoint`.
//!
//! Every server process runs one; a transaction-level advisory lock makes one of them
//! the writer at a time, and the writer looks at the store again under the lock, so two
//! processes never sign the same stretch twice.

use commands::{
    Clock,
    keys::LedgerKey,
    ledger::{CheckpointStore, ledger_head},
};
use domain::{Timestamp, ledger::Checkpoint};
use sqlx::PgPool;
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;

/// The checkpoint writer's advisory lock (shared with an export's head, which may sign
/// one too).
const LOCK: (i32, i32) = commands::ledger::checkpoint::WRITER_LOCK;
/// How often the head is looked at.
const LOOK: Duration = Duration::from_secs(1);

/// When to checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// After this many events since the last checkpoint.
    pub every_events: i64,
    /// After this long since the last checkpoint, when there is anything new.
    pub every: Duration,
}

pub fn spawn(
    pool: PgPool,
    store: CheckpointStore,
    key: Arc<LedgerKey>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    tree: projections::merkle::NodeCache,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let started = clock.now();
        let mut last: Option<Checkpoint> = None;
        let mut known = false;
        let mut tick = tokio::time::interval(LOOK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if !known {
                match store.newest().await {
                    Ok(newest) => {
                        last = newest.map(|s| s.checkpoint);
                        known = true;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the newest checkpoint; trying again later");
                        continue;
                    }
                }
            }
            let signer = Signer {
                store: &store,
                key: &key,
                tree: &tree,
            };
            match round(&pool, &signer, clock.as_ref(), policy, started, last).await {
                Ok(Some(newest)) => last = Some(newest),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "automatic checkpoint failed; trying again later");
                    known = false;
                }
            }
        }
    });
}

fn due(
    policy: Policy,
    head_seq: i64,
    last: Option<Checkpoint>,
    since: Timestamp,
    now: Timestamp,
) -> bool {
    let (last_seq, last_at) = last.map_or((0, since), |c| (c.seq, c.at));
    let new_events = head_seq - last_seq;
    let waited =
        Duration::from_micros(u64::try_from(now.as_micros() - last_at.as_micros()).unwrap_or(0));
    new_events >= policy.every_events || (new_events > 0 && waited >= policy.every)
}

/// Writes a checkpoint if one is due; returns the newest one known after looking.
/// What writes a signed tree head: where it is kept, the key and the tree's cache.
struct Signer<'a> {
    store: &'a CheckpointStore,
    key: &'a LedgerKey,
    tree: &'a projections::merkle::NodeCache,
}

async fn round(
    pool: &PgPool,
    Signer { store, key, tree }: &Signer<'_>,
    clock: &dyn Clock,
    policy: Policy,
    started: Timestamp,
    last: Option<Checkpoint>,
) -> Result<Option<Checkpoint>, Box<dyn std::error::Error + Send + Sync>> {
    let head = ledger_head(pool).await?;
    if !due(policy, head.seq, last, started, clock.now()) {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    let writer: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, $2)")
        .bind(LOCK.0)
        .bind(LOCK.1)
        .fetch_one(&mut *tx)
        .await?;
    if !writer {
        return Ok(None); // another process is writing one now
    }
    // Another process may have just written one.
    let newest = store.newest().await?.map(|s| s.checkpoint);
    if newest != last && !due(policy, head.seq, newest, started, clock.now()) {
        return Ok(newest);
    }
    // A signed tree head: at the size the transparency log's tree has reached (the
    // `merkle` view follows the ledger within milliseconds).
    let Some(tree) = projections::merkle::head(pool, tree, head.seq).await? else {
        return Ok(last);
    };
    let (signed, location) = store.write(pool, key, clock, Some(tree)).await?;
    tx.commit().await?;
    tracing::info!(seq = signed.checkpoint.seq, %location, "checkpoint written");
    Ok(Some(signed.checkpoint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ledger::Hash;

    const POLICY: Policy = Policy {
        every_events: 100,
        every: Duration::from_secs(600),
    };

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * 1_000_000)
    }

    fn checkpoint(seq: i64, secs: i64) -> Option<Checkpoint> {
        Some(Checkpoint {
            seq,
            hash: Hash::ZERO,
            root: None,
            at: at(secs),
        })
    }

    #[test]
    fn due_after_enough_events_or_enough_time_with_something_new() {
        assert!(!due(POLICY, 99, None, at(0), at(10)));
        assert!(due(POLICY, 100, None, at(0), at(10)));
        assert!(due(POLICY, 1, None, at(0), at(600)));
        assert!(!due(POLICY, 150, checkpoint(150, 0), at(0), at(10_000)));
        assert!(due(POLICY, 151, checkpoint(150, 0), at(0), at(600)));
        assert!(!due(POLICY, 151, checkpoint(150, 0), at(0), at(599)));
        assert!(due(POLICY, 250, checkpoint(150, 0), at(0), at(1)));
    }
}
