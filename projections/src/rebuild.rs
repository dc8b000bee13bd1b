//! `medchain projections rebuild`: replays the whole ledger into fresh copies of a
//! projector's tables and swaps them in at the end, so readers see the old view until
//! the new one is complete, never a half-built one.
//!
//! The rebuild holds the projector's advisory lock (session level) throughout, so a
//! running server's batches find it busy and wait; when the swap commits, the checkpoint
//! says where the new tables stand and the server carries on from there.

use crate::{
    Projector,
    batch::{BatchOutcome, LOCK_CLASS, Target, apply_batch, quote_ident},
};
use commands::RecordedEvent;
use sqlx::{Connection as _, PgConnection, PgPool};
use std::sync::Arc;
use tokio::sync::mpsc;

const BATCH: i64 = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("event {seq} cannot be applied: {reason}; the old tables are kept")]
    Event { seq: i64, reason: String },
    #[error("the rebuild stopped: {0}; the old tables are kept")]
    Aborted(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub events: i64,
    pub last_seq: i64,
}

/// Rebuilds one projector (see [`rebuild_many`]).
pub async fn rebuild(pool: &PgPool, projector: &dyn Projector) -> Result<Rebuilt, RebuildError> {
    let (feed, fed) = mpsc::channel(FEED_DEPTH);
    let (read, rebuilt) = tokio::join!(
        read_ledger(pool, vec![feed]),
        rebuild_fed(pool, projector, fed)
    );
    read?;
    rebuilt
}

/// Rebuilds `projectors` together: the ledger is read once, batch by batch, and each
/// projector applies every batch on a connection of its own, in a task of its own. They
/// share no tables, so they run in parallel: the rebuild takes about as long as its
/// slowest projector, not the sum of them. Each swaps its tables in when it has applied
/// the whole ledger; one that fails keeps its old tables and does not hold the others
/// back.
pub async fn rebuild_many(
    pool: &PgPool,
    projectors: &[Arc<dyn Projector>],
) -> Vec<(&'static str, Result<Rebuilt, RebuildError>)> {
    let mut feeds = Vec::new();
    let mut tasks = Vec::new();
    for projector in projectors {
        let (feed, fed) = mpsc::channel(FEED_DEPTH);
        feeds.push(feed);
        let (pool, projector) = (pool.clone(), projector.clone());
        tasks.push((
            projector.name(),
            tokio::spawn(async move { rebuild_fed(&pool, projector.as_ref(), fed).await }),
        ));
    }
    let read = read_ledger(pool, feeds).await;
    let mut results = Vec::new();
    for (name, task) in tasks {
        let result = match task.await {
            Ok(result) => result,
            Err(e) => Err(RebuildError::Aborted(e.to_string())),
        };
        let result = match (&read, result) {
            // Without the whole ledger nothing was swapped in.
            (Err(e), Err(RebuildError::Aborted(_))) => Err(RebuildError::Aborted(e.to_string())),
            (_, result) => result,
        };
        results.push((name, result));
    }
    results
}

/// Batches in flight to each projector: enough to keep it busy while the next is read.
const FEED_DEPTH: usize = 2;

/// What the ledger reader hands a projector's rebuild.
enum Feed {
    Batch(Arc<Vec<RecordedEvent>>),
    /// The whole ledger has been handed over: swap the new tables in.
    End,
}

/// Reads the whole ledger once, handing each batch to every feed still open; ends each
/// with [`Feed::End`] when it has read everything (a feed whose rebuild stopped is
/// dropped). On a read error the feeds close without an end, and nothing is swapped in.
async fn read_ledger(pool: &PgPool, feeds: Vec<mpsc::Sender<Feed>>) -> Result<(), sqlx::Error> {
    let mut feeds: Vec<_> = feeds.into_iter().map(Some).collect();
    let mut last_seq = 0;
    loop {
        let batch = commands::event_store::read_all_from(pool, last_seq + 1, BATCH).await?;
        let Some(last) = batch.last() else { break };
        last_seq = last.seq;
        let batch = Arc::new(batch);
        for slot in &mut feeds {
            if let Some(feed) = slot
                && feed.send(Feed::Batch(batch.clone())).await.is_err()
            {
                *slot = None;
            }
        }
        if feeds.iter().all(Option::is_none) {
            return Ok(());
        }
    }
    for feed in feeds.into_iter().flatten() {
        let _ = feed.send(Feed::End).await;
    }
    Ok(())
}

