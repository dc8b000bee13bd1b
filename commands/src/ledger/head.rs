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
