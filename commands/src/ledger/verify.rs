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

/// What `medchain ledger verify` and `verifyLedger` say: the chain from seq 1, checked
/// against the newest checkpoint kept outside the database, so a truncated tail or a
/// chain re-hashed from some seq fails too, not only an edited row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    /// Events checked and found good before the end or the first break.
    pub checked: i64,
    /// The checkpoint the chain was held to, if there was one.
    pub checkpoint: Option<Checkpoint>,
    pub outcome: Result<VerifiedChain, LedgerProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerProblem {
    #[error("{0}")]
    Chain(ChainBreak),
    /// The newest checkpoint does not verify, or was signed by another key.
    #[error("{0}")]
    Checkpoint(String),
}

/// Verifies the chain against the newest checkpoint in `store`, which must carry a valid
/// signature by `key` (the ledger's own; `None` when it is not at hand, and then only the
/// signature itself is checked).
pub async fn verify_against_checkpoints(
    pool: &PgPool,
    store: &super::CheckpointStore,
    key: Option<&ed25519_dalek::VerifyingKey>,
) -> Result<LedgerCheck, super::CheckpointStoreError> {
    use super::CheckpointStoreError as E;
    let newest = match store.newest().await {
        Ok(newest) => newest,
        Err(E::Invalid { place, source }) => {
            return Ok(LedgerCheck {
                checked: 0,
                checkpoint: None,
                outcome: Err(LedgerProblem::Checkpoint(format!("{place}: {source}"))),
            });
        }
        Err(e) => return Err(e),
    };
    if let (Some(signed), Some(key)) = (&newest, key)
        && let Err(wrong) = signed.require_key(key)
    {
        return Ok(LedgerCheck {
            checked: 0,
            checkpoint: Some(signed.checkpoint),
            outcome: Err(LedgerProblem::Checkpoint(format!(
                "the checkpoint of seq {}: {wrong}",
                signed.checkpoint.seq
            ))),
        });
    }
    let checkpoint = newest.map(|s| s.checkpoint);
    let verification = verify_ledger(pool, checkpoint).await?;
    Ok(LedgerCheck {
        checked: verification.checked,
        checkpoint,
        outcome: verification.outcome.map_err(LedgerProblem::Chain),
    })
}
