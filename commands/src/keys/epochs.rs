//! The key epochs a process holds (DESIGN.md §11): which epoch new keys are wrapped
//! under, and the keys of the epochs its rows name, loaded from the epoch store on first
//! use and kept in memory until the epoch is retired. Nothing here is in the database
//! but the epochs' numbers and times (`key_epochs`).
//!
//! New keys go to the newest open epoch. Which that is, is cached; an insert whose epoch
//! has been closed meanwhile (a rotation's last pass, in this process or another) finds
//! nothing to insert under, and the writer asks again (`forget_current`).

use super::epoch_key::{EpochKey, EpochWrapKey};
use super::epoch_store::EpochStore;
use super::key_ring::KeyError;
use domain::erasure::EpochNumber;
use sqlx::PgPool;
use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

/// The advisory lock (session or transaction level) that one process at a time holds to
/// begin an epoch or rotate: "epochs" in ASCII.
pub const ROTATION_LOCK: i64 = 0x6570_6f63_6873;

pub(super) struct Epochs {
    store: EpochStore,
    wrap: Arc<EpochWrapKey>,
    loaded: RwLock<BTreeMap<EpochNumber, Arc<EpochKey>>>,
    current: RwLock<Option<EpochNumber>>,
}

impl Epochs {
    pub(super) fn new(store: EpochStore, wrap: EpochWrapKey) -> Self {
        Self {
            store,
            wrap: Arc::new(wrap),
            loaded: RwLock::default(),
            current: RwLock::default(),
        }
    }

    pub(super) fn store(&self) -> &EpochStore {
        &self.store
    }

    /// The key of epoch `number`, from memory or the store.
    pub(super) async fn key(&self, number: EpochNumber) -> Result<Arc<EpochKey>, KeyError> {
        if let Some(key) = self.loaded.read().expect("not poisoned").get(&number) {
            return Ok(key.clone());
        }
        let (store, wrap) = (self.store.clone(), self.wrap.clone());
        // Off the executor: the file, and with an HSM the module, block.
        let key = tokio::task::spawn_blocking(move || {
            let stored = store
                .read(number)
                .map_err(KeyError::Store)?
                .ok_or_else(|| KeyError::EpochGone {
                    epoch: number,
                    store: store.describe(),
                })?;
            wrap.open(number, &stored)
                .map_err(|_| KeyError::EpochUnwrap { epoch: number })
        })
        .await
        .map_err(|e| KeyError::Store(std::io::Error::other(e)))??;
        Ok(self.keep(key))
    }

    fn keep(&self, key: EpochKey) -> Arc<EpochKey> {
        let key = Arc::new(key);
        self.loaded
            .write()
            .expect("not poisoned")
            .insert(key.number(), key.clone());
        key
    }

    /// The epoch new keys are wrapped under: the newest open one. The first time there is
    /// none (a new database), epoch 1 begins.
    pub(super) async fn current(&self, db: &PgPool) -> Result<Arc<EpochKey>, KeyError> {
        let cached = *self.current.read().expect("not poisoned");
        if let Some(number) = cached {
            return self.key(number).await;
        }
        let newest = newest_open(db).await?;
        let key = match newest {
            Some(number) => self.key(number).await?,
            None => self.begin_first(db).await?,
        };
        *self.current.write().expect("not poisoned") = Some(key.number());
        Ok(key)
    }

    /// The cached current epoch was closed under us: look again next time.
    pub(super) fn forget_current(&self) {
        *self.current.write().expect("not poisoned") = None;
    }

    /// Drops the keys of epochs that are retired from memory too.
    pub(super) fn forget(&self, retired: &[EpochNumber]) {
        let mut loaded = self.loaded.write().expect("not poisoned");
        for number in retired {
            loaded.remove(number);
        }
        let mut current = self.current.write().expect("not poisoned");
        if current.is_some_and(|c| retired.contains(&c)) {
            *current = None;
        }
    }

    /// Makes epoch `number`'s key and writes it, durably, to the store; the caller then
    /// records the epoch in `key_epochs`, which has no row for it. A key already in the
    /// store under that number is then one a rotation cut off between the two left
    /// behind, wrapping nothing: replaced, if it opens under our master key. One that
    /// does not is another deployment's: refused, never touched.
    pub(super) async fn create(&self, number: EpochNumber) -> Result<Arc<EpochKey>, KeyError> {
        let (store, wrap) = (self.store.clone(), self.wrap.clone());
        let stray_is_ours = tokio::task::spawn_blocking(move || {
            store
                .read(number)
                .map(|stray| stray.map(|stray| wrap.open(number, &stray).is_ok()))
        })
        .await
        .map_err(|e| KeyError::Store(std::io::Error::other(e)))?
        .map_err(KeyError::Store)?;
        if let Some(ours) = stray_is_ours {
            if !ours {
                return Err(KeyError::ForeignEpoch {
                    epoch: number,
                    store: self.store.describe(),
                });
            }
            tracing::warn!(
                epoch = number,
                "removing an epoch key a cut-off rotation left"
            );
            self.destroy(number).await?;
        }
        let (store, wrap) = (self.store.clone(), self.wrap.clone());
        let key = tokio::task::spawn_blocking(move || {
            let key = EpochKey::generate(number);
            let stored = wrap.seal(&key).map_err(KeyError::Hsm)?;
            store.write(number, &stored).map_err(KeyError::Store)?;
            Ok::<_, KeyError>(key)
        })
        .await
        .map_err(|e| KeyError::Store(std::io::Error::other(e)))??;
        Ok(self.keep(key))
    }

    /// Destroys epoch `number`'s key in the store and in memory.
    pub(super) async fn destroy(&self, number: EpochNumber) -> Result<(), KeyError> {
        self.forget(&[number]);
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.destroy(number))
            .await
            .map_err(|e| KeyError::Store(std::io::Error::other(e)))?
            .map_err(KeyError::Store)
    }

    /// Epoch 1, for a database that has none: begun by one process, under the rotation
    /// lock; another that waited finds it made.
    async fn begin_first(&self, db: &PgPool) -> Result<Arc<EpochKey>, KeyError> {
        let mut tx = db.begin().await.map_err(KeyError::Database)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ROTATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(KeyError::Database)?;
        if let Some(number) = newest_open(&mut *tx).await? {
            tx.commit().await.map_err(KeyError::Database)?;
            return self.key(number).await;
        }
        let any: Option<i32> = sqlx::query_scalar("SELECT max(number) FROM key_epochs")
            .fetch_one(&mut *tx)
            .await
            .map_err(KeyError::Database)?;
        if let Some(number) = any {
            // Every epoch closed: a rotation was cut off after closing the old epoch and
            // before the new one was recorded. It cannot be: the new one is recorded first.
            return Err(KeyError::NoOpenEpoch {
                newest: number as EpochNumber,
            });
        }
        let key = self.create(1).await?;
        sqlx::query("INSERT INTO key_epochs (number, started_at) VALUES (1, now())")
            .execute(&mut *tx)
            .await
            .map_err(KeyError::Database)?;
        tx.commit().await.map_err(KeyError::Database)?;
        tracing::info!(store = %self.store.describe(), "key epoch 1 begun");
        Ok(key)
    }
}

async fn newest_open(db: impl sqlx::PgExecutor<'_>) -> Result<Option<EpochNumber>, KeyError> {
    let newest: Option<i32> =
        sqlx::query_scalar("SELECT max(number) FROM key_epochs WHERE closed_at IS NULL")
            .fetch_one(db)
            .await
            .map_err(KeyError::Database)?;
    Ok(newest.map(|n| n as EpochNumber))
}
