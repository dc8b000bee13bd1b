//! What a rotation does to the key rows (DESIGN.md §11): moves every wrapped key of an
//! older epoch (or from before epochs) under the new epoch's key, a batch at a time, in
//! key order, so reads and uploads go on meanwhile. A subject key is unwrapped and wrapped
//! again; a data key only loses its outer wrap and gets the new one, never opened down to
//! the key itself (its owner's wrap inside is untouched).
//!
//! A pass walks each table in key order with a cursor (each batch an index range scan,
//! never a scan of what is left); each batch is one UPDATE that names the epoch each row
//! was read at, so a row erased (deleted) in between is simply not there to update.

use super::{KeyError, KeyRing, epoch_key::EpochKey, key_ring::vacuum_key_tables};
use domain::erasure::EpochNumber;
use sqlx::PgPool;
use uuid::Uuid;

impl KeyRing {
    /// Begins epoch `number`: its key made and durably in the store. The caller records
    /// the epoch in `key_epochs` next.
    pub async fn create_epoch_key(&self, number: EpochNumber) -> Result<(), KeyError> {
        self.epochs().create(number).await.map(|_| ())
    }

    /// Destroys epoch `number`'s key, in the store and in this process's memory.
    pub async fn destroy_epoch_key(&self, number: EpochNumber) -> Result<(), KeyError> {
        self.epochs().destroy(number).await
    }

    /// Whether the store still holds epoch `number`'s key (a rotation cut off after
    /// destroying it but before recording so, or the other way round).
    pub async fn epoch_key_stored(&self, number: EpochNumber) -> Result<bool, KeyError> {
        let store = self.epoch_store().clone();
        tokio::task::spawn_blocking(move || store.list())
            .await
            .map_err(|e| KeyError::Store(std::io::Error::other(e)))?
            .map(|stored| stored.contains(&number))
            .map_err(KeyError::Store)
    }

    /// Forgets which epoch is current (another process may have begun one) and drops the
    /// keys of `retired` epochs from memory.
    pub fn refresh_epochs(&self, retired: &[EpochNumber]) {
        self.epochs().forget(retired);
        self.epochs().forget_current();
    }

    /// Moves the next keys of a pass, after `cursor`, wrapped by an epoch older than `to`
    /// (or by none) under `to`: up to `limit` subject keys, then, once those are done,
    /// data keys. Returns how many moved and where the pass stands (`None`: done).
    pub async fn rewrap_batch(
        &self,
        db: &PgPool,
        to: EpochNumber,
        cursor: RewrapCursor,
        limit: i64,
    ) -> Result<(u64, Option<RewrapCursor>), KeyError> {
        let target = self.epochs().key(to).await?;
        match cursor {
            RewrapCursor::Subjects(after) => {
                let (moved, last) = self.rewrap_subject_keys(db, &target, after, limit).await?;
                let next = match last {
                    Some(last) => RewrapCursor::Subjects(Some(last)),
                    None => RewrapCursor::Records(None),
                };
                Ok((moved, Some(next)))
            }
            RewrapCursor::Records(after) => {
                let (moved, last) = self.rewrap_data_keys(db, &target, after, limit).await?;
                Ok((moved, last.map(|last| RewrapCursor::Records(Some(last)))))
            }
        }
    }

    /// How many live keys each epoch wraps (`None`: from before key epochs).
    pub async fn keys_per_epoch(&self, db: &PgPool) -> Result<Vec<(Option<i32>, i64)>, KeyError> {
        sqlx::query_as(
            "SELECT epoch, sum(n)::bigint FROM ( \
                 SELECT epoch, count(*) AS n FROM subject_keys GROUP BY epoch \
                 UNION ALL SELECT epoch, count(*) FROM record_keys GROUP BY epoch) k \
             GROUP BY epoch ORDER BY epoch NULLS FIRST",
        )
        .fetch_all(db)
        .await
        .map_err(KeyError::Database)
    }

    /// After the last batch: the old versions of the moved rows go from the live files.
    pub async fn vacuum_keys(&self, db: &PgPool) -> Result<(), KeyError> {
        vacuum_key_tables(db).await
    }

