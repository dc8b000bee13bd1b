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
use sqlx::{Connection as _, PgConnection, PgPool};

const BATCH: i64 = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("event {seq} cannot be applied: {reason}; the old tables are kept")]
    Event { seq: i64, reason: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub events: i64,
    pub last_seq: i64,
}

pub async fn rebuild(pool: &PgPool, projector: &dyn Projector) -> Result<Rebuilt, RebuildError> {
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
    sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
        .bind(LOCK_CLASS)
        .bind(projector.name())
        .execute(&mut conn)
        .await?;
    let result = rebuild_locked(pool, &mut conn, projector).await;
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
    pool: &PgPool,
    conn: &mut PgConnection,
    projector: &dyn Projector,
) -> Result<Rebuilt, RebuildError> {
    let schema = schema_of(projector);
    let quoted = quote_ident(&schema);
    let Rebuilt { events, last_seq } = replay_into(pool, conn, projector, &schema, None).await?;

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

    let mut last_seq = 0;
    let mut events = 0;
    loop {
        let room = until.map_or(BATCH, |u| (u - last_seq).min(BATCH));
        if room <= 0 {
            break;
        }
        let batch = commands::event_store::read_all_from(pool, last_seq + 1, room).await?;
        let Some(last) = batch.last() else { break };
        let last = last.seq;
        match apply_batch(conn, projector, &batch, Target::Rebuild { schema }).await? {
            BatchOutcome::Applied { .. } => {}
            BatchOutcome::Failed { seq, error } => {
                return Err(RebuildError::Event {
                    seq,
                    reason: error.to_string(),
                });
            }
            BatchOutcome::Busy => unreachable!("a rebuild's batches take no lock"),
        }
        events += batch.len() as i64;
        last_seq = last;
    }
    Ok(Rebuilt { events, last_seq })
}
