//! Passkeys (DESIGN.md §10): registering one (after a recent sign-in), removing one, and
//! signing in with one. The command layer runs the WebAuthn ceremony (`webauthn-rs`:
//! the challenge, the origin, the signature, user verification) and says what it found;
//! what that means is decided here. A passkey sign-in is complete on its own, and no
//! password lockout blocks it: nobody can lock a clinician out by guessing.

use super::events::{FactorUsed, LoginSucceeded, PasskeyRegistered, PasskeyRemoved, UserEvent};
use super::factors::StepUp;
use super::state::User;
use crate::account::AccountStatus;
use crate::{Sealed, Timestamp};
use uuid::Uuid;

/// How many passkeys one person may have: a phone, a laptop, a key or two.
pub const MAX_PASSKEYS: usize = 10;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PasskeyError {
    #[error("this account is not active")]
    NotActive,
    #[error("this needs a recent sign-in: confirm your password (and code) first")]
    ReauthRequired,
    #[error("this passkey is already registered")]
    AlreadyRegistered,
    #[error("at most {MAX_PASSKEYS} passkeys; remove one first")]
    TooMany,
    #[error("there is no such passkey")]
    NoSuchPasskey,
    #[error("this passkey is not registered with this account")]
    Unknown,
    #[error(
        "this passkey's signature counter went back: it may have been copied; sign in another way and remove it"
    )]
    CounterWentBack,
    #[error("this account is {0}")]
    Status(AccountStatus),
}

fn active(state: &User) -> Result<(), PasskeyError> {
    match state.status() {
        Some(AccountStatus::Active) => Ok(()),
        _ => Err(PasskeyError::NotActive),
    }
}

