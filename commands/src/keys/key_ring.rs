//! The key ring: what the rest of MedChain holds to use keys. It carries the sub-keys
//! derived from the master key (never the master key itself) and the key epochs
//! (`epochs`), and keeps subject keys and data keys in the `subject_keys` and
//! `record_keys` tables (outside the ledger), each wrapped by a key epoch (DESIGN.md §11).
//!
//! There is deliberately no cache of subject or data keys: an erasure must take effect at
//! once, for this process and every other, so each use reads the row. Erasure deletes
//! the row and leaves a `key_erasures` row with no key in it; it is complete once every
//! epoch that wrapped the key is retired (`key_epochs`' rotation).

use super::{
    blind_index::{BlindIndex, BlindIndexKey},
    data_key::{DataKey, DataKeyState},
    epoch_key::{EpochKey, EpochWrapKey},
    epoch_store::EpochStore,
    epochs::Epochs,
    master_key::MasterKey,
    rate_key::RateKey,
    snapshot_mac::SnapshotKey,
    subject_key::{SubjectKey, SubjectKeyState, WrapKey},
};
use domain::{account::Email, erasure::EpochNumber};
use sqlx::PgPool;
use std::{fmt, sync::Arc};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("subject {subject} already has a key, or was erased")]
    AlreadyExists { subject: Uuid },
    #[error(
        "the key of subject {subject} does not open under its key epoch \
         (another master key, or a damaged row)"
    )]
    Unwrap { subject: Uuid },
    #[error("the data key of record {record} does not open under its epoch and owner's key")]
    DataKeyUnwrap { record: Uuid },
    #[error(
        "key epoch {epoch} is in the database but not in the epoch store {store}: every \
         server process must share one store (MEDCHAIN_KEY_EPOCH_STORE)"
    )]
    EpochGone { epoch: EpochNumber, store: String },
    #[error("key epoch {epoch} does not open under this master key")]
    EpochUnwrap { epoch: EpochNumber },
    #[error(
        "the epoch store {store} holds a key for epoch {epoch} that this database does not \
         know and this master key does not open: it belongs to another deployment"
    )]
    ForeignEpoch { epoch: EpochNumber, store: String },
    #[error("every key epoch up to {newest} is closed: a rotation must finish first")]
    NoOpenEpoch { newest: EpochNumber },
    #[error("the epoch store: {0}")]
    Store(#[source] std::io::Error),
    #[error(transparent)]
    Hsm(#[from] super::hsm::HsmError),
    #[error("database error on keys: {0}")]
    Database(#[source] sqlx::Error),
}

/// Cheap to clone: every clone shares the derived keys and the loaded epochs.
#[derive(Clone)]
pub struct KeyRing(Arc<Keys>);

struct Keys {
    /// Subject keys as they were wrapped before key epochs (rows with no epoch).
    legacy_wrap: WrapKey,
    epochs: Epochs,
    blind_index: BlindIndexKey,
    snapshot: SnapshotKey,
    rate: RateKey,
}

/// A wrapped key as its row holds it: the bytes and the epoch that wrapped them (`None`:
/// before key epochs).
#[derive(Clone)]
pub struct WrappedKey {
    pub wrapped: Vec<u8>,
    pub epoch: Option<i32>,
}

impl WrappedKey {
    /// From a joined row's two columns (`wrapped` NULL when there is no row).
    pub fn from_columns(wrapped: Option<Vec<u8>>, epoch: Option<i32>) -> Option<Self> {
        wrapped.map(|wrapped| Self { wrapped, epoch })
    }
}

impl KeyRing {
    /// Derives every sub-key once; epoch keys come from `epochs` when first needed. The
    /// master key can be dropped afterwards.
    pub fn new(master: &MasterKey, epochs: EpochStore) -> Self {
        Self(Arc::new(Keys {
            legacy_wrap: WrapKey::derive(master),
            epochs: Epochs::new(epochs, EpochWrapKey::of(master)),
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

    /// Where the epoch keys are kept.
    pub fn epoch_store(&self) -> &EpochStore {
        self.0.epochs.store()
    }

    pub(super) fn epochs(&self) -> &Epochs {
        &self.0.epochs
    }

    /// A subject key as it was wrapped before key epochs (test builds: a data directory
    /// from before them).
    #[cfg(feature = "test-hooks")]
    pub(super) fn legacy_wrap(&self, subject: Uuid, key: &SubjectKey) -> Vec<u8> {
        self.0.legacy_wrap.wrap(subject, key)
    }

    /// Makes and stores the key of a new subject. A subject has one key for life: if it
    /// has one, or had one and was erased, this refuses rather than replace it, since a new
    /// key would bring an erased person back or orphan what the old key sealed.
    pub async fn create_subject_key(
        &self,
        db: &PgPool,
        subject: Uuid,
    ) -> Result<SubjectKey, KeyError> {
        let key = SubjectKey::generate();
        self.insert_under_current(db, |epoch| {
            sqlx::query(
                "INSERT INTO subject_keys (subject_id, wrapped, epoch, created_epoch) \
                 SELECT $1, $2, e.number, e.number FROM key_epochs e \
                 WHERE e.number = $3 AND e.closed_at IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM key_erasures x \
                                   WHERE x.kind = 'user' AND x.subject_id = $1) \
                 FOR SHARE OF e \
                 ON CONFLICT (subject_id) DO NOTHING",
            )
            .bind(subject)
            .bind(epoch.wrap_subject_key(subject, &key))
            .bind(epoch.number() as i32)
        })
        .await?
        .ok_or(KeyError::AlreadyExists { subject })?;
        Ok(key)
    }

    /// Runs an insert of a key wrapped under the current epoch. The insert takes FOR
    /// SHARE on its epoch's row and finds nothing once the epoch is closed, so a rotation
    /// closing it waits for inserts in flight and no later one slips past its last pass.
    /// Then the current epoch is looked up again. `None`: the insert refused for its own
    /// reason (the row exists).
    async fn insert_under_current<'q>(
        &self,
        db: &PgPool,
        insert: impl Fn(
            &EpochKey,
        ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Option<()>, KeyError> {
        for _ in 0..5 {
            let epoch = self.0.epochs.current(db).await?;
            let inserted = insert(&epoch)
                .execute(db)
                .await
                .map_err(KeyError::Database)?
                .rows_affected();
            if inserted == 1 {
                return Ok(Some(()));
            }
            let open: Option<bool> =
                sqlx::query_scalar("SELECT closed_at IS NULL FROM key_epochs WHERE number = $1")
                    .bind(epoch.number() as i32)
                    .fetch_optional(db)
                    .await
                    .map_err(KeyError::Database)?;
            if open == Some(true) {
                return Ok(None);
            }
            self.0.epochs.forget_current();
        }
        Err(KeyError::NoOpenEpoch { newest: 0 })
    }

    /// Seals a free-text reason about `subject` (why they were rejected, suspended or
    /// erased) under their key, bound to `stream` and `field`. Once their key is gone (or
    /// was never made), under a throwaway key nobody keeps: such a text is never appended
    /// (the decision about an erased person records nothing), and could not be read if
    /// it were.
    pub async fn seal_about(
        &self,
        db: &PgPool,
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
        db: &PgPool,
        subject: Uuid,
    ) -> Result<SubjectKeyState, KeyError> {
        let row: Option<(Vec<u8>, Option<i32>)> =
            sqlx::query_as("SELECT wrapped, epoch FROM subject_keys WHERE subject_id = $1")
                .bind(subject)
                .fetch_optional(db)
                .await
                .map_err(KeyError::Database)?;
        self.subject_key_from_row(
            subject,
            row.map(|(wrapped, epoch)| WrappedKey { wrapped, epoch }),
        )
        .await
    }

    /// The subject's key from a `subject_keys` row a caller read itself (joined to the
    /// row it belongs with, to spare a round trip): `None` when there is no row (never
    /// made, or erased).
    pub async fn subject_key_from_row(
        &self,
        subject: Uuid,
        row: Option<WrappedKey>,
    ) -> Result<SubjectKeyState, KeyError> {
        let Some(row) = row else {
            return Ok(SubjectKeyState::Missing);
        };
        let key = match row.epoch {
            None => self.0.legacy_wrap.unwrap(subject, &row.wrapped),
            Some(epoch) => self
                .0
                .epochs
                .key(epoch as EpochNumber)
                .await?
                .unwrap_subject_key(subject, &row.wrapped),
        };
        key.map(SubjectKeyState::Live)
            .map_err(|_| KeyError::Unwrap { subject })
    }

    /// Erases the subject: deletes the wrapped key, keeps which epochs held it, vacuums.
    /// Idempotent. A subject with no row still gets its `key_erasures` row, so no key can
    /// be made for them afterwards.
    pub async fn destroy_subject_key(&self, db: &PgPool, subject: Uuid) -> Result<(), KeyError> {
        let current = self.0.epochs.current(db).await?.number() as i32;
        sqlx::query(
            "WITH gone AS (DELETE FROM subject_keys WHERE subject_id = $1 \
                           RETURNING created_epoch, coalesce(epoch, 0) AS epoch) \
             INSERT INTO key_erasures (kind, subject_id, owner_id, first_epoch, last_epoch, erased_at) \
             SELECT 'user', $1, $1, coalesce((SELECT created_epoch FROM gone), $2), \
                    coalesce((SELECT epoch FROM gone), $2), now() \
             ON CONFLICT (kind, subject_id) DO NOTHING",
        )
        .bind(subject)
        .bind(current)
        .execute(db)
        .await
        .map_err(KeyError::Database)?;
        vacuum_key_tables(db).await?;
        tracing::info!(subject.id = %subject, "subject key destroyed");
        Ok(())
    }
}

/// A `record_keys` row joined to its owner's `subject_keys` row, as read by a caller
/// (`None` where there is no row).
pub struct DataKeyRows {
    pub record: Uuid,
    pub owner: Uuid,
    pub record_key: Option<WrappedKey>,
    pub owner_key: Option<WrappedKey>,
}

impl KeyRing {
    /// Stores a new record's data key, wrapped by its owner's key and then the current
    /// epoch's.
    pub async fn store_data_key(
        &self,
        db: &PgPool,
        record: Uuid,
        owner: Uuid,
        owner_key: &SubjectKey,
        key: &DataKey,
    ) -> Result<(), KeyError> {
        let inner = owner_key.wrap_data_key(record, key);
        self.insert_under_current(db, |epoch| {
            sqlx::query(
                "INSERT INTO record_keys (record_id, owner_id, wrapped, epoch, created_epoch) \
                 SELECT $1, $2, $3, e.number, e.number FROM key_epochs e \
                 WHERE e.number = $4 AND e.closed_at IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM key_erasures x \
                                   WHERE x.kind = 'record' AND x.subject_id = $1) \
                 FOR SHARE OF e",
            )
            .bind(record)
            .bind(owner)
            .bind(epoch.wrap_data_key(record, &inner))
            .bind(epoch.number() as i32)
        })
        .await?
        .ok_or(KeyError::AlreadyExists { subject: record })
    }

    /// The record's data key as it stands now: live only while both it and its owner's
    /// key are.
    pub async fn data_key(&self, db: &PgPool, record: Uuid) -> Result<DataKeyState, KeyError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            owner_id: Uuid,
            wrapped: Vec<u8>,
            epoch: Option<i32>,
            owner_wrapped: Option<Vec<u8>>,
            owner_epoch: Option<i32>,
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT r.owner_id, r.wrapped, r.epoch, \
                    s.wrapped AS owner_wrapped, s.epoch AS owner_epoch \
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
            record_key: Some(WrappedKey {
                wrapped: row.wrapped,
                epoch: row.epoch,
            }),
            owner_key: WrappedKey::from_columns(row.owner_wrapped, row.owner_epoch),
        })
        .await
    }

    /// The data key from rows a caller joined itself (a page of records at once).
    pub async fn data_key_from_rows(&self, rows: DataKeyRows) -> Result<DataKeyState, KeyError> {
        let Some(record_key) = rows.record_key else {
            return Ok(DataKeyState::Destroyed);
        };
        let owner_key = match self
            .subject_key_from_row(rows.owner, rows.owner_key)
            .await?
        {
            SubjectKeyState::Live(key) => key,
            SubjectKeyState::Destroyed | SubjectKeyState::Missing => {
                return Ok(DataKeyState::Destroyed);
            }
        };
        let unwrap_failed = || KeyError::DataKeyUnwrap {
            record: rows.record,
        };
        let inner = match record_key.epoch {
            None => record_key.wrapped,
            Some(epoch) => self
                .0
                .epochs
                .key(epoch as EpochNumber)
                .await?
                .unwrap_data_key(rows.record, &record_key.wrapped)
                .map_err(|_| unwrap_failed())?
                .to_vec(),
        };
        owner_key
            .unwrap_data_key(rows.record, &inner)
            .map(DataKeyState::Live)
            .map_err(|_| unwrap_failed())
    }

    /// Erases the record's key: deletes the row, keeps which epochs held it, vacuums.
    /// Idempotent, and leaves its `key_erasures` row where no key row was.
    pub async fn destroy_data_key(
        &self,
        db: &PgPool,
        record: Uuid,
        owner: Uuid,
    ) -> Result<(), KeyError> {
        let current = self.0.epochs.current(db).await?.number() as i32;
        sqlx::query(
            "WITH gone AS (DELETE FROM record_keys WHERE record_id = $1 \
                           RETURNING created_epoch, coalesce(epoch, 0) AS epoch) \
             INSERT INTO key_erasures (kind, subject_id, owner_id, first_epoch, last_epoch, erased_at) \
             SELECT 'record', $1, $2, coalesce((SELECT created_epoch FROM gone), $3), \
                    coalesce((SELECT epoch FROM gone), $3), now() \
             ON CONFLICT (kind, subject_id) DO NOTHING",
        )
        .bind(record)
        .bind(owner)
        .bind(current)
        .execute(db)
        .await
        .map_err(KeyError::Database)?;
        vacuum_key_tables(db).await?;
        tracing::info!(record.id = %record, "record data key destroyed");
        Ok(())
    }
}

/// Removes the dead row versions an erasure (or a rotation) left in the key tables, so
/// the live files stop holding them. It is hygiene, not the guarantee: the bytes may stay
/// in free space, the WAL and backups, which only the epoch's retirement makes useless.
pub(super) async fn vacuum_key_tables(db: &PgPool) -> Result<(), KeyError> {
    // VACUUM cannot run in a transaction: the simple protocol sends it on its own.
    sqlx::raw_sql("VACUUM subject_keys, record_keys")
        .execute(db)
        .await
        .map_err(KeyError::Database)?;
    Ok(())
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
        let ring = KeyRing::new(
            &MasterKey::generate(),
            EpochStore::directory("/nonexistent"),
        );
        let clone = ring.clone();
        assert!(Arc::ptr_eq(&ring.0, &clone.0));
        let alice = Email::parse("alice@x.org").unwrap();
        assert_eq!(ring.blind_index(&alice), clone.blind_index(&alice));
        assert_eq!(format!("{ring:?}"), "KeyRing(***)");
    }

    #[test]
    fn another_master_key_makes_another_ring() {
        let alice = Email::parse("alice@x.org").unwrap();
        let store = || EpochStore::directory("/nonexistent");
        let a = KeyRing::new(&MasterKey::from_bytes([1; 32]), store());
        let b = KeyRing::new(&MasterKey::from_bytes([2; 32]), store());
        assert_ne!(a.blind_index(&alice), b.blind_index(&alice));
        let subject = Uuid::new_v4();
        let wrapped = a.0.legacy_wrap.wrap(subject, &SubjectKey::generate());
        assert!(b.0.legacy_wrap.unwrap(subject, &wrapped).is_err());
    }
}
