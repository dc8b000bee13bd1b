//! Password reset: asking for a link (recorded, for the account's history) and setting a
//! new password with it (every session ends). The token is checked by the command layer,
//! which holds it; an erased account has neither a link nor a reset.

use super::events::{PasswordReset, PasswordResetRequested, UserEvent};
use super::state::User;
use crate::Sealed;
use crate::account::AccountStatus;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ResetError {
    #[error("there is no such account")]
    NoAccount,
}

fn usable(state: &User) -> Result<(), ResetError> {
    match state.status() {
        None | Some(AccountStatus::Erased) => Err(ResetError::NoAccount),
        Some(_) => Ok(()),
    }
}

pub fn request_password_reset(state: &User) -> Result<Vec<UserEvent>, ResetError> {
    usable(state)?;
    Ok(vec![PasswordResetRequested {}.into()])
}

pub fn reset_password(state: &User, password_hash: Sealed) -> Result<Vec<UserEvent>, ResetError> {
    usable(state)?;
    Ok(vec![PasswordReset { password_hash }.into()])
}

#[cfg(test)]
mod tests {
    use super::super::events::{LoginSucceeded, UserErased};
    use super::super::given::{at, given, registered, sealed, session};
    use super::*;
    use crate::account::Role;

    #[test]
    fn a_reset_sets_the_hash_and_ends_every_session() {
        let login = LoginSucceeded {
            session: session(1),
            expires_at: at(60),
            factor: None,
        };
        let after = given([registered(Role::Patient), login.into()])
            .when(|s| reset_password(s, sealed("newhash")))
            .then([PasswordReset {
                password_hash: sealed("newhash"),
            }
            .into()]);
        assert_eq!(after.account().unwrap().password_hash, sealed("newhash"));
        assert_eq!(after.open_sessions().count(), 0);
    }

    #[test]
    fn nothing_for_an_erased_or_missing_account() {
        let erased = UserErased {
            basis: crate::ErasureBasis::PatientRequest,
            reason: super::super::given::sealed("gone"),
        };
        given([registered(Role::Patient), erased.into()])
            .when(request_password_reset)
            .then_err(ResetError::NoAccount);
        given([])
            .when(|s| reset_password(s, sealed("h")))
            .then_err(ResetError::NoAccount);
    }
}
