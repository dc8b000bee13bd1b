//! Key epochs as operators and administrators see them (DESIGN.md §11): where each epoch
//! stands (`status`), the rotation (`rotation`: one process at a time, resumable), and
//! the erasure certificate (`certificate`). The keys themselves are `keys`' business;
//! this layer orders the steps and records them on the ledger (`KeyEpochRetired`,
//! `ErasureCompleted`).

mod certificate;
mod rotation;

pub use certificate::Certificate;
pub use rotation::{RotationHooks, RotationOutcome};

use crate::{Clock, CommandError, Kernel, keys::KeyRing};
use domain::{Timestamp, erasure::EpochNumber};
use sqlx::PgPool;
use std::{sync::Arc, time::Duration};

#[derive(Clone)]
pub struct KeyEpochs {
    inner: Arc<Inner>,
}

struct Inner {
    kernel: Kernel,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
    /// How long an epoch lasts before the scheduled rotation (`MEDCHAIN_KEY_EPOCH`).
    interval: Duration,
    hooks: RotationHooks,
}

/// One epoch, as `keyEpochs` and `medchain keys status` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochView {
    pub number: EpochNumber,
    pub started_at: Timestamp,
    /// Nothing new is wrapped under it any more (a rotation's last pass).
    pub closed_at: Option<Timestamp>,
    /// Its key is destroyed.
    pub retired_at: Option<Timestamp>,
    /// Live keys it wraps now.
    pub keys: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub epochs: Vec<EpochView>,
    /// Keys still wrapped as before key epochs (the first start moves them).
    pub keys_before_epochs: i64,
    /// When the scheduled rotation is due.
    pub next_rotation: Option<Timestamp>,
    pub store: String,
}

#[derive(sqlx::FromRow)]
struct EpochRow {
    number: i32,
    started_at: chrono::DateTime<chrono::Utc>,
    closed_at: Option<chrono::DateTime<chrono::Utc>>,
    retired_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl KeyEpochs {
    pub fn new(kernel: Kernel, keys: KeyRing, clock: Arc<dyn Clock>, interval: Duration) -> Self {
        Self::with_hooks(kernel, keys, clock, interval, RotationHooks::from_env())
    }

    pub fn with_hooks(
        kernel: Kernel,
        keys: KeyRing,
        clock: Arc<dyn Clock>,
        interval: Duration,
        hooks: RotationHooks,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                kernel,
                keys,
                clock,
                interval,
                hooks,
            }),
        }
    }

    fn pool(&self) -> &PgPool {
        self.inner.kernel.pool()
    }

    fn interval_micros(&self) -> i64 {
        i64::try_from(self.inner.interval.as_micros()).unwrap_or(i64::MAX)
    }

    async fn epoch_rows(&self) -> Result<Vec<EpochRow>, CommandError> {
        Ok(sqlx::query_as(
            "SELECT number, started_at, closed_at, retired_at FROM key_epochs ORDER BY number",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Every epoch, the keys each wraps, and when the next rotation is due.
    pub async fn status(&self) -> Result<KeyStatus, CommandError> {
        let rows = self.epoch_rows().await?;
        let counts = self.inner.keys.keys_per_epoch(self.pool()).await?;
        let count = |n: Option<i32>| counts.iter().find(|(e, _)| *e == n).map_or(0, |(_, c)| *c);
        let ts = Timestamp::from_datetime;
        let epochs: Vec<EpochView> = rows
            .iter()
            .map(|r| EpochView {
                number: r.number as EpochNumber,
                started_at: ts(r.started_at),
                closed_at: r.closed_at.map(ts),
                retired_at: r.retired_at.map(ts),
                keys: count(Some(r.number)),
            })
            .collect();
        let next_rotation = epochs
            .iter()
            .rev()
            .find(|e| e.closed_at.is_none())
            .map(|e| e.started_at.plus_micros(self.interval_micros()));
        Ok(KeyStatus {
            epochs,
            keys_before_epochs: count(None),
            next_rotation,
            store: self.inner.keys.epoch_store().describe(),
        })
    }
}
