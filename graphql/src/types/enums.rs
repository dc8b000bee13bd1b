//! The contract's enums, mapped from and to the domain's.

use async_graphql::Enum;
use domain::account;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum Role {
    Patient,
    Doctor,
    Admin,
}

impl From<account::Role> for Role {
    fn from(r: account::Role) -> Self {
        match r {
            account::Role::Patient => Role::Patient,
            account::Role::Doctor => Role::Doctor,
            account::Role::Admin => Role::Admin,
        }
    }
}

impl From<Role> for account::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Patient => account::Role::Patient,
            Role::Doctor => account::Role::Doctor,
            Role::Admin => account::Role::Admin,
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AccountStatus")]
pub enum AccountStatus {
    Pending,
    Active,
    Rejected,
    Suspended,
    Erased,
}

impl From<account::AccountStatus> for AccountStatus {
    fn from(s: account::AccountStatus) -> Self {
        match s {
            account::AccountStatus::Pending => AccountStatus::Pending,
            account::AccountStatus::Active => AccountStatus::Active,
            account::AccountStatus::Rejected => AccountStatus::Rejected,
            account::AccountStatus::Suspended => AccountStatus::Suspended,
            account::AccountStatus::Erased => AccountStatus::Erased,
        }
    }
}

impl From<AccountStatus> for account::AccountStatus {
    fn from(s: AccountStatus) -> Self {
        match s {
            AccountStatus::Pending => account::AccountStatus::Pending,
            AccountStatus::Active => account::AccountStatus::Active,
            AccountStatus::Rejected => account::AccountStatus::Rejected,
            AccountStatus::Suspended => account::AccountStatus::Suspended,
            AccountStatus::Erased => account::AccountStatus::Erased,
        }
    }
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
            _ => return None,
        })
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "NotificationKind")]
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
}

impl From<domain::notification::NotificationKind> for NotificationKind {
    fn from(k: domain::notification::NotificationKind) -> Self {
        use domain::notification::NotificationKind as K;
        match k {
            K::RecordShared => NotificationKind::RecordShared,
            K::ShareRevoked => NotificationKind::ShareRevoked,
            K::ShareExpiring => NotificationKind::ShareExpiring,
            K::RecordAccessed => NotificationKind::RecordAccessed,
            K::AccountApproved => NotificationKind::AccountApproved,
            K::AccountRejected => NotificationKind::AccountRejected,
            K::ProfileChangeDecided => NotificationKind::ProfileChangeDecided,
            K::PasswordChanged => NotificationKind::PasswordChanged,
            K::UserAwaitingApproval => NotificationKind::UserAwaitingApproval,
            K::ProfileChangeRequested => NotificationKind::ProfileChangeRequested,
        }
    }
}

impl From<NotificationKind> for domain::notification::NotificationKind {
    fn from(k: NotificationKind) -> Self {
        use domain::notification::NotificationKind as K;
        match k {
            NotificationKind::RecordShared => K::RecordShared,
            NotificationKind::ShareRevoked => K::ShareRevoked,
            NotificationKind::ShareExpiring => K::ShareExpiring,
            NotificationKind::RecordAccessed => K::RecordAccessed,
            NotificationKind::AccountApproved => K::AccountApproved,
            NotificationKind::AccountRejected => K::AccountRejected,
            NotificationKind::ProfileChangeDecided => K::ProfileChangeDecided,
            NotificationKind::PasswordChanged => K::PasswordChanged,
            NotificationKind::UserAwaitingApproval => K::UserAwaitingApproval,
            NotificationKind::ProfileChangeRequested => K::ProfileChangeRequested,
        }
    }
}