/// One projector's rebuild from what `fed` hands it, under its advisory lock (session
/// level, on a connection of its own).
async fn rebuild_fed(
    pool: &PgPool,
    projector: &dyn Projector,
    fed: mpsc::Receiver<Feed>,
) -> Result<Rebuilt, RebuildError> {
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
    sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
        .bind(LOCK_CLASS)
        .bind(projector.name())
        .execute(&mut conn)
        .await?;
    let result = rebuild_locked(&mut conn, projector, fed).await;
    if result.is_err() {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            quote_ident(&schema_of(projector))
        )))
        .execute(&mut conn)
        .await;
    }
    // Closing the connection releases the session lock.
    let _ = conn.close().await;
    result
}

fn schema_of(projector: &dyn Projector) -> String {
    format!("rebuild_{}", projector.name())
}

async fn rebuild_locked(
    conn: &mut PgConnection,
    projector: &dyn Projector,
    mut fed: mpsc::Receiver<Feed>,
) -> Result<Rebuilt, RebuildError> {
    let schema = schema_of(projector);
    let quoted = quote_ident(&schema);
    fresh_tables(conn, projector, &schema).await?;
    let (mut events, mut last_seq) = (0, 0);
    loop {
        match fed.recv().await {
            Some(Feed::Batch(batch)) => {
                apply_into(conn, projector, &schema, &batch).await?;
                events += batch.len() as i64;
                last_seq = batch.last().map_or(last_seq, |e| e.seq);
            }
            Some(Feed::End) => break,
            None => return Err(RebuildError::Aborted("the ledger could not be read".into())),
        }
    }
    // The swap: the old tables go, the new ones move in, the checkpoint follows, at once.
    let mut tx = conn.begin().await?;
    for table in projector.tables() {
        let table = quote_ident(table);
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE public.{table}")))
            .execute(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {quoted}.{table} SET SCHEMA public"
        )))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {quoted}")))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, last_seq) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET last_seq = $2, failed_seq = NULL, failure = NULL, \
         updated_at = now()",
    )
    .bind(projector.name())
    .bind(last_seq)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(crate::PROJECTIONS_CHANNEL)
        .bind(crate::runner::progress_payload(projector.name(), last_seq))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Rebuilt { events, last_seq })
}

/// Replays the ledger (up to `until`, or its end) into fresh copies of the projector's
/// tables in `schema`, made anew. Also what `check` compares with the live tables.
pub(crate) async fn replay_into(
    pool: &PgPool,
    conn: &mut PgConnection,
    projector: &dyn Projector,
    schema: &str,
    until: Option<i64>,
) -> Result<Rebuilt, RebuildError> {
    fresh_tables(conn, projector, schema).await?;
    replay_more(pool, conn, projector, schema, 0, until).await
}

/// Replays the events after `from` (up to `until`, or the ledger's end) into the tables
/// in `schema`, which stand at `from`.
pub(crate) async fn replay_more(
    pool: &PgPool,
    conn: &mut PgConnection,
    projector: &dyn Projector,
    schema: &str,
    from: i64,
    until: Option<i64>,
) -> Result<Rebuilt, RebuildError> {
    let (mut last_seq, mut events) = (from, 0);
    loop {
        let room = until.map_or(BATCH, |u| (u - last_seq).min(BATCH));
        if room <= 0 {
            break;
        }
        let batch = commands::event_store::read_all_from(pool, last_seq + 1, room).await?;
        let Some(last) = batch.last() else { break };
        last_seq = last.seq;
        apply_into(conn, projector, schema, &batch).await?;
        events += batch.len() as i64;
    }
    Ok(Rebuilt { events, last_seq })
}

/// Fresh, empty copies of the projector's tables in `schema`, made anew.
async fn fresh_tables(
    conn: &mut PgConnection,
    projector: &dyn Projector,
    schema: &str,
) -> Result<(), sqlx::Error> {
    let quoted = quote_ident(schema);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {quoted} CASCADE"
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {quoted}")))
        .execute(&mut *conn)
        .await?;
    for table in projector.tables() {
        let table = quote_ident(table);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {quoted}.{table} (LIKE public.{table} INCLUDING ALL)"
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// One batch into the tables in `schema`; an event that cannot be applied stops it.
async fn apply_into(
    conn: &mut PgConnection,
    projector: &dyn Projector,
    schema: &str,
    batch: &[RecordedEvent],
) -> Result<(), RebuildError> {
    match apply_batch(conn, projector, batch, Target::Rebuild { schema }).await? {
        BatchOutcome::Applied { .. } => Ok(()),
        BatchOutcome::Failed { seq, error } => Err(RebuildError::Event {
            seq,
            reason: error.to_string(),
        }),
        BatchOutcome::Busy => unreachable!("a rebuild's batches take no lock"),
    }
}
