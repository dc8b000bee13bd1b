//! The contract's enums. Those the domain has too are declared `remote`, so async-graphql
//! writes the conversions both ways and a variant added on one side only fails to build.

use async_graphql::Enum;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role", remote = "domain::account::Role")]
pub enum Role {
    Patient,
    Doctor,
    Admin,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AccountStatus", remote = "domain::account::AccountStatus")]
pub enum AccountStatus {
    Pending,
    Active,
    Rejected,
    Suspended,
    Erased,
}

/// Why a record or a person was erased: kept in clear (it names no one); the free-text
/// reason is sealed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ErasureBasis", remote = "domain::ErasureBasis")]
pub enum ErasureBasis {
    PatientRequest,
    Duplicate,
    WrongPatient,
    RetentionExpired,
    LegalOrder,
    Other,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "RecordStatus")]
pub enum RecordStatus {
    Active,
    Erased,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AccessAction")]
pub enum AccessAction {
    Uploaded,
    Viewed,
    Downloaded,
    Denied,
    Shared,
    Revoked,
    Expired,
    Erased,
    /// A read under emergency access (`detail`: viewed or downloaded).
    Emergency,
    /// A share made by approving a referral.
    Referred,
    /// A share link naming the record was opened with its passcode.
    LinkOpened,
}

impl AccessAction {
    /// From the access log's `action` column (written by the records projector).
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "UPLOADED" => AccessAction::Uploaded,
            "VIEWED" => AccessAction::Viewed,
            "DOWNLOADED" => AccessAction::Downloaded,
            "DENIED" => AccessAction::Denied,
            "SHARED" => AccessAction::Shared,
            "REVOKED" => AccessAction::Revoked,
            "EXPIRED" => AccessAction::Expired,
            "ERASED" => AccessAction::Erased,
            "EMERGENCY" => AccessAction::Emergency,
            "REFERRED" => AccessAction::Referred,
            "LINK_OPENED" => AccessAction::LinkOpened,
            _ => return None,
        })
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(
    name = "NotificationKind",
    remote = "domain::notification::NotificationKind"
)]
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
    SecurityChanged,
    ErasureCompleted,
    RecordAdded,
    ReferralRequested,
    ReferralDecided,
    EmergencyAccess,
    EmergencyReviewed,
    LinkOpened,
    LinkLocked,
    ProxyGranted,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ReferralStatus")]
pub enum ReferralStatus {
    Pending,
    Approved,
    Declined,
}

impl ReferralStatus {
    /// From the referrals view's `status` column.
    pub fn parse(raw: &str) -> Self {
        match raw {
            "APPROVED" => ReferralStatus::Approved,
            "DECLINED" => ReferralStatus::Declined,
            _ => ReferralStatus::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Pending => "PENDING",
            ReferralStatus::Approved => "APPROVED",
            ReferralStatus::Declined => "DECLINED",
        }
    }
}
