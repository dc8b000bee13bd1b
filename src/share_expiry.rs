//! The background task that records `ShareExpiring` a day before a share's time and
//! `ShareExpired` once it has passed, and `EmergencyAccessExpired` once an emergency
//! access's time has passed.
//! Reads are refused from the moment itself whatever this task does; it keeps the ledger
//! (and so the access log and replay) saying when a share ended.
//!
//! Every server process runs one. They may race for the same share; `Records::expire_share`
//! appends at the stream's version, so exactly one of them records it.

use commands::{Clock, links::Links, records::Records};
use sqlx::PgPool;
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;

const BATCH: i64 = 100;

pub fn spawn(
    pool: PgPool,
    records: Records,
    links: Links,
    clock: Arc<dyn Clock>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = sweep(&pool, &records, clock.as_ref()).await {
                tracing::warn!(error = %e, "looking for expired shares failed; trying again later");
            }
            if let Err(e) = links.sweep_tokens().await {
                tracing::warn!(error = %e, "forgetting old link tokens failed; trying again later");
            }
        }
    });
}

async fn sweep(
    pool: &PgPool,
    records: &Records,
    clock: &dyn Clock,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let due = projections::records::due_shares(pool, clock.now(), BATCH).await?;
    for share in due {
        records.expire_share(share).await?;
    }
    let ending = projections::records::expiring_shares(pool, clock.now(), BATCH).await?;
    for share in ending {
        records.notice_expiry(share).await?;
    }
    for (doctor, access) in projections::emergency::due(pool, clock.now(), BATCH).await? {
        records.expire_emergency(doctor, access).await?;
    }
    Ok(())
}
