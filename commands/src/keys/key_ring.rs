//! The key ring: what the rest of MedChain holds to use keys. It carries the sub-keys
//! derived from the master key (never the master key itself) and keeps subject keys,
//! wrapped, in the `subject_keys` table (migration 0002), outside the ledger.
//!
//! There is deliberately no cache of subject keys: an erasure must take effect at once,
//! for this process and every other, so each use reads the row.

use super::{
    blind_index::{BlindIndex, BlindIndexKey},
    data_key::{DataKey, DataKeyState},
    master_key::MasterKey,
    rate_key::RateKey,
    snapshot_mac::SnapshotKey,
    subject_key::{SubjectKey, SubjectKeyState, WrapKey},
};
use domain::account::Email;
use sqlx::PgExecutor;
use std::{fmt, sync::Arc};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("subject {subject} already has a key, live or destroyed")]
    AlreadyExists { subject: Uuid },
    #[error(
        "the key of subject {subject} does not open under this master key \
         (another master key, or a damaged row)"
    )]
    Unwrap { subject: Uuid },
    #[error("the data key of record {record} does not open under its owner's key")]
    DataKeyUnwrap { record: Uuid },
    #[error("database error on subject keys: {0}")]
    Database(#[source] sqlx::Error),
}

/// Cheap to clone: every clone shares the derived keys.
#[derive(Clone)]
pub struct KeyRing(Arc<Keys>);

struct Keys {
    wrap: WrapKey,
    blind_index: BlindIndexKey,
    snapshot: SnapshotKey,
    rate: RateKey,
}

impl KeyRing {
    /// Derives every sub-key once. The master key can be dropped afterwards.
    pub fn new(master: &MasterKey) -> Self {
        Self(Arc::new(Keys {
            wrap: WrapKey::derive(master),
            blind_index: BlindIndexKey::derive(master),
            snapshot: SnapshotKey::derive(master),
            rate: RateKey::derive(master),
        }))
    }

    /// The MAC binding a kernel snapshot's state to its stream, version and seq.
    pub fn snapshots(&self) -> &SnapshotKey {
        &self.0.snapshot
    }

    /// The keyed name under which a rate limit counts a subject (`kind` and its text:
    /// an address, an account's address), so the limits' table holds neither.
    pub fn rate_subject(&self, kind: &str, subject: &[u8]) -> [u8; 32] {
        self.0.rate.name(kind, subject)
    }

    /// The blind index that finds an account by its e-mail address.
    pub fn blind_index(&self, email: &Email) -> BlindIndex {
        self.0.blind_index.index(email)
    }

    /// Makes and stores the key of a new subject. A subject has one key for life: if a
    /// row exists, live or destroyed, this refuses rather than replace it, since a new key
    /// would bring an erased person back or orphan what the old key sealed.
    pub async fn create_subject_key(
        &self,
        db: impl PgExecutor<'_>,
        subject: Uuid,
    ) -> Result<SubjectKey, KeyError> {
        let key = SubjectKey::generate();
        let inserted = sqlx::query(
            "INSERT INTO subject_keys (subject_id, wrapped) VALUES ($1, $2) \
             ON CONFLICT (subject_id) DO NOTHING",
        )
        .bind(subject)
        .bind(self.0.wrap.wrap(subject, &key))
        .execute(db)
        .await
        .map_err(KeyError::Database)?
        .rows_affected();
        if inserted == 0 {
            return Err(KeyError::AlreadyExists { subject });
        }
        Ok(key)
    }

    /// Seals a free-text reason about `subject` (why they were rejected, suspended or
    /// erased) under their key, bound to `stream` and `field`. Once their key is gone (or
    /// was never made), under a throwaway key nobody keeps: such a text is never appended
    /// (the decision about an erased person records nothing), and could not be read if
    /// it were.
    pub async fn seal_about(
        &self,
        db: impl PgExecutor<'_>,
        subject: Uuid,
        stream: &str,
        field: &str,
        text: &str,
    ) -> Result<domain::Sealed, KeyError> {
        let key = self
            .subject_key(db, subject)
            .await?
            .live()
            .unwrap_or_else(SubjectKey::generate);
        Ok(key.seal_str(stream, field, text))
    }

    /// The subject's key as it stands now.
    pub async fn subject_key(
        &self,
        db: impl PgExecutor<'_>,
        subject: Uuid,
    ) -> Result<SubjectKeyState, KeyError> {
        let row: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT wrapped FROM subject_keys WHERE subject_id = $1")
                .bind(subject)
                .fetch_optional(db)
                .await
                .map_err(KeyError::Database)?;
        self.subject_key_from_row(subject, row)
    }

    /// The subject's key from a `subject_keys` row a caller read itself (joined to the
    /// row it belongs with, to spare a round trip): `None` when there is no row, `Some(None)`
    /// when the key was destroyed, `Some(Some(wrapped))` when it is live.
    pub fn subject_key_from_row(
        &self,
        subject: Uuid,
        row: Option<Option<Vec<u8>>>,
    ) -> Result<SubjectKeyState, KeyError> {
        Ok(match row {
            None => SubjectKeyState::Missing,
            Some(None) => SubjectKeyState::Destroyed,
            Some(Some(wrapped)) => SubjectKeyState::Live(
                self.0
                    .wrap
                    .unwrap(subject, &wrapped)
                    .map_err(|_| KeyError::Unwrap { subject })?,
            ),
        })
    }

