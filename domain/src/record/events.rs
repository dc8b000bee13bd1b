//! What happens to a record, as the ledger records it: the `record` stream's event types
//! and their payloads. Shaped like the user events (lower camelCase, times as text, the
//! type name beside the payload). Title, description and file name are `Sealed` under
//! the record's data key; ids, sizes, hashes and the media type are not (DESIGN.md §4).
//! Who acted is the ledger entry's `actor`; when is its `at`.

use super::{ReadAction, ReferralId, ShareId};
use crate::Timestamp;
use crate::account::UserId;
use crate::emergency::EmergencyId;
use crate::{ErasureBasis, Sealed};
use serde::{Deserialize, Serialize};

/// A file was stored in a patient's file. `sha256` and `stored_size` are the
/// ciphertext's, as kept in the blob store, so the ledger commits to the content; `size`
/// is the plaintext's. `author`: the doctor who added it to the patient's file (absent
/// when the owner uploaded it, as every first-wave record did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordUploaded {
    pub owner: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<UserId>,
    pub sha256: String,
    pub size: i64,
    pub stored_size: i64,
    pub content_type: String,
    pub title: Sealed,
    pub description: Option<Sealed>,
    pub file_name: Sealed,
}

/// A doctor may read the record, until `expires_at` (or until revoked): the owner shared
/// it, approved a referral (`referral`), or the doctor added it (the share made with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordShared {
    pub share: ShareId,
    pub doctor: UserId,
    #[serde(with = "crate::timestamp::optional_text")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralId>,
}

/// A doctor with a live share asked the owner to let another doctor read the record. The
/// note is sealed under the record's data key (field `referralNote`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralRequested {
    pub referral: ReferralId,
    pub from: UserId,
    pub to: UserId,
    pub note: Option<Sealed>,
}

/// The owner approved or declined a referral; an approval is followed by the
/// `RecordShared` it made (absent when the doctor already held a live share).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralDecided {
    pub referral: ReferralId,
    /// The referring doctor and the one it was for (as the request named them): both
    /// are told of the decision.
    pub from: UserId,
    pub to: UserId,
    pub approved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareRevoked {
    pub share: ShareId,
}

/// A share's time passed. Reads were refused from that moment already; this records it
/// once, for the access log and for replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareExpired {
    pub share: ShareId,
}

/// A share ends within 24 hours: its doctor and the owner are told, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareExpiring {
    pub share: ShareId,
}

/// Content was read: committed before the first byte is sent. `share`: the grant it was
/// read under (none for the owner); `emergency`: the emergency access it was read under;
/// `link`: the share link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordAccessed {
    pub action: ReadAction,
    pub share: Option<ShareId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<EmergencyId>,
    /// The share link it was read through (no account is the actor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<crate::link::LinkId>,
    /// The proxy grant it was read under: the actor read on behalf of the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<uuid::Uuid>,
}

/// Why a read of content was refused, as the owner's access log shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DenialReason {
    /// Administrators never read medical content.
    Admin,
    /// The reader never had a share of this record.
    NoShare,
    ShareRevoked,
    ShareExpired,
    Erased,
    /// The reader's emergency access to the owner had ended.
    EmergencyEnded,
    /// The share link, or the reader's grant through it, had ended.
    LinkEnded,
}

impl DenialReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenialReason::Admin => "ADMIN",
            DenialReason::NoShare => "NO_SHARE",
            DenialReason::ShareRevoked => "SHARE_REVOKED",
            DenialReason::ShareExpired => "SHARE_EXPIRED",
            DenialReason::Erased => "ERASED",
            DenialReason::EmergencyEnded => "EMERGENCY_ENDED",
            DenialReason::LinkEnded => "LINK_ENDED",
        }
    }
}

/// A refused attempt to read content: recorded too, so the owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordAccessDenied {
    pub action: ReadAction,
    pub reason: DenialReason,
}

/// The record was erased (crypto-shredding): its data key is destroyed and its blob
/// deleted; the actor is the owner or an administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordErased {
    /// Why, in a word that names no one; kept in clear.
    pub basis: ErasureBasis,
    /// The free text, sealed under the owner's subject key (bound to the record's stream,
    /// field `erasureReason`): it outlives the record's data key and dies with the owner.
    pub reason: Sealed,
}

crate::domain_events! {
    pub enum RecordEvent {
        RecordUploaded,
        RecordShared,
        ReferralRequested,
        ReferralDecided,
        ShareRevoked,
        ShareExpired,
        ShareExpiring,
        RecordAccessed,
        RecordAccessDenied,
        RecordErased,
    }
}

pub use crate::domain_event::UnknownEvent;

#[cfg(test)]
mod tests {
    use super::super::given::{DOCTOR, SHARE, at, shared};
    use super::*;
    use crate::ledger::CanonicalPayload;
    use crate::samples;

    #[test]
    fn every_event_round_trips_through_its_stored_form() {
        let all = samples::record_events();
        let mut types: Vec<_> = all.iter().map(RecordEvent::event_type).collect();
        types.sort_unstable();
        types.dedup();
        let mut declared = RecordEvent::TYPES.to_vec();
        declared.sort_unstable();
        assert_eq!(types, declared);
        for event in &all {
            let name = event.event_type();
            let back = RecordEvent::from_stored(name, &event.payload()).unwrap();
            assert_eq!(&back, event);
            CanonicalPayload::from_value(&event.payload()).expect("I-JSON");
        }
    }

    #[test]
    fn payloads_have_the_documented_shape() {
        assert_eq!(
            shared(SHARE, DOCTOR, Some(60)).payload(),
            serde_json::json!({
                "share": "00000000-0000-0000-0000-0000000005a1",
                "doctor": DOCTOR.to_string(),
                "expiresAt": at(60).to_string(),
            })
        );
        let denied = RecordEvent::from(RecordAccessDenied {
            action: ReadAction::Viewed,
            reason: DenialReason::ShareExpired,
        });
        assert_eq!(
            denied.payload(),
            serde_json::json!({"action": "VIEWED", "reason": "SHARE_EXPIRED"})
        );
    }

    #[test]
    fn unknown_types_and_shapes_are_refused() {
        assert!(matches!(
            RecordEvent::from_stored("RecordSold", &serde_json::json!({})),
            Err(UnknownEvent::Type(_))
        ));
        assert!(matches!(
            RecordEvent::from_stored("ShareRevoked", &serde_json::json!({"share": 1})),
            Err(UnknownEvent::Payload { .. })
        ));
    }
}
