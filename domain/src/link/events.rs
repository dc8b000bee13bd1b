//! What happens to a share link, as the ledger records it. The passcode's Argon2id hash
//! is sealed under the owner's key, so even the ledger's readers cannot try passcodes
//! against it offline; the address an open came from is a third party's personal data,
//! sealed under the owner's key too. An open or a refusal has no actor (nobody signed in).

use crate::account::UserId;
use crate::record::RecordId;
use crate::{Sealed, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareLinkCreated {
    pub owner: UserId,
    pub records: Vec<RecordId>,
    #[serde(with = "crate::timestamp::text")]
    pub expires_at: Timestamp,
    pub max_opens: Option<u32>,
    pub passcode_hash: Sealed,
}

/// The right passcode: `grant` reads the link's records until `grant_expires_at`. The
/// owner and the records are the link's, repeated so each record's access log and the
/// owner's notice need no other stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareLinkOpened {
    pub grant: Uuid,
    pub owner: UserId,
    pub records: Vec<RecordId>,
    pub from: Sealed,
    #[serde(with = "crate::timestamp::text")]
    pub grant_expires_at: Timestamp,
}

/// A wrong passcode; `locked` when it was the last one allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareLinkPasscodeRefused {
    /// The link's owner, who is told when it locks.
    pub owner: UserId,
    pub from: Sealed,
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareLinkRevoked {}

crate::domain_events! {
    pub enum ShareLinkEvent {
        ShareLinkCreated,
        ShareLinkOpened,
        ShareLinkPasscodeRefused,
        ShareLinkRevoked,
    }
}