impl User {
    /// Whether the person has any second factor: TOTP or a passkey.
    pub fn has_second_factor(&self) -> bool {
        self.has_totp() || !self.passkeys().is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterPasskey {
    pub passkey: Uuid,
    pub name: Sealed,
    pub credential: Sealed,
    pub credential_hash: String,
    pub step_up: StepUp,
}

pub fn register_passkey(
    state: &User,
    cmd: RegisterPasskey,
) -> Result<Vec<UserEvent>, PasskeyError> {
    active(state)?;
    cmd.step_up
        .check()
        .map_err(|_| PasskeyError::ReauthRequired)?;
    if state
        .passkeys()
        .values()
        .any(|p| p.credential_hash == cmd.credential_hash)
    {
        return Err(PasskeyError::AlreadyRegistered);
    }
    if state.passkeys().len() >= MAX_PASSKEYS {
        return Err(PasskeyError::TooMany);
    }
    Ok(vec![
        PasskeyRegistered {
            passkey: cmd.passkey,
            name: cmd.name,
            credential: cmd.credential,
            credential_hash: cmd.credential_hash,
            at: cmd.step_up.now,
        }
        .into(),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovePasskey {
    pub passkey: Uuid,
    pub session: Uuid,
    pub step_up: StepUp,
}

pub fn remove_passkey(state: &User, cmd: RemovePasskey) -> Result<Vec<UserEvent>, PasskeyError> {
    active(state)?;
    if !state.passkeys().contains_key(&cmd.passkey) {
        return Err(PasskeyError::NoSuchPasskey);
    }
    cmd.step_up
        .check()
        .map_err(|_| PasskeyError::ReauthRequired)?;
    Ok(vec![
        PasskeyRemoved {
            passkey: cmd.passkey,
            kept_session: cmd.session,
        }
        .into(),
    ])
}

/// A passkey sign-in the ceremony verified: which passkey (found by its credential's
/// hash), and the counter its authenticator reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyLogin {
    pub passkey: Uuid,
    pub counter: u32,
    pub session: Uuid,
    pub expires_at: Timestamp,
    pub now: Timestamp,
}

pub fn passkey_login(state: &User, cmd: PasskeyLogin) -> Result<Vec<UserEvent>, PasskeyError> {
    let Some(stored) = state.passkeys().get(&cmd.passkey) else {
        return Err(PasskeyError::Unknown);
    };
    match state.status() {
        Some(AccountStatus::Active) => {}
        Some(other) => return Err(PasskeyError::Status(other)),
        None => return Err(PasskeyError::Unknown),
    }
    // An authenticator that keeps a counter raises it at every signature; one that went
    // back (or stood still) is a copy of the key somewhere.
    if cmd.counter != 0 && cmd.counter <= stored.counter {
        return Err(PasskeyError::CounterWentBack);
    }
    Ok(vec![
        LoginSucceeded {
            session: cmd.session,
            expires_at: cmd.expires_at,
            factor: Some(FactorUsed::Passkey {
                passkey: cmd.passkey,
                counter: cmd.counter,
                at: cmd.now,
            }),
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::events::LoginFailed;
    use super::super::events::LoginFailure;
    use super::super::given::{at, given, registered_with, sealed, session};
    use super::*;
    use crate::account::Role;

    const KEY: Uuid = Uuid::from_u128(0x9a55);

    fn active_doctor() -> UserEvent {
        registered_with(Role::Doctor, AccountStatus::Active)
    }

    fn fresh() -> StepUp {
        StepUp {
            authenticated_at: at(0),
            now: at(1),
        }
    }

    fn registered_key() -> UserEvent {
        PasskeyRegistered {
            passkey: KEY,
            name: sealed("phone"),
            credential: sealed("credential"),
            credential_hash: "ab".repeat(32),
            at: at(1),
        }
        .into()
    }

    fn login(
        counter: u32,
        minute: i64,
    ) -> impl FnOnce(&User) -> Result<Vec<UserEvent>, PasskeyError> {
        move |u| {
            passkey_login(
                u,
                PasskeyLogin {
                    passkey: KEY,
                    counter,
                    session: session(1),
                    expires_at: at(minute + 720),
                    now: at(minute),
                },
            )
        }
    }

    #[test]
    fn a_passkey_is_registered_once_after_a_recent_sign_in() {
        let cmd = RegisterPasskey {
            passkey: KEY,
            name: sealed("phone"),
            credential: sealed("credential"),
            credential_hash: "ab".repeat(32),
            step_up: fresh(),
        };
        let user = given([active_doctor()])
            .when(|u| register_passkey(u, cmd.clone()))
            .then([registered_key()]);
        assert!(user.has_second_factor());
        given([active_doctor(), registered_key()])
            .when(|u| {
                register_passkey(
                    u,
                    RegisterPasskey {
                        passkey: Uuid::from_u128(2),
                        ..cmd.clone()
                    },
                )
            })
            .then_err(PasskeyError::AlreadyRegistered);
        let stale = StepUp {
            authenticated_at: at(0),
            now: at(60),
        };
        given([active_doctor()])
            .when(|u| {
                register_passkey(
                    u,
                    RegisterPasskey {
                        step_up: stale,
                        ..cmd
                    },
                )
            })
            .then_err(PasskeyError::ReauthRequired);
    }

    #[test]
    fn a_password_lockout_never_blocks_a_passkey() {
        let mut history = vec![active_doctor(), registered_key()];
        history.extend((0..10).map(|m| {
            LoginFailed {
                reason: LoginFailure::WrongPassword,
                at: at(m),
            }
            .into()
        }));
        let user = given(history.clone()).state();
        assert!(user.login_locked_until(at(10)).is_some());
        given(history).when(login(0, 10)).then([LoginSucceeded {
            session: session(1),
            expires_at: at(730),
            factor: Some(FactorUsed::Passkey {
                passkey: KEY,
                counter: 0,
                at: at(10),
            }),
        }
        .into()]);
    }

    #[test]
    fn a_counter_that_goes_back_is_refused() {
        let used = LoginSucceeded {
            session: session(1),
            expires_at: at(720),
            factor: Some(FactorUsed::Passkey {
                passkey: KEY,
                counter: 5,
                at: at(2),
            }),
        };
        let history = [active_doctor(), registered_key(), used.into()];
        given(history.clone())
            .when(login(5, 3))
            .then_err(PasskeyError::CounterWentBack);
        given(history).when(login(6, 3)).then([LoginSucceeded {
            session: session(1),
            expires_at: at(723),
            factor: Some(FactorUsed::Passkey {
                passkey: KEY,
                counter: 6,
                at: at(3),
            }),
        }
        .into()]);
    }

    #[test]
    fn removing_a_passkey_keeps_only_this_session() {
        let user = given([active_doctor(), registered_key()])
            .when(|u| {
                remove_passkey(
                    u,
                    RemovePasskey {
                        passkey: KEY,
                        session: session(1),
                        step_up: fresh(),
                    },
                )
            })
            .then([PasskeyRemoved {
                passkey: KEY,
                kept_session: session(1),
            }
            .into()]);
        assert!(!user.has_second_factor());
        given([active_doctor()])
            .when(login(0, 1))
            .then_err(PasskeyError::Unknown);
    }
}
