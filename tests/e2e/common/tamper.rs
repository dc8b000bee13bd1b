//! Tampering with the ledger as a superuser could: the append-only trigger disabled,
//! rows changed, removed, or a chain re-hashed from some seq, for the tests that show
//! verification catches it.

use domain::ledger::{CanonicalPayload, Hash, Row};
use futures::TryStreamExt as _;
use serde_json::json;
use sqlx::PgPool;

/// Runs statements with the append-only trigger disabled, as a superuser could.
pub async fn tamper(pool: &PgPool, statements: &[&str]) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE events DISABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    for s in statements {
        sqlx::query(sqlx::AssertSqlSafe(s.to_string()))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("ALTER TABLE events ENABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Rewrites every event from `from_seq` on with a new payload and re-hashes the chain, as
/// an attacker with database access could.
pub async fn rewrite_chain_from(pool: &PgPool, from_seq: i64) {
    let rows: Vec<Row> = commands::event_store::row_stream(pool, 1)
        .try_collect()
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE events DISABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    // Move the old hashes out of the way of the UNIQUE constraints first.
    sqlx::query("UPDATE events SET prev_hash = sha256(prev_hash || 'x'), hash = sha256(hash || 'x') WHERE seq >= $1")
        .bind(from_seq)
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut prev = rows[(from_seq - 2) as usize].hash;
    for row in rows.iter().filter(|r| r.seq >= from_seq) {
        let payload = CanonicalPayload::from_value(&json!({"n": -1, "forged": true})).unwrap();
        let forged = Row {
            payload: payload.as_str().to_owned(),
            prev,
            hash: Hash::ZERO,
            ..row.clone()
        };
        let hash = forged.recompute_hash(&mut Vec::new()).unwrap();
        sqlx::query(
            "UPDATE events SET payload = $2::json, prev_hash = $3, hash = $4 WHERE seq = $1",
        )
        .bind(row.seq)
        .bind(payload.as_str())
        .bind(prev.as_bytes().as_slice())
        .bind(hash.as_bytes().as_slice())
        .execute(&mut *tx)
        .await
        .unwrap();
        prev = hash;
    }
    sqlx::query("ALTER TABLE events ENABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}
