//! Changing a password while signed in: the person proves they know the current one,
//! and every other session closes, so whoever else held one is shut out.
//!
//! The new password has passed `Password::new_checked` and been hashed and sealed before
//! this runs; the command layer compared the current password with the stored hash, and
//! passes only the answer.

use super::events::{PasswordChanged, UserEvent};
use super::state::User;
use crate::Sealed;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ChangePassword {
    pub current_password_matches: bool,
    pub password_hash: Sealed,
    /// The session the change was made from, which stays open; `None` closes them all.
    pub kept_session: Option<Uuid>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ChangePasswordError {
    #[error("there is no such account")]
    NoAccount,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("the session to keep open is not open")]
    SessionNotFound,
}

pub fn change_password(
    state: &User,
    cmd: ChangePassword,
) -> Result<Vec<UserEvent>, ChangePasswordError> {
    if !state.exists() {
        return Err(ChangePasswordError::NoAccount);
    }
    if !cmd.current_password_matches {
        return Err(ChangePasswordError::WrongCurrentPassword);
    }
    if let Some(kept) = cmd.kept_session
        && !state.is_session_open(kept)
    {
        return Err(ChangePasswordError::SessionNotFound);
    }
    Ok(vec![
        PasswordChanged {
            password_hash: cmd.password_hash,
            kept_session: cmd.kept_session,
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::events::LoginSucceeded;
    use super::super::given::{at, given, registered, sealed, session};
    use super::*;
    use crate::account::Role;

    fn opened(n: u128) -> UserEvent {
        LoginSucceeded {
            session: session(n),
            expires_at: at(60),
            factor: None,
        }
        .into()
    }

    fn signed_in_three_times() -> [UserEvent; 4] {
        [registered(Role::Patient), opened(1), opened(2), opened(3)]
    }

    fn change(
        matches: bool,
        kept: Option<u128>,
    ) -> impl FnOnce(&User) -> Result<Vec<UserEvent>, ChangePasswordError> {
        move |state| {
            change_password(
                state,
                ChangePassword {
                    current_password_matches: matches,
                    password_hash: sealed("newhash"),
                    kept_session: kept.map(session),
                },
            )
        }
    }

    #[test]
    fn a_password_change_closes_every_other_session() {
        let user = given(signed_in_three_times())
            .when(change(true, Some(2)))
            .then([PasswordChanged {
                password_hash: sealed("newhash"),
                kept_session: Some(session(2)),
            }
            .into()]);
        let open: Vec<_> = user.open_sessions().map(|(s, _)| s).collect();
        assert_eq!(open, [session(2)]);
        assert_eq!(user.account().unwrap().password_hash, sealed("newhash"));
    }

    #[test]
    fn a_change_keeping_no_session_closes_them_all() {
        let user = given(signed_in_three_times())
            .when(change(true, None))
            .then([PasswordChanged {
                password_hash: sealed("newhash"),
                kept_session: None,
            }
            .into()]);
        assert_eq!(user.open_sessions().count(), 0);
    }

    #[test]
    fn the_current_password_must_be_right() {
        given(signed_in_three_times())
            .when(change(false, Some(1)))
            .then_err(ChangePasswordError::WrongCurrentPassword);
    }

    #[test]
    fn the_session_kept_must_be_open() {
        given(signed_in_three_times())
            .when(change(true, Some(9)))
            .then_err(ChangePasswordError::SessionNotFound);
    }

    #[test]
    fn there_must_be_an_account() {
        given([])
            .when(change(true, None))
            .then_err(ChangePasswordError::NoAccount);
    }
}
