//! What administrators see of the system as a whole: the dashboard's figures, the
//! ledger's head, a verification's verdict, and pages of ledger events.

use crate::{
    scalars::{DateTime, Long},
    types::{ledger_event::LedgerEvent, page::PageInfo},
};
use async_graphql::SimpleObject;
use commands::ledger::{LedgerCheck, LedgerProblem};

#[derive(SimpleObject)]
pub struct LedgerHead {
    pub seq: Long,
    pub hash: String,
    pub at: Option<DateTime>,
}

impl From<commands::ledger::LedgerHead> for LedgerHead {
    fn from(h: commands::ledger::LedgerHead) -> Self {
        Self {
            seq: Long(h.seq),
            hash: h.hash.to_hex(),
            at: h.at.map(DateTime),
        }
    }
}

/// ACTIVE accounts by role, and PENDING ones.
#[derive(SimpleObject)]
pub struct UserCounts {
    pub patients: i32,
    pub doctors: i32,
    pub admins: i32,
    pub pending: i32,
}

#[derive(SimpleObject)]
pub struct SystemStats {
    pub users: UserCounts,
    /// ACTIVE records.
    pub records: i32,
    /// Ciphertext bytes held in the blob store for ACTIVE records.
    pub stored_bytes: Long,
    pub active_shares: i32,
    pub events: Long,
    pub checkpoints: i32,
    pub ledger_head: LedgerHead,
    /// The newest checkpoint's seq, if there is one.
    pub last_checkpoint_seq: Option<Long>,
}

/// Events recorded on one UTC day.
#[derive(SimpleObject)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub events: Long,
}

#[derive(SimpleObject)]
pub struct LedgerVerification {
    pub ok: bool,
    pub checked_events: Long,
    pub head: LedgerHead,
    pub first_bad_seq: Option<Long>,
    pub message: String,
    /// The seq of the signed checkpoint the chain was held to, if any.
    pub checkpoint_seq: Option<Long>,
}

impl LedgerVerification {
    /// `head`: the ledger's head as read before verifying.
    pub fn new(check: LedgerCheck, head: commands::ledger::LedgerHead) -> Self {
        let against = match &check.checkpoint {
            Some(c) => format!(", held to the signed checkpoint of seq {}", c.seq),
            None => ", no checkpoint yet".to_owned(),
        };
        let (ok, first_bad_seq, message) = match &check.outcome {
            Ok(chain) => (
                true,
                None,
                format!("OK: {} events, head {}{against}", chain.events, chain.head),
            ),
            Err(LedgerProblem::Chain(broken)) => (
                false,
                Some(Long(broken.seq)),
                format!("FAILED at seq {}: {broken}", broken.seq),
            ),
            Err(LedgerProblem::Checkpoint(problem)) => (false, None, format!("FAILED: {problem}")),
        };
        Self {
            ok,
            checked_events: Long(check.checked),
            head: head.into(),
            first_bad_seq,
            message,
            checkpoint_seq: check.checkpoint.map(|c| Long(c.seq)),
        }
    }
}

#[derive(SimpleObject)]
pub struct LedgerEventEdge {
    pub cursor: String,
    pub node: LedgerEvent,
}

#[derive(SimpleObject)]
pub struct LedgerEventConnection {
    pub edges: Vec<LedgerEventEdge>,
    pub page_info: PageInfo,
}
