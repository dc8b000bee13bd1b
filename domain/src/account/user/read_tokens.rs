//! Read tokens (DESIGN.md §12): credentials a person hands to an app so it can read their
//! records through the FHIR API and nothing else. An app never holds a token that can
//! share, erase or sign in: what a token may do is fixed by where the server accepts it
//! (`GET /fhir/R4/…` only), and what it may read is the person's own reach under the
//! access rules. Minting one asks for a recent sign-in, because a token outlives the
//! session that made it; each has an expiry (at most a year) and can be revoked at once.
//! The secret itself is the command layer's (random, shown once, kept only as a hash
//! outside the ledger); the ledger knows the token's id, its sealed name and its expiry.

use super::events::{ReadTokenCreated, ReadTokenRevoked, UserEvent};
use super::factors::StepUp;
use super::state::User;
use crate::account::AccountStatus;
use crate::{Sealed, Timestamp};
use uuid::Uuid;

/// Live tokens one person may hold at once: an app or two per device, not a fleet.
pub const MAX_READ_TOKENS: usize = 10;
/// The longest a token may run: a year.
pub const MAX_READ_TOKEN_MICROS: i64 = 365 * 24 * 3600 * 1_000_000;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReadTokenError {
    #[error("this account is not active")]
    NotActive,
    #[error("this needs a recent sign-in: confirm your password (and code) first")]
    ReauthRequired,
    #[error("the expiry must be in the future")]
    ExpiryPassed,
    #[error("a read token runs for at most a year")]
    ExpiryTooFar,
    #[error("at most {MAX_READ_TOKENS} live read tokens; revoke one first")]
    TooMany,
    #[error("there is no such read token")]
    NoSuchToken,
    #[error("this read token is already revoked")]
    AlreadyRevoked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateReadToken {
    pub token: Uuid,
    pub name: Sealed,
    pub expires_at: Timestamp,
    pub step_up: StepUp,
}

pub fn create_read_token(
    state: &User,
    cmd: CreateReadToken,
) -> Result<Vec<UserEvent>, ReadTokenError> {
    if state.status() != Some(AccountStatus::Active) {
        return Err(ReadTokenError::NotActive);
    }
    cmd.step_up
        .check()
        .map_err(|_| ReadTokenError::ReauthRequired)?;
    let now = cmd.step_up.now;
    if cmd.expires_at <= now {
        return Err(ReadTokenError::ExpiryPassed);
    }
    if cmd.expires_at.as_micros() - now.as_micros() > MAX_READ_TOKEN_MICROS {
        return Err(ReadTokenError::ExpiryTooFar);
    }
    if state.live_read_tokens(now).count() >= MAX_READ_TOKENS {
        return Err(ReadTokenError::TooMany);
    }
    Ok(vec![
        ReadTokenCreated {
            token: cmd.token,
            name: cmd.name,
            expires_at: cmd.expires_at,
            at: now,
        }
        .into(),
    ])
}

/// Revoking one's own token needs no step-up: taking access away is always allowed.
pub fn revoke_read_token(state: &User, token: Uuid) -> Result<Vec<UserEvent>, ReadTokenError> {
    match state.read_tokens().get(&token) {
        None => Err(ReadTokenError::NoSuchToken),
        Some(t) if t.revoked => Err(ReadTokenError::AlreadyRevoked),
        Some(_) => Ok(vec![ReadTokenRevoked { token }.into()]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::given::{at, given, registered, registered_with, sealed};
    use super::*;
    use crate::account::Role;

    const TOKEN: Uuid = Uuid::from_u128(0x70c);

    fn active_patient() -> UserEvent {
        registered_with(Role::Patient, AccountStatus::Active)
    }

    fn create(token: Uuid, expires_minute: i64, signed_in: i64, now: i64) -> CreateReadToken {
        CreateReadToken {
            token,
            name: sealed("Health app"),
            expires_at: at(expires_minute),
            step_up: StepUp {
                authenticated_at: at(signed_in),
                now: at(now),
            },
        }
    }

    fn created(token: Uuid, expires_minute: i64, now: i64) -> UserEvent {
        ReadTokenCreated {
            token,
            name: sealed("Health app"),
            expires_at: at(expires_minute),
            at: at(now),
        }
        .into()
    }

    #[test]
    fn an_active_person_who_just_signed_in_mints_a_token() {
        given([active_patient()])
            .when(|u| create_read_token(u, create(TOKEN, 600, 0, 1)))
            .then([created(TOKEN, 600, 1)]);
    }

    #[test]
    fn a_stale_session_must_confirm_it_is_the_person_first() {
        given([active_patient()])
            .when(|u| create_read_token(u, create(TOKEN, 600, 0, 30)))
            .then_err(ReadTokenError::ReauthRequired);
    }

    #[test]
    fn a_pending_account_mints_nothing() {
        given([registered(Role::Doctor)])
            .when(|u| create_read_token(u, create(TOKEN, 600, 0, 1)))
            .then_err(ReadTokenError::NotActive);
    }

    #[test]
    fn the_expiry_is_in_the_future_and_within_a_year() {
        given([active_patient()])
            .when(|u| create_read_token(u, create(TOKEN, 1, 0, 1)))
            .then_err(ReadTokenError::ExpiryPassed);
        let year_and_a_minute = MAX_READ_TOKEN_MICROS / 60_000_000 + 2;
        given([active_patient()])
            .when(|u| create_read_token(u, create(TOKEN, year_and_a_minute, 0, 1)))
            .then_err(ReadTokenError::ExpiryTooFar);
    }

    #[test]
    fn at_most_ten_live_tokens_and_expired_or_revoked_ones_make_room() {
        let mut history = vec![active_patient()];
        for n in 0..MAX_READ_TOKENS as u128 {
            history.push(created(Uuid::from_u128(n + 1), 600, 1));
        }
        given(history.clone())
            .when(|u| create_read_token(u, create(TOKEN, 600, 0, 2)))
            .then_err(ReadTokenError::TooMany);
        let mut revoked = history.clone();
        revoked.push(
            ReadTokenRevoked {
                token: Uuid::from_u128(1),
            }
            .into(),
        );
        given(revoked)
            .when(|u| create_read_token(u, create(TOKEN, 600, 0, 2)))
            .then([created(TOKEN, 600, 2)]);
        // Once they have run out, the same ten take no room.
        given(history)
            .when(|u| create_read_token(u, create(TOKEN, 1200, 601, 601)))
            .then([created(TOKEN, 1200, 601)]);
    }

    #[test]
    fn a_token_is_revoked_once_and_only_if_it_is_the_persons() {
        let state = given([active_patient(), created(TOKEN, 600, 1)])
            .when(|u| revoke_read_token(u, TOKEN))
            .then([ReadTokenRevoked { token: TOKEN }.into()]);
        assert!(state.read_tokens()[&TOKEN].revoked);
        given([active_patient(), created(TOKEN, 600, 1)])
            .when(|u| revoke_read_token(u, Uuid::from_u128(9)))
            .then_err(ReadTokenError::NoSuchToken);
        given([
            active_patient(),
            created(TOKEN, 600, 1),
            ReadTokenRevoked { token: TOKEN }.into(),
        ])
        .when(|u| revoke_read_token(u, TOKEN))
        .then_err(ReadTokenError::AlreadyRevoked);
    }
}
