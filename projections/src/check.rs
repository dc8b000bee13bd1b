//! `medchain projections check`: is each live view what the ledger says it should be?
//! Every projector is replayed into scratch tables up to the seq its live tables stand at,
//! and each table is hashed on both sides (SHA-256 over its rows' text, in sorted order)
//! and compared; a table that differs is named, with how many rows differ each way.
//!
//! The check never stops the live views: it replays into its scratch tables without the
//! projector's lock, catches up with where the live tables stand, and compares inside one
//! REPEATABLE READ snapshot, in which the live tables and their checkpoint agree (a batch
//! commits both at once). If the live tables moved on before the snapshot was taken, the
//! scratch tables catch up again; only a view that keeps moving through every attempt is
//! held still (its lock taken) for the last catch-up and the comparison.

use crate::{
    Projector,
    batch::{LOCK_CLASS, quote_ident},
    rebuild::{RebuildError, replay_into, replay_more},
};
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{Connection as _, PgConnection, PgPool};

/// One table, live and replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    pub table: &'static str,
    pub live_rows: i64,
    pub live_hash: String,
    pub replayed_hash: String,
    /// Rows in the live table that the replay does not have.
    pub only_live: i64,
    /// Rows the replay has that the live table does not.
    pub only_replayed: i64,
}

impl TableCheck {
    pub fn same(&self) -> bool {
        self.live_hash == self.replayed_hash
    }
}

/// One projector: where its live tables stand, and each table's comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionCheck {
    pub name: &'static str,
    pub seq: i64,
    pub tables: Vec<TableCheck>,
}

impl ProjectionCheck {
    pub fn same(&self) -> bool {
        self.tables.iter().all(TableCheck::same)
    }
}

pub async fn check(
    pool: &PgPool,
    projector: &dyn Projector,
) -> Result<ProjectionCheck, RebuildError> {
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
    let schema = format!("check_{}", projector.name());
    let result = check_in(pool, &mut conn, projector, &schema).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        quote_ident(&schema)
    )))
    .execute(&mut conn)
    .await;
    // Closing the connection releases the lock, if the last attempt took it.
    let _ = conn.close().await;
    result
}

/// Tries at comparing inside a snapshot before the view is held still.
const ATTEMPTS: usize = 5;

async fn check_in(
    pool: &PgPool,
    conn: &mut PgConnection,
    projector: &dyn Projector,
    schema: &str,
) -> Result<ProjectionCheck, RebuildError> {
    let mut at = checkpoint(&mut *conn, projector).await?;
    replay_into(pool, conn, projector, schema, Some(at)).await?;
    for _ in 0..ATTEMPTS {
        let mut tx = conn.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let now = checkpoint(&mut tx, projector).await?;
        if now == at {
            let tables = compare(&mut tx, projector, schema).await?;
            tx.commit().await?;
            return Ok(checked(projector, at, tables));
        }
        tx.rollback().await?;
        replay_more(pool, conn, projector, schema, at, Some(now)).await?;
        at = now;
    }
    sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
        .bind(LOCK_CLASS)
        .bind(projector.name())
        .execute(&mut *conn)
        .await?;
    let now = checkpoint(&mut *conn, projector).await?;
    replay_more(pool, conn, projector, schema, at, Some(now)).await?;
    let tables = compare(conn, projector, schema).await?;
    Ok(checked(projector, now, tables))
}

fn checked(projector: &dyn Projector, seq: i64, tables: Vec<TableCheck>) -> ProjectionCheck {
    ProjectionCheck {
        name: projector.name(),
        seq,
        tables,
    }
}

/// Where the projector's live tables stand.
async fn checkpoint(
    conn: &mut PgConnection,
    projector: &dyn Projector,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT last_seq FROM projection_checkpoints WHERE name = $1), 0)",
    )
    .bind(projector.name())
    .fetch_one(&mut *conn)
    .await
}

/// Each of the projector's tables, live and in `schema`.
async fn compare(
    conn: &mut PgConnection,
    projector: &dyn Projector,
    schema: &str,
) -> Result<Vec<TableCheck>, sqlx::Error> {
    let mut tables = Vec::new();
    for &table in projector.tables() {
        let live = format!("public.{}", quote_ident(table));
        let replayed = format!("{}.{}", quote_ident(schema), quote_ident(table));
        let (live_rows, live_hash) = table_hash(conn, &live).await?;
        let (_, replayed_hash) = table_hash(conn, &replayed).await?;
        let (only_live, only_replayed) = if live_hash == replayed_hash {
            (0, 0)
        } else {
            (
                rows_missing(conn, &live, &replayed).await?,
                rows_missing(conn, &replayed, &live).await?,
            )
        };
        tables.push(TableCheck {
            table,
            live_rows,
            live_hash,
            replayed_hash,
            only_live,
            only_replayed,
        });
    }
    Ok(tables)
}

/// How many rows and SHA-256 over every row's text, in sorted order, streamed: the same
/// rows give the same hash whatever their physical order.
async fn table_hash(conn: &mut PgConnection, table: &str) -> Result<(i64, String), sqlx::Error> {
    let mut rows = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "SELECT t::text FROM {table} t ORDER BY t::text COLLATE \"C\""
    )))
    .fetch(&mut *conn);
    let mut hash = Sha256::new();
    let mut count = 0i64;
    while let Some(row) = rows.try_next().await? {
        hash.update(row.as_bytes());
        hash.update(b"\n");
        count += 1;
    }
    Ok((count, hex::encode(hash.finalize())))
}

/// Rows of `a` (as text, counted with repeats) that `b` lacks.
async fn rows_missing(conn: &mut PgConnection, a: &str, b: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM (SELECT t::text FROM {a} t EXCEPT ALL SELECT t::text FROM {b} t) d"
    )))
    .fetch_one(&mut *conn)
    .await
}
