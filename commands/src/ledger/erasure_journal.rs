//! The erasure journal (DESIGN.md §11): one signed entry per erasure, kept beside the
//! checkpoints, outside the database and so outside its backups: which person or record,
//! at which seq, no personal data. A database restored from a backup older than an
//! erasure would bring the erased key rows back; `medchain restore` re-applies every
//! erasure the journal holds (`journal_entries`), past the backup's head too. Each entry is signed with the ledger key and bound to its erasure event's seq
//! and hash: `{"erasure":{"subject","seq"}, "head":{"seq","hash"}, "key", "sig"}`, at
//! `erasures/<seq>-<subject>.json`.

use super::{CheckpointStore, CheckpointStoreError, hash_of};
use crate::keys::LedgerKey;
use domain::erasure::ErasureSubject;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;

const JOURNAL: &str = "erasures";

/// Where erasures are journalled, and the key that signs each entry.
#[derive(Clone)]
pub struct ErasureJournal {
    pub store: CheckpointStore,
    pub key: Arc<LedgerKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Store(#[from] CheckpointStoreError),
    #[error("the erasure event at seq {0} is not on the ledger")]
    NoEvent(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a journal entry does not verify: {0}")]
    Invalid(String),
}

impl ErasureJournal {
    /// Journals the erasure of `subject` made by the event at `seq`. Writing it again
    /// writes the same entry.
    pub async fn record(
        &self,
        pool: &PgPool,
        subject: ErasureSubject,
        seq: i64,
    ) -> Result<(), JournalError> {
        let hash = hash_of(pool, seq)
            .await?
            .ok_or(JournalError::NoEvent(seq))?;
        let body = json!({"subject": subject.to_string(), "seq": seq});
        let document =
            domain::ledger::sign_document("erasure", &body, seq, hash, self.key.signing_key())
                .map_err(|e| JournalError::Invalid(e.to_string()))?;
        self.store
            .put_object(
                &format!("{JOURNAL}/{seq:020}-{subject}.json"),
                (document + "\n").into_bytes(),
            )
            .await?;
        Ok(())
    }
}

/// One erasure the journal holds: whom, and the event that made it (its seq and hash, as
/// the ledger had them: a signed statement that the log reached that point).
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub subject: ErasureSubject,
    pub seq: i64,
    pub hash: domain::ledger::Hash,
}

/// Every entry the journal in `store` holds, in seq order, each checked against `log`
/// (the ledger's public key: a restore reads it without the signing half).
pub async fn journal_entries(
    store: &CheckpointStore,
    log: &ed25519_dalek::VerifyingKey,
) -> Result<Vec<JournalEntry>, JournalError> {
    let mut out = Vec::new();
    for (name, bytes) in store.objects_under(JOURNAL).await? {
        let text = String::from_utf8_lossy(&bytes);
        let verified = domain::ledger::verify_document("erasure", &text)
            .map_err(|e| JournalError::Invalid(format!("{name}: {e}")))?;
        if verified.key != *log {
            return Err(JournalError::Invalid(format!(
                "{name}: another key signed it"
            )));
        }
        let subject = verified.report["subject"]
            .as_str()
            .and_then(|s| ErasureSubject::parse(s).ok())
            .ok_or_else(|| JournalError::Invalid(format!("{name}: no subject")))?;
        out.push(JournalEntry {
            subject,
            seq: verified.head_seq,
            hash: verified.head_hash,
        });
    }
    out.sort_by_key(|e| e.seq);
    Ok(out)
}