    /// Erases the subject: drops the wrapped key and records when. Idempotent: a second
    /// call keeps the first time. A subject with no row gets a destroyed one, so no key
    /// can be made for them afterwards.
    pub async fn destroy_subject_key(
        &self,
        db: impl PgExecutor<'_>,
        subject: Uuid,
    ) -> Result<(), KeyError> {
        sqlx::query(
            "INSERT INTO subject_keys (subject_id, wrapped, destroyed_at) VALUES ($1, NULL, now()) \
             ON CONFLICT (subject_id) DO UPDATE \
             SET wrapped = NULL, \
                 destroyed_at = coalesce(subject_keys.destroyed_at, excluded.destroyed_at)",
        )
        .bind(subject)
        .execute(db)
        .await
        .map_err(KeyError::Database)?;
        tracing::info!(subject.id = %subject, "subject key destroyed");
        Ok(())
    }
}

/// A `record_keys` row joined to its owner's `subject_keys` row, as read by a caller
/// (`None` for a missing row, `Some(None)` for a destroyed key).
pub struct DataKeyRows {
    pub record: Uuid,
    pub owner: Uuid,
    pub record_key: Option<Option<Vec<u8>>>,
    pub owner_key: Option<Option<Vec<u8>>>,
}

impl KeyRing {
    /// Stores a new record's data key, wrapped by its owner's key.
    pub async fn store_data_key(
        &self,
        db: impl PgExecutor<'_>,
        record: Uuid,
        owner: Uuid,
        owner_key: &SubjectKey,
        key: &DataKey,
    ) -> Result<(), KeyError> {
        sqlx::query("INSERT INTO record_keys (record_id, owner_id, wrapped) VALUES ($1, $2, $3)")
            .bind(record)
            .bind(owner)
            .bind(owner_key.wrap_data_key(record, key))
            .execute(db)
            .await
            .map_err(KeyError::Database)?;
        Ok(())
    }

    /// The record's data key as it stands now: live only while both it and its owner's
    /// key are.
    pub async fn data_key(
        &self,
        db: impl PgExecutor<'_>,
        record: Uuid,
    ) -> Result<DataKeyState, KeyError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            owner_id: Uuid,
            wrapped: Option<Vec<u8>>,
            has_owner_key: bool,
            owner_wrapped: Option<Vec<u8>>,
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT r.owner_id, r.wrapped, s.subject_id IS NOT NULL AS has_owner_key, \
                    s.wrapped AS owner_wrapped \
             FROM record_keys r LEFT JOIN subject_keys s ON s.subject_id = r.owner_id \
             WHERE r.record_id = $1",
        )
        .bind(record)
        .fetch_optional(db)
        .await
        .map_err(KeyError::Database)?;
        let Some(row) = row else {
            return Ok(DataKeyState::Missing);
        };
        self.data_key_from_rows(DataKeyRows {
            record,
            owner: row.owner_id,
            record_key: Some(row.wrapped),
            owner_key: row.has_owner_key.then_some(row.owner_wrapped),
        })
    }

    /// The data key from rows a caller joined itself (a page of records at once).
    pub fn data_key_from_rows(&self, rows: DataKeyRows) -> Result<DataKeyState, KeyError> {
        let wrapped = match rows.record_key {
            None => return Ok(DataKeyState::Missing),
            Some(None) => return Ok(DataKeyState::Destroyed),
            Some(Some(wrapped)) => wrapped,
        };
        let owner_key = match self.subject_key_from_row(rows.owner, rows.owner_key)? {
            SubjectKeyState::Live(key) => key,
            SubjectKeyState::Destroyed | SubjectKeyState::Missing => {
                return Ok(DataKeyState::Destroyed);
            }
        };
        owner_key
            .unwrap_data_key(rows.record, &wrapped)
            .map(DataKeyState::Live)
            .map_err(|_| KeyError::DataKeyUnwrap {
                record: rows.record,
            })
    }

    /// Erases the record's key; idempotent, and leaves a tombstone where no row was.
    pub async fn destroy_data_key(
        &self,
        db: impl PgExecutor<'_>,
        record: Uuid,
        owner: Uuid,
    ) -> Result<(), KeyError> {
        sqlx::query(
            "INSERT INTO record_keys (record_id, owner_id, wrapped, destroyed_at) \
             VALUES ($1, $2, NULL, now()) \
             ON CONFLICT (record_id) DO UPDATE \
             SET wrapped = NULL, \
                 destroyed_at = coalesce(record_keys.destroyed_at, excluded.destroyed_at)",
        )
        .bind(record)
        .bind(owner)
        .execute(db)
        .await
        .map_err(KeyError::Database)?;
        tracing::info!(record.id = %record, "record data key destroyed");
        Ok(())
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyRing(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_keys_and_debug_hides_them() {
        let ring = KeyRing::new(&MasterKey::generate());
        let clone = ring.clone();
        assert!(Arc::ptr_eq(&ring.0, &clone.0));
        let alice = Email::parse("alice@x.org").unwrap();
        assert_eq!(ring.blind_index(&alice), clone.blind_index(&alice));
        assert_eq!(format!("{ring:?}"), "KeyRing(***)");
    }

    #[test]
    fn another_master_key_makes_another_ring() {
        let alice = Email::parse("alice@x.org").unwrap();
        let a = KeyRing::new(&MasterKey::from_bytes([1; 32]));
        let b = KeyRing::new(&MasterKey::from_bytes([2; 32]));
        assert_ne!(a.blind_index(&alice), b.blind_index(&alice));
        let subject = Uuid::new_v4();
        let wrapped = a.0.wrap.wrap(subject, &SubjectKey::generate());
        assert!(b.0.wrap.unwrap(subject, &wrapped).is_err());
    }
}
