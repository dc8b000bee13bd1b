//! The ledger's head: its last seq, hash and time.

use domain::{Timestamp, ledger::Hash};
use sqlx::PgPool;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerHead {
    pub seq: i64,
    /// `Hash::ZERO` for an empty ledger.
    pub hash: Hash,
    pub at: Option<Timestamp>,
}

pub async fn ledger_head(pool: &PgPool) -> Result<LedgerHead, sqlx::Error> {
    let row: Option<(i64, Vec<u8>, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT seq, hash, recorded_at FROM events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(match row {
        None => LedgerHead {
            seq: 0,
            hash: Hash::ZERO,
            at: None,
        },
        Some((seq, hash, at)) => LedgerHead {
            seq,
            hash: Hash::from_slice(&hash).map_err(|_| {
                sqlx::Error::Decode(format!("seq {seq}: hash is not 32 bytes").into())
            })?,
            at: Some(Timestamp::from_datetime(at)),
        },
    })
}

/// The last seq recorded at or before `at` (0 when none was): times never decrease along
/// the ledger (the appender sees to it), so every event up to it, and none after, was
/// recorded by then.
pub async fn seq_at(pool: &PgPool, at: Timestamp) -> Result<i64, sqlx::Error> {
    let seq: Option<i64> = sqlx::query_scalar(
        "SELECT seq FROM events WHERE recorded_at <= $1 ORDER BY recorded_at DESC, seq DESC LIMIT 1",
    )
    .bind(at.to_datetime())
    .fetch_optional(pool)
    .await?;
    Ok(seq.unwrap_or(0))
}

/// The time event `seq` was recorded, if there is one.
pub async fn time_of(pool: &PgPool, seq: i64) -> Result<Option<Timestamp>, sqlx::Error> {
    let at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT recorded_at FROM events WHERE seq = $1")
            .bind(seq)
            .fetch_optional(pool)
            .await?;
    Ok(at.map(Timestamp::from_datetime))
}

/// The hash of event `seq`, if there is one.
pub async fn hash_of(pool: &PgPool, seq: i64) -> Result<Option<Hash>, sqlx::Error> {
    let hash: Option<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM events WHERE seq = $1")
        .bind(seq)
        .fetch_optional(pool)
        .await?;
    hash.map(|h| {
        Hash::from_slice(&h)
            .map_err(|_| sqlx::Error::Decode(format!("seq {seq}: hash is not 32 bytes").into()))
    })
    .transpose()
}
