//! The read side of MedChain (DESIGN.md §5): projectors, their runner, and rebuild.
//!
//! - `projector`: the `Projector` trait: a name, the tables it owns (created by
//!   migrations), and how one event changes them.
//! - `batch`: applying a batch and moving the checkpoint in one transaction, stopping on
//!   (never skipping) an event that fails.
//! - `tail`: the newest events, read once for all the projectors of the process.
//! - `runner`: one task per projector, woken by LISTEN and by a poll; one writer per
//!   projector across processes; read-your-writes waits; which projectors stopped.
//! - `rebuild`: replay from seq 1 into fresh tables, swapped in at the end.
//! - `users`: the users view.
//! - `sessions`: session lookups (joined with the users view), batched under load.
//! - `records`: the records view, shares and access log.
//! - `notifications`: who is notified of what, by their preferences; read marks.
//! - `replay`: the views as they stood at a seq or a time, from the ledger (compliance).
//! - `check`: rebuild into scratch tables and compare with the live ones.
#![forbid(unsafe_code)]

mod batch;
pub mod check;
pub mod notifications;
pub mod projector;
pub mod rebuild;
pub mod records;
pub mod replay;
pub mod runner;
pub mod sessions;
mod tail;
pub mod users;

use std::sync::Arc;

pub use check::{ProjectionCheck, TableCheck, check};
pub use projector::{ProjectionError, Projector};
pub use rebuild::{RebuildError, Rebuilt, rebuild};
pub use runner::{PROJECTIONS_CHANNEL, Progress, Projections, WaitError};

/// Every projector of this version, in the order they are listed to operators.
pub fn all() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(users::UsersProjector),
        Arc::new(records::RecordsProjector),
        Arc::new(notifications::NotificationsProjector),
    ]
}

/// The projector named `name`, for `medchain projections rebuild NAME`.
pub fn by_name(name: &str) -> Option<Arc<dyn Projector>> {
    all().into_iter().find(|p| p.name() == name)
}
