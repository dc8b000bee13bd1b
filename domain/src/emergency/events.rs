//! What happens to a doctor's emergency accesses, as the ledger records it. The reason
//! and the review's note are sealed under the patient's subject key (stream + field as
//! associated data): they are about the patient, and die with them. Who acted is the
//! entry's actor (the doctor; the administrator for a review; none for an expiry).

use super::EmergencyId;
use crate::account::UserId;
use crate::{Sealed, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyAccessOpened {
    pub access: EmergencyId,
    pub patient: UserId,
    pub reason: Sealed,
    /// When it was opened: the daily limit counts these (an event's own time is the
    /// entry's, which a decision does not see).
    #[serde(with = "crate::timestamp::text")]
    pub opened_at: Timestamp,
    #[serde(with = "crate::timestamp::text")]
    pub expires_at: Timestamp,
}

/// The doctor closed it before its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyAccessClosed {
    pub access: EmergencyId,
}

/// Its time passed. Reads were refused from that moment already; this records it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyAccessExpired {
    pub access: EmergencyId,
}

/// An administrator judged whether it was justified; the patient sees the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyAccessReviewed {
    pub access: EmergencyId,
    /// Whose records it opened (as the opening named them): they are told.
    pub patient: UserId,
    pub justified: bool,
    pub note: Option<Sealed>,
}

crate::domain_events! {
    pub enum EmergencyEvent {
        EmergencyAccessOpened,
        EmergencyAccessClosed,
        EmergencyAccessExpired,
        EmergencyAccessReviewed,
    }
}
