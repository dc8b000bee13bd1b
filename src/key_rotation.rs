//! The background task that rotates key epochs when one has lasted `MEDCHAIN_KEY_EPOCH`
//! (DESIGN.md §11), and meanwhile drops the keys of epochs another process retired.
//!
//! Every server process runs one; the rotation's advisory lock lets one of them rotate
//! and the others skip that turn. It looks often (every ten seconds, or ten times an
//! epoch if that is shorter: one small query), so a rotation that is due, or was cut off,
//! is not left waiting, and retired keys leave every process's memory soon.

use commands::key_epochs::KeyEpochs;
use std::time::Duration;
use tokio::sync::watch;

pub fn spawn(epochs: KeyEpochs, interval: Duration, mut stop: watch::Receiver<bool>) {
    let every = (interval / 10).clamp(Duration::from_millis(100), Duration::from_secs(10));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = epochs.rotate_if_due().await {
                tracing::warn!(error = %e, "the key rotation failed; trying again later");
            }
        }
    });
}
