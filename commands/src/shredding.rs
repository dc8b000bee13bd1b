//! What an erasure does outside the ledger once its event is there (DESIGN.md §4, §11),
//! said once: the erase commands run it after their event, and a restore runs it again
//! for every erasure on the restored ledger and in the erasure journal, because a backup
//! may predate the erasure. Each step is safe to repeat.

use crate::{CommandError, blobs::BlobStore, keys::KeyRing};
use sqlx::PgPool;
use uuid::Uuid;

/// Where a record's ciphertext is kept in the blob store.
pub fn record_blob(sha256: &str) -> String {
    format!("records/{sha256}")
}

/// Where a person's photo is kept, sealed under their key.
pub fn photo_blob(user: Uuid) -> String {
    format!("photos/{user}.sealed")
}

/// A record erased: its data key destroyed (the file and its sealed fields can no longer
/// be opened), its blob deleted.
pub async fn shred_record(
    pool: &PgPool,
    keys: &KeyRing,
    blobs: &BlobStore,
    record: Uuid,
    owner: Uuid,
    sha256: &str,
) -> Result<(), CommandError> {
    keys.destroy_data_key(pool, record, owner).await?;
    blobs
        .delete(&record_blob(sha256))
        .await
        .map_err(CommandError::internal)
}

/// A person erased: their sessions and apps' read tokens ended, their subject key
/// destroyed (every field sealed under it unreadable), their photo deleted, their e-mail's
/// blind-index entry gone (the address is unknown and may register again).
pub async fn shred_person(
    pool: &PgPool,
    keys: &KeyRing,
    blobs: Option<&BlobStore>,
    user: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), CommandError> {
    for table in ["sessions", "read_tokens"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL"
        )))
        .bind(user)
        .bind(at)
        .execute(pool)
        .await?;
    }
    keys.destroy_subject_key(pool, user).await?;
    if let Some(blobs) = blobs {
        blobs
            .delete(&photo_blob(user))
            .await
            .map_err(CommandError::internal)?;
    }
    sqlx::query("DELETE FROM email_index WHERE user_id = $1")
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}
