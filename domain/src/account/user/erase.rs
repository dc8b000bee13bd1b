//! Erasing a person (DESIGN.md §4): the decision and its guards. The command layer then
//! destroys the subject key; the ledger keeps only ciphertext it can no longer open.
//!
//! An administrator cannot erase themself, nor the last active administrator (the
//! system would be left with nobody to run it). Erasing an erased person decides
//! nothing: the command layer then only finishes what a crash may have interrupted.

use super::events::{UserErased, UserEvent};
use super::state::User;
use crate::account::{AccountStatus, Role, UserId};
use crate::{ErasureBasis, Sealed};

pub struct Erase {
    /// The administrator acting.
    pub by: UserId,
    pub basis: ErasureBasis,
    /// Sealed under the person's key by the command layer.
    pub reason: Sealed,
    /// How many ACTIVE administrators there are now (a fact from the users view).
    pub active_admins: usize,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EraseError {
    #[error("there is no such account")]
    NoAccount,
    #[error("administrators cannot erase themselves")]
    SelfErasure,
    #[error("the last active administrator cannot be erased")]
    LastAdmin,
}

pub fn erase(state: &User, cmd: Erase) -> Result<Vec<UserEvent>, EraseError> {
    let account = state.account().ok_or(EraseError::NoAccount)?;
    if account.status == AccountStatus::Erased {
        return Ok(Vec::new());
    }
    if cmd.by == state.id() {
        return Err(EraseError::SelfErasure);
    }
    if account.role == Role::Admin
        && account.status == AccountStatus::Active
        && cmd.active_admins <= 1
    {
        return Err(EraseError::LastAdmin);
    }
    Ok(vec![
        UserErased {
            basis: cmd.basis,
            reason: cmd.reason,
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::given::{USER, given, registered};
    use super::*;
    use uuid::Uuid;

    const ADMIN: UserId = UserId::from_uuid(Uuid::from_u128(7));

    fn by(admin: UserId, active_admins: usize) -> Erase {
        Erase {
            by: admin,
            basis: ErasureBasis::PatientRequest,
            reason: super::super::given::sealed("asked to be forgotten"),
            active_admins,
        }
    }

    fn erased() -> UserEvent {
        UserErased {
            basis: ErasureBasis::PatientRequest,
            reason: super::super::given::sealed("asked to be forgotten"),
        }
        .into()
    }

    #[test]
    fn a_patient_is_erased_and_their_sessions_end() {
        let login = super::super::events::LoginSucceeded {
            session: Uuid::from_u128(1),
            expires_at: super::super::given::at(60),
            factor: None,
        };
        let after = given([registered(Role::Patient), login.into()])
            .when(|s| erase(s, by(ADMIN, 1)))
            .then([erased()]);
        assert_eq!(after.status(), Some(AccountStatus::Erased));
        assert_eq!(after.open_sessions().count(), 0);
    }

    #[test]
    fn erasing_twice_decides_nothing() {
        given([registered(Role::Patient), erased()])
            .when(|s| erase(s, by(ADMIN, 1)))
            .then([]);
    }

    #[test]
    fn not_oneself_nor_the_last_active_admin() {
        given([registered(Role::Admin)])
            .when(|s| erase(s, by(USER, 2)))
            .then_err(EraseError::SelfErasure);
        given([registered(Role::Admin)])
            .when(|s| erase(s, by(ADMIN, 1)))
            .then_err(EraseError::LastAdmin);
        given([registered(Role::Admin)])
            .when(|s| erase(s, by(ADMIN, 2)))
            .then([erased()]);
        given([])
            .when(|s| erase(s, by(ADMIN, 2)))
            .then_err(EraseError::NoAccount);
    }
}
