//! An administrator's decisions on an account: approve or reject a pending one, suspend
//! one that is in use. Who may decide (an administrator) is checked where the caller is
//! known; the facts here are the account's own state and who is acting.

use super::events::{UserApproved, UserEvent, UserRejected, UserSuspended};
use super::state::User;
use crate::Sealed;
use crate::account::{AccountStatus, UserId};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ApprovalError {
    #[error("there is no such account")]
    NoAccount,
    #[error("the account is not waiting for approval (it is {0})")]
    NotPending(AccountStatus),
    #[error("the account cannot be suspended (it is {0})")]
    NotSuspendable(AccountStatus),
    #[error("administrators cannot suspend themselves")]
    SelfSuspension,
}

pub fn approve(state: &User) -> Result<Vec<UserEvent>, ApprovalError> {
    pending(state)?;
    Ok(vec![UserApproved {}.into()])
}

pub fn reject(state: &User, reason: Sealed) -> Result<Vec<UserEvent>, ApprovalError> {
    pending(state)?;
    Ok(vec![UserRejected { reason }.into()])
}

/// `by`: the administrator acting.
pub fn suspend(state: &User, by: UserId, reason: Sealed) -> Result<Vec<UserEvent>, ApprovalError> {
    let status = state.status().ok_or(ApprovalError::NoAccount)?;
    if by == state.id() {
        return Err(ApprovalError::SelfSuspension);
    }
    match status {
        AccountStatus::Active | AccountStatus::Pending => Ok(vec![UserSuspended { reason }.into()]),
        other => Err(ApprovalError::NotSuspendable(other)),
    }
}

fn pending(state: &User) -> Result<(), ApprovalError> {
    match state.status().ok_or(ApprovalError::NoAccount)? {
        AccountStatus::Pending => Ok(()),
        other => Err(ApprovalError::NotPending(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::given::{USER, given, registered, registered_with};
    use super::*;
    use crate::account::Role;
    use uuid::Uuid;

    const ADMIN: UserId = UserId::from_uuid(Uuid::from_u128(7));

    fn reason(text: &str) -> Sealed {
        super::super::given::sealed(text)
    }

    #[test]
    fn a_pending_doctor_is_approved_and_becomes_active() {
        let after = given([registered(Role::Doctor)])
            .when(approve)
            .then([UserApproved {}.into()]);
        assert_eq!(after.status(), Some(AccountStatus::Active));
    }

    #[test]
    fn only_a_pending_account_can_be_approved_or_rejected() {
        given([registered(Role::Patient)])
            .when(approve)
            .then_err(ApprovalError::NotPending(AccountStatus::Active));
        given([registered_with(Role::Doctor, AccountStatus::Rejected)])
            .when(|s| reject(s, reason("again")))
            .then_err(ApprovalError::NotPending(AccountStatus::Rejected));
        given([]).when(approve).then_err(ApprovalError::NoAccount);
    }

    #[test]
    fn a_rejection_records_its_reason() {
        let after = given([registered(Role::Doctor)])
            .when(|s| reject(s, reason("no licence number")))
            .then([UserRejected {
                reason: reason("no licence number"),
            }
            .into()]);
        assert_eq!(after.status(), Some(AccountStatus::Rejected));
    }

    #[test]
    fn suspension_ends_every_session() {
        let login = super::super::events::LoginSucceeded {
            session: Uuid::from_u128(1),
            expires_at: super::super::given::at(60),
            factor: None,
        };
        let after = given([registered(Role::Patient), login.into()])
            .when(|s| suspend(s, ADMIN, reason("abuse")))
            .then([UserSuspended {
                reason: reason("abuse"),
            }
            .into()]);
        assert_eq!(after.status(), Some(AccountStatus::Suspended));
        assert_eq!(after.open_sessions().count(), 0);
    }

    #[test]
    fn an_admin_cannot_suspend_themself_nor_a_suspended_account() {
        given([registered(Role::Admin)])
            .when(|s| suspend(s, USER, reason("oops")))
            .then_err(ApprovalError::SelfSuspension);
        given([registered_with(Role::Patient, AccountStatus::Suspended)])
            .when(|s| suspend(s, ADMIN, reason("again")))
            .then_err(ApprovalError::NotSuspendable(AccountStatus::Suspended));
    }
}