    /// `(moved, the last key looked at)`; `None` once the table is done.
    async fn rewrap_subject_keys(
        &self,
        db: &PgPool,
        target: &EpochKey,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<(u64, Option<Uuid>), KeyError> {
        let rows = SUBJECT_KEYS.older(db, target, after, limit).await?;
        let mut wrapped = Vec::with_capacity(rows.len());
        for row in &rows {
            let key = self
                .subject_key_from_row(
                    row.id,
                    Some(super::WrappedKey {
                        wrapped: row.wrapped.clone(),
                        epoch: row.epoch,
                    }),
                )
                .await?
                .live()
                .ok_or(KeyError::Unwrap { subject: row.id })?;
            wrapped.push(target.wrap_subject_key(row.id, &key));
        }
        SUBJECT_KEYS.replace(db, target, &rows, wrapped).await
    }

    /// A data key loses its old epoch's wrap and gets the new one; its owner's wrap
    /// inside is never opened.
    async fn rewrap_data_keys(
        &self,
        db: &PgPool,
        target: &EpochKey,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<(u64, Option<Uuid>), KeyError> {
        let rows = RECORD_KEYS.older(db, target, after, limit).await?;
        let mut wrapped = Vec::with_capacity(rows.len());
        for row in &rows {
            let inner = match row.epoch {
                None => row.wrapped.clone(),
                Some(e) => self
                    .epochs()
                    .key(e as EpochNumber)
                    .await?
                    .unwrap_data_key(row.id, &row.wrapped)
                    .map_err(|_| KeyError::DataKeyUnwrap { record: row.id })?
                    .to_vec(),
            };
            wrapped.push(target.wrap_data_key(row.id, &inner));
        }
        RECORD_KEYS.replace(db, target, &rows, wrapped).await
    }
}

/// A key row as a pass reads it.
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    wrapped: Vec<u8>,
    epoch: Option<i32>,
}

/// One of the two key tables, for the statements a pass runs on either.
struct KeyTable {
    name: &'static str,
    id: &'static str,
}

const SUBJECT_KEYS: KeyTable = KeyTable {
    name: "subject_keys",
    id: "subject_id",
};
const RECORD_KEYS: KeyTable = KeyTable {
    name: "record_keys",
    id: "record_id",
};

impl KeyTable {
    /// The next `limit` rows after `after`, in key order, under an epoch older than the
    /// target's (or none): an index range scan.
    async fn older(
        &self,
        db: &PgPool,
        target: &EpochKey,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<KeyRow>, KeyError> {
        let (table, id) = (self.name, self.id);
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {id} AS id, wrapped, epoch FROM {table} \
             WHERE ($3::uuid IS NULL OR {id} > $3) AND (epoch IS NULL OR epoch < $1) \
             ORDER BY {id} LIMIT $2"
        )))
        .bind(target.number() as i32)
        .bind(limit)
        .bind(after)
        .fetch_all(db)
        .await
        .map_err(KeyError::Database)
    }

    /// Writes the rows' new wraps in one statement, each only if its row still stands
    /// at the epoch it was read at (a row erased meanwhile is gone, not moved). Returns
    /// how many moved and the pass's new cursor.
    async fn replace(
        &self,
        db: &PgPool,
        target: &EpochKey,
        rows: &[KeyRow],
        wrapped: Vec<Vec<u8>>,
    ) -> Result<(u64, Option<Uuid>), KeyError> {
        let Some(last) = rows.last().map(|r| r.id) else {
            return Ok((0, None));
        };
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let old: Vec<Option<i32>> = rows.iter().map(|r| r.epoch).collect();
        let (table, id) = (self.name, self.id);
        let moved = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} k SET wrapped = v.wrapped, epoch = $1 \
             FROM unnest($2::uuid[], $3::int[], $4::bytea[]) AS v(id, old, wrapped) \
             WHERE k.{id} = v.id AND k.epoch IS NOT DISTINCT FROM v.old"
        )))
        .bind(target.number() as i32)
        .bind(&ids)
        .bind(&old)
        .bind(&wrapped)
        .execute(db)
        .await
        .map_err(KeyError::Database)?
        .rows_affected();
        Ok((moved, Some(last)))
    }
}

/// Where a rotation's pass over the key tables stands: subject keys first, then data keys,
/// each after the last key looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewrapCursor {
    Subjects(Option<Uuid>),
    Records(Option<Uuid>),
}

impl RewrapCursor {
    pub const START: Self = Self::Subjects(None);
}

/// Test builds only: turns this database's keys back into the form MedChain wrote before
/// key epochs (subject keys wrapped by the master key's own sub-key, data keys by their
/// owner's key alone, no epochs), so a test can start a server on a data directory from
/// before key epochs and watch it move them.
#[cfg(feature = "test-hooks")]
impl KeyRing {
    pub async fn downgrade_to_before_epochs(&self, db: &PgPool) -> Result<(), KeyError> {
        let subjects: Vec<(Uuid, Vec<u8>, Option<i32>)> =
            sqlx::query_as("SELECT subject_id, wrapped, epoch FROM subject_keys")
                .fetch_all(db)
                .await
                .map_err(KeyError::Database)?;
        for (id, wrapped, epoch) in subjects {
            let key = self
                .subject_key_from_row(id, Some(super::WrappedKey { wrapped, epoch }))
                .await?
                .live()
                .ok_or(KeyError::Unwrap { subject: id })?;
            sqlx::query(
                "UPDATE subject_keys SET wrapped = $2, epoch = NULL, created_epoch = 0 \
                 WHERE subject_id = $1",
            )
            .bind(id)
            .bind(self.legacy_wrap(id, &key))
            .execute(db)
            .await
            .map_err(KeyError::Database)?;
        }
        let records: Vec<(Uuid, Vec<u8>, Option<i32>)> =
            sqlx::query_as("SELECT record_id, wrapped, epoch FROM record_keys")
                .fetch_all(db)
                .await
                .map_err(KeyError::Database)?;
        for (id, wrapped, epoch) in records {
            let inner = match epoch {
                None => wrapped,
                Some(e) => self
                    .epochs()
                    .key(e as EpochNumber)
                    .await?
                    .unwrap_data_key(id, &wrapped)
                    .map_err(|_| KeyError::DataKeyUnwrap { record: id })?
                    .to_vec(),
            };
            sqlx::query(
                "UPDATE record_keys SET wrapped = $2, epoch = NULL, created_epoch = 0 \
                 WHERE record_id = $1",
            )
            .bind(id)
            .bind(inner)
            .execute(db)
            .await
            .map_err(KeyError::Database)?;
        }
        sqlx::query("DELETE FROM key_epochs")
            .execute(db)
            .await
            .map_err(KeyError::Database)?;
        let store = self.epoch_store().clone();
        for number in store.list().map_err(KeyError::Store)? {
            store.destroy(number).map_err(KeyError::Store)?;
        }
        self.refresh_epochs(&[]);
        Ok(())
    }
}
