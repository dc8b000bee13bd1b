//! Closing a session: the user signing out of it, or a revocation (the user closing
//! another of their sessions, or an administrator closing one).
//!
//! A session that has passed its expiry but was never closed is still open here: closing
//! it is harmless, and it keeps the state from growing with sessions nobody ended.

use super::events::{LoggedOut, SessionRevoked, UserEvent};
use super::state::User;
use uuid::Uuid;

/// The longest a session may last from sign-in (`MEDCHAIN_SESSION_MAX` may not exceed it).
pub const MAX_SESSION_LIFETIME_MICROS: i64 = 31 * 24 * 3600 * 1_000_000;

/// A session that expired this long before another one expires had ended before that one
/// began: the state forgets it (`User::apply`). A day more than the longest session, so
/// clocks a little apart between processes cannot make it forget a live one.
pub const FORGET_SESSIONS_AFTER_MICROS: i64 = MAX_SESSION_LIFETIME_MICROS + 24 * 3600 * 1_000_000;

#[derive(Debug, Clone, Copy)]
pub struct Logout {
    pub session: Uuid,
}

#[derive(Debug, Clone, Copy)]
pub struct RevokeSession {
    pub session: Uuid,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("there is no open session with that id")]
    NotFound,
}

pub fn logout(state: &User, cmd: Logout) -> Result<Vec<UserEvent>, SessionError> {
    open(state, cmd.session)?;
    Ok(vec![
        LoggedOut {
            session: cmd.session,
        }
        .into(),
    ])
}

pub fn revoke_session(state: &User, cmd: RevokeSession) -> Result<Vec<UserEvent>, SessionError> {
    open(state, cmd.session)?;
    Ok(vec![
        SessionRevoked {
            session: cmd.session,
        }
        .into(),
    ])
}

fn open(state: &User, session: Uuid) -> Result<(), SessionError> {
    if state.is_session_open(session) {
        Ok(())
    } else {
        Err(SessionError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::LoginSucceeded;
    use super::super::given::{at, given, registered, session};
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

    fn signed_in_twice() -> [UserEvent; 3] {
        [registered(Role::Patient), opened(1), opened(2)]
    }

    #[test]
    fn logout_closes_only_that_session() {
        let user = given(signed_in_twice())
            .when(|state| {
                logout(
                    state,
                    Logout {
                        session: session(1),
                    },
                )
            })
            .then([LoggedOut {
                session: session(1),
            }
            .into()]);
        assert!(!user.is_session_open(session(1)));
        assert!(user.is_session_open(session(2)));
    }

    #[test]
    fn a_session_logs_out_once() {
        given([
            registered(Role::Patient),
            opened(1),
            LoggedOut {
                session: session(1),
            }
            .into(),
        ])
        .when(|state| {
            logout(
                state,
                Logout {
                    session: session(1),
                },
            )
        })
        .then_err(SessionError::NotFound);
    }

    #[test]
    fn an_unknown_session_cannot_be_logged_out() {
        given(signed_in_twice())
            .when(|state| {
                logout(
                    state,
                    Logout {
                        session: session(3),
                    },
                )
            })
            .then_err(SessionError::NotFound);
        given([])
            .when(|state| {
                logout(
                    state,
                    Logout {
                        session: session(1),
                    },
                )
            })
            .then_err(SessionError::NotFound);
    }

    #[test]
    fn an_expired_session_can_still_be_closed() {
        let user = given(signed_in_twice())
            .when(|state| {
                assert!(!state.is_session_live(session(2), at(61)));
                logout(
                    state,
                    Logout {
                        session: session(2),
                    },
                )
            })
            .then([LoggedOut {
                session: session(2),
            }
            .into()]);
        assert!(!user.is_session_open(session(2)));
    }

    #[test]
    fn revoking_closes_only_that_session() {
        let user = given(signed_in_twice())
            .when(|state| {
                revoke_session(
                    state,
                    RevokeSession {
                        session: session(2),
                    },
                )
            })
            .then([SessionRevoked {
                session: session(2),
            }
            .into()]);
        assert!(user.is_session_open(session(1)));
        assert!(!user.is_session_open(session(2)));
    }

    #[test]
    fn a_revoked_session_cannot_be_revoked_again() {
        given([
            registered(Role::Patient),
            opened(1),
            SessionRevoked {
                session: session(1),
            }
            .into(),
        ])
        .when(|state| {
            revoke_session(
                state,
                RevokeSession {
                    session: session(1),
                },
            )
        })
        .then_err(SessionError::NotFound);
    }
}
