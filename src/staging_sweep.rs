//! The background task that removes staged uploads a stopped process left behind
//! (`Records::sweep_staging`): once at start, then hourly. Several processes may sweep
//! at once; a blob already removed counts as removed.

use commands::records::Records;
use std::time::Duration;
use tokio::sync::watch;

const EVERY: Duration = Duration::from_secs(3600);

pub fn spawn(records: Records, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            match records.sweep_staging().await {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(removed, "removed staged uploads left by a stopped process")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sweeping staged uploads failed; trying again later")
                }
            }
        }
    });
}
