//! The kinds of notification (API.graphql `NotificationKind`), with their defaults: in-app
//! on for every kind; e-mail on for the ones people must not miss. Security notices
//! (a password change, the account decisions) cannot be muted in-app.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationKind {
    RecordShared,
    ShareRevoked,
    ShareExpiring,
    RecordAccessed,
    AccountApproved,
    AccountRejected,
    ProfileChangeDecided,
    PasswordChanged,
    UserAwaitingApproval,
    ProfileChangeRequested,
    /// A second factor changed, or someone with the password typed wrong codes.
    SecurityChanged,
    /// A record's erasure became complete: every key epoch that wrapped its key is
    /// retired (DESIGN.md §11).
    ErasureCompleted,
    /// A doctor added a record to the patient's file.
    RecordAdded,
    /// A doctor asks the patient to let another doctor read a record.
    ReferralRequested,
    /// The patient decided a referral: both doctors are told.
    ReferralDecided,
    /// A doctor opened emergency access to the patient's records (the patient; and every
    /// administrator, for review).
    EmergencyAccess,
    /// An administrator reviewed an emergency access to the patient's records.
    EmergencyReviewed,
    /// Someone opened the patient's share link with its passcode.
    LinkOpened,
    /// Wrong passcodes locked the patient's share link.
    LinkLocked,
    /// Someone became a patient's proxy (told to the proxy).
    ProxyGranted,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("there is no notification kind {0:?}")]
pub struct UnknownKind(pub String);

impl NotificationKind {
    pub const ALL: [NotificationKind; 20] = [
        NotificationKind::RecordShared,
        NotificationKind::ShareRevoked,
        NotificationKind::ShareExpiring,
        NotificationKind::RecordAccessed,
        NotificationKind::AccountApproved,
        NotificationKind::AccountRejected,
        NotificationKind::ProfileChangeDecided,
        NotificationKind::PasswordChanged,
        NotificationKind::UserAwaitingApproval,
        NotificationKind::ProfileChangeRequested,
        NotificationKind::SecurityChanged,
        NotificationKind::ErasureCompleted,
        NotificationKind::RecordAdded,
        NotificationKind::ReferralRequested,
        NotificationKind::ReferralDecided,
        NotificationKind::EmergencyAccess,
        NotificationKind::EmergencyReviewed,
        NotificationKind::LinkOpened,
        NotificationKind::LinkLocked,
        NotificationKind::ProxyGranted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::RecordShared => "RECORD_SHARED",
            NotificationKind::ShareRevoked => "SHARE_REVOKED",
            NotificationKind::ShareExpiring => "SHARE_EXPIRING",
            NotificationKind::RecordAccessed => "RECORD_ACCESSED",
            NotificationKind::AccountApproved => "ACCOUNT_APPROVED",
            NotificationKind::AccountRejected => "ACCOUNT_REJECTED",
            NotificationKind::ProfileChangeDecided => "PROFILE_CHANGE_DECIDED",
            NotificationKind::PasswordChanged => "PASSWORD_CHANGED",
            NotificationKind::UserAwaitingApproval => "USER_AWAITING_APPROVAL",
            NotificationKind::ProfileChangeRequested => "PROFILE_CHANGE_REQUESTED",
            NotificationKind::SecurityChanged => "SECURITY_CHANGED",
            NotificationKind::ErasureCompleted => "ERASURE_COMPLETED",
            NotificationKind::RecordAdded => "RECORD_ADDED",
            NotificationKind::ReferralRequested => "REFERRAL_REQUESTED",
            NotificationKind::ReferralDecided => "REFERRAL_DECIDED",
            NotificationKind::EmergencyAccess => "EMERGENCY_ACCESS",
            NotificationKind::EmergencyReviewed => "EMERGENCY_REVIEWED",
            NotificationKind::LinkOpened => "LINK_OPENED",
            NotificationKind::LinkLocked => "LINK_LOCKED",
            NotificationKind::ProxyGranted => "PROXY_GRANTED",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, UnknownKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| UnknownKind(raw.to_owned()))
    }

    /// Cannot be turned off in-app: the person must learn of it.
    pub fn is_security_notice(self) -> bool {
        matches!(
            self,
            NotificationKind::PasswordChanged
                | NotificationKind::AccountApproved
                | NotificationKind::AccountRejected
                | NotificationKind::SecurityChanged
                | NotificationKind::EmergencyAccess
        )
    }

    /// Cannot be muted at all, by mail either (API.graphql): a factor changing is what a
    /// person whose account is being taken over must hear of, wherever they look, and
    /// someone opening their whole file without asking is what a patient must hear of.
    pub fn is_never_muted(self) -> bool {
        matches!(
            self,
            NotificationKind::SecurityChanged | NotificationKind::EmergencyAccess
        )
    }

    pub fn default_in_app(self) -> bool {
        true
    }

    pub fn default_email(self) -> bool {
        matches!(
            self,
            NotificationKind::RecordShared
                | NotificationKind::AccountApproved
                | NotificationKind::AccountRejected
                | NotificationKind::PasswordChanged
                | NotificationKind::UserAwaitingApproval
                | NotificationKind::SecurityChanged
                | NotificationKind::RecordAdded
                | NotificationKind::ReferralRequested
                | NotificationKind::EmergencyAccess
                | NotificationKind::LinkLocked
                | NotificationKind::ProxyGranted
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_defaults_follow_the_contract() {
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()), Ok(kind));
            assert!(kind.default_in_app());
        }
        let emailed: Vec<_> = NotificationKind::ALL
            .into_iter()
            .filter(|k| k.default_email())
            .map(NotificationKind::as_str)
            .collect();
        assert_eq!(
            emailed,
            [
                "RECORD_SHARED",
                "ACCOUNT_APPROVED",
                "ACCOUNT_REJECTED",
                "PASSWORD_CHANGED",
                "USER_AWAITING_APPROVAL",
                "SECURITY_CHANGED",
                "RECORD_ADDED",
                "REFERRAL_REQUESTED",
                "EMERGENCY_ACCESS",
                "LINK_LOCKED",
                "PROXY_GRANTED",
            ]
        );
        assert!(NotificationKind::parse("SPAM").is_err());
    }
}
