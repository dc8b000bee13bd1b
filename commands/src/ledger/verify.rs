//! Verification: recompute the chain from seq 1, streaming, in bounded memory.
//!
//! Two stages so both cores work: this task decodes rows from PostgreSQL in chunks, a
//! blocking thread canonicalises, hashes and links them (`domain::ledger::ChainVerifier`).
//! The same function serves `medchain ledger verify` and the API.

use crate::event_store::row_stream;
use domain::ledger::{ChainBreak, ChainVerifier, Checkpoint, Row, VerifiedChain};
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::mpsc;

const CHUNK: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Events checked and found good before the end or the first break.
    pub checked: i64,
    pub outcome: Result<VerifiedChain, ChainBreak>,
}

/// Verifies the whole chain; with a checkpoint (whose signature the caller checked), also
/// requires the ledger to reach its seq with the signed hash there.
pub async fn verify_ledger(
    pool: &PgPool,
    checkpoint: Option<Checkpoint>,
) -> Result<Verification, sqlx::Error> {
    let (tx, mut rx) = mpsc::channel::<Vec<Row>>(4);
    let checker = tokio::task::spawn_blocking(move || {
        let mut verifier =
            checkpoint.map_or_else(ChainVerifier::new, ChainVerifier::with_checkpoint);
        let mut checked = 0i64;
        while let Some(chunk) = rx.blocking_recv() {
            for row in &chunk {
                if let Err(broken) = verifier.check(row) {
                    return Verification {
                        checked,
                        outcome: Err(broken),
                    };
                }
                checked += 1;
            }
        }
        Verification {
            checked,
            outcome: verifier.finish(),
        }
    });

    let mut rows = row_stream(pool, 1);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut read_error = None;
    while let Some(row) = rows.next().await {
        match row {
            Ok(row) => chunk.push(row),
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        if chunk.len() == CHUNK
            && tx
                .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                .await
                .is_err()
        {
            break; // the checker found a break and stopped listening
        }
    }
    if read_error.is_none() && !chunk.is_empty() {
        let _ = tx.send(chunk).await;
    }
    drop(tx);
    drop(rows);
    let verification = checker
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("verifier thread failed: {e}")))?;
    match read_error {
        // A break found before the read failed is still the answer.
        Some(e) if verification.outcome.is_ok() => Err(e),
        _ => Ok(verification),
    }
}
