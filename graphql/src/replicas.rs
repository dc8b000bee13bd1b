//! Reading from PostgreSQL streaming replicas (`MEDCHAIN_REPLICA_URLS`): a GraphQL query
//! is answered from a replica that has replayed everything the primary had committed
//! when the query arrived, so nobody reads older than their own last write, or older
//! than a revocation (a share, a grant) made before they asked. The primary's WAL
//! position is read when the query arrives (`pg_current_wal_insert_lsn()`: one small round
//! trip), then a replica is asked whether it has replayed that far
//! (`pg_last_wal_replay_lsn()`), waiting a bounded time; a replica that does not catch
//! up in time, or cannot be reached, is passed over for a second and the primary answers.
//!
//! The target is the primary's WAL insert position, not its flush position: the
//! projectors commit asynchronously, so a view row the caller's own write produced may be
//! committed and not yet flushed, and a replica receives only flushed WAL. The WAL writer
//! flushes it within `wal_writer_delay`, which the embedded cluster sets to 10 ms (the
//! default 200 ms would outlast the wait; README: set it on a PostgreSQL of your own).
//!
//! The `notifications` subscription reads the same way: its catch-up from a replica
//! past the primary's position once it registered, and the hub's reads of new notices
//! (once per process for all subscribers) from a replica past the position when the view
//! moved.
//!
//! What stays on the primary: mutations and everything they read, session checks (every
//! request's, before any of this), the file and FHIR routes (each read there is written
//! to the ledger first), the projectors, and the administrators' `ledgerEvents` live
//! tail (woken by the primary's NOTIFY of each append, it would wait on a replica for
//! every event it is told of).

use sqlx::PgPool;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a replica that fell behind (or failed) is passed over.
const BENCHED_FOR: Duration = Duration::from_secs(1);
/// The replica is asked again this often while it catches up.
const POLL: Duration = Duration::from_millis(1);

/// `medchain_replica_reads_total{outcome}`: where queries were answered.
pub const REPLICA_READS: &str = "medchain_replica_reads_total";

pub struct Replicas {
    replicas: Vec<Replica>,
    next: AtomicUsize,
    /// The longest a query waits for a replica to catch up.
    wait: Duration,
}

struct Replica {
    pool: PgPool,
    /// Passed over until then.
    benched_until: Mutex<Option<Instant>>,
}

impl Replicas {
    /// `None` when there are no replicas.
    pub fn new(pools: Vec<PgPool>, wait: Duration) -> Option<Self> {
        (!pools.is_empty()).then(|| Self {
            replicas: pools
                .into_iter()
                .map(|pool| Replica {
                    pool,
                    benched_until: Mutex::new(None),
                })
                .collect(),
            next: AtomicUsize::new(0),
            wait,
        })
    }

    /// A replica that has replayed all the primary had committed when this was called,
    /// or `None`: read the primary.
    pub async fn caught_up(&self, primary: &PgPool) -> Option<PgPool> {
        let now = Instant::now();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(replica) = (0..self.replicas.len())
            .map(|i| &self.replicas[(start + i) % self.replicas.len()])
            .find(|r| r.available(now))
        else {
            metrics::counter!(REPLICA_READS, "outcome" => "primary_replicas_benched").increment(1);
            return None;
        };
        let lsn: String = match sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(primary)
            .await
        {
            Ok(lsn) => lsn,
            Err(_) => return None,
        };
        let deadline = now + self.wait;
        loop {
            let replayed: Result<bool, _> = sqlx::query_scalar(
                "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)",
            )
            .bind(&lsn)
            .fetch_one(&replica.pool)
            .await;
            match replayed {
                Ok(true) => {
                    metrics::counter!(REPLICA_READS, "outcome" => "replica").increment(1);
                    return Some(replica.pool.clone());
                }
                Ok(false) if Instant::now() + POLL < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                Ok(false) => {
                    tracing::debug!(%lsn, "a replica is behind; the primary answers");
                    metrics::counter!(REPLICA_READS, "outcome" => "primary_replica_behind")
                        .increment(1);
                    replica.bench();
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a replica cannot be reached; the primary answers");
                    metrics::counter!(REPLICA_READS, "outcome" => "primary_replica_failed")
                        .increment(1);
                    replica.bench();
                    return None;
                }
            }
        }
    }
}

impl Replica {
    fn available(&self, now: Instant) -> bool {
        let benched = self
            .benched_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        benched.is_none_or(|until| now >= until)
    }

    fn bench(&self) {
        *self
            .benched_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Instant::now() + BENCHED_FOR);
    }
}
