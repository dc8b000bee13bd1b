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
//! - `legal_holds`: every legal hold, and whether it stands.
//! - `emergency`: every emergency access, how it ended, its review.
//! - `links`: every share link and how it stands.
//! - `proxies`: every caregiver proxy grant and how it stands.
//! - `merkle`: the transparency log's tree (RFC 6962) over every event; roots and proofs.
//! - `replay`: the views as they stood at a seq or a time, from the ledger (compliance).
//! - `check`: rebuild into scratch tables and compare with the live ones.
#![forbid(unsafe_code)]

mod batch;
pub mod check;
pub mod emergency;
mod leadership;
pub mod legal_holds;
pub mod links;
pub mod merkle;
pub mod notifications;
pub mod projector;
pub mod proxies;
pub mod rebuild;
pub mod records;
pub mod replay;
pub mod runner;
pub mod sessions;
mod tail;
pub mod users;

use std::sync::Arc;

pub use batch::LOCK_CLASS;
pub use check::{ProjectionCheck, TableCheck, check};
pub use projector::{ProjectionError, Projector};
pub use rebuild::{RebuildError, Rebuilt, rebuild, rebuild_many};
pub use runner::{PROJECTIONS_CHANNEL, Progress, Projections, WaitError};

/// Every projector of this version, in the order they are listed to operators.
pub fn all() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(users::UsersProjector),
        Arc::new(records::RecordsProjector),
        Arc::new(notifications::NotificationsProjector),
        Arc::new(merkle::MerkleProjector),
        Arc::new(legal_holds::LegalHoldsProjector),
        Arc::new(emergency::EmergencyProjector),
        Arc::new(links::LinksProjector),
        Arc::new(proxies::ProxiesProjector),
    ]
}

/// The projector named `name`, for `medchain projections rebuild NAME`.
pub fn by_name(name: &str) -> Option<Arc<dyn Projector>> {
    all().into_iter().find(|p| p.name() == name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Filters are made of `EventName::NAME`s, so a misspelt type does not compile; this
    /// catches what still could slip in: a type listed twice, or a name no aggregate
    /// declares (a hand-written string, which the trait does not forbid). No database.
    #[test]
    fn every_filter_names_each_ledger_type_at_most_once() {
        let ledger: BTreeSet<_> = domain::domain_event::all_event_types()
            .into_iter()
            .collect();
        for projector in super::all() {
            let filter = projector.event_types();
            let unknown: Vec<_> = filter.iter().filter(|t| !ledger.contains(*t)).collect();
            assert!(
                unknown.is_empty(),
                "{} asks for {unknown:?}",
                projector.name()
            );

            let mut sorted = filter.to_vec();
            sorted.sort_unstable();
            let mut twice: Vec<_> = sorted
                .windows(2)
                .filter(|w| w[0] == w[1])
                .map(|w| w[0])
                .collect();
            twice.dedup();
            assert!(
                twice.is_empty(),
                "{} lists {twice:?} twice",
                projector.name()
            );
        }
    }
}
