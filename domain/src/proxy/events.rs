//! What happens to a patient's proxy grants, as the ledger records it. The invited
//! address is sealed under the patient's key; the invitation token is not on the ledger
//! at all (only its hash, in the operational `proxy_invitations` table).

use crate::account::UserId;
use crate::record::RecordId;
use crate::{Sealed, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProxyScope {
    /// Sees and downloads.
    Read,
    /// Also uploads, shares, revokes and decides referrals for the patient.
    Manage,
}

impl ProxyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScope::Read => "READ",
            ProxyScope::Manage => "MANAGE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyInvited {
    pub grant: Uuid,
    pub email: Sealed,
    pub scope: ProxyScope,
    /// `None`: all the patient's records, present and future.
    pub records: Option<Vec<RecordId>>,
    #[serde(with = "crate::timestamp::optional_text")]
    pub expires_at: Option<Timestamp>,
    #[serde(with = "crate::timestamp::text")]
    pub invitation_expires_at: Timestamp,
}

/// A signed-in account redeemed the invitation: from now on it is the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyAccepted {
    pub grant: Uuid,
    pub proxy: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyRevoked {
    pub grant: Uuid,
}

crate::domain_events! {
    pub enum ProxyEvent {
        ProxyInvited,
        ProxyAccepted,
        ProxyRevoked,
    }
}
