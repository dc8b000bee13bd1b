//! Test support: decisions read as stories, `given(history).when(decision).then(events)`,
//! and the few fixtures they share. No database: a history is a list of events.

use super::events::{Registration, UserEvent, UserRegistered};
use super::login::{LoginDecision, LoginRefused};
use super::state::User;
use crate::account::{AccountStatus, Role, UserId};
use crate::sealed::SEALED_PREFIX;
use crate::{Sealed, Timestamp};
use std::fmt::Debug;
use uuid::Uuid;

pub const USER: UserId =
    UserId::from_uuid(Uuid::from_u128(0x9b2c_6f1e_8a7d_4c3b_9e2f_1a2b_3c4d_5e6f));

/// 2026-11-24T10:00:00Z: the stories' time zero.
const ZERO_MICROS: i64 = 1_795_514_400_000_000;

/// `minutes` after the stories' time zero.
pub fn at(minutes: i64) -> Timestamp {
    Timestamp::from_micros(ZERO_MICROS + minutes * 60_000_000)
}

/// A well-formed sealed field standing for `label`'s ciphertext.
pub fn sealed(label: &str) -> Sealed {
    let body = format!("{label:A<40}");
    Sealed::parse(&format!("{SEALED_PREFIX}{body}")).expect("a base64url label")
}

pub fn session(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// The registration `register` makes for `role` through the API (admins: the CLI).
pub fn registered(role: Role) -> UserEvent {
    UserRegistered {
        role,
        status: match role {
            Role::Doctor => AccountStatus::Pending,
            Role::Patient | Role::Admin => AccountStatus::Active,
        },
        name: sealed("name"),
        email: sealed("email"),
        phone: None,
        password_hash: sealed("hash"),
        via: match role {
            Role::Admin => Registration::Cli,
            Role::Patient | Role::Doctor => Registration::Api,
        },
    }
    .into()
}

/// `registered` with its status replaced, for accounts an administrator has acted on.
pub fn registered_with(role: Role, status: AccountStatus) -> UserEvent {
    match registered(role) {
        UserEvent::UserRegistered(e) => UserRegistered { status, ..e }.into(),
        _ => unreachable!(),
    }
}

pub fn given(history: impl IntoIterator<Item = UserEvent>) -> Given {
    let history: Vec<_> = history.into_iter().collect();
    Given(User::from_history(USER, &history))
}

pub struct Given(User);

impl Given {
    pub fn when<D: Decision>(self, decide: impl FnOnce(&User) -> D) -> When<D::Error> {
        let (events, outcome) = decide(&self.0).into_parts();
        When {
            state: self.0,
            events,
            outcome,
        }
    }
}

pub struct When<E> {
    state: User,
    events: Vec<UserEvent>,
    outcome: Result<(), E>,
}

impl<E: Debug + PartialEq> When<E> {
    /// The decision succeeded with exactly `expected`; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = UserEvent>) -> User {
        assert_eq!(self.outcome, Ok(()), "the decision was refused");
        self.recorded(expected)
    }

    /// The decision was refused with `expected` and recorded nothing.
    #[track_caller]
    pub fn then_err(self, expected: E) {
        self.then_refused(expected, []);
    }

    /// The decision was refused with `expected` and still recorded `events`; returns the
    /// state after them.
    #[track_caller]
    pub fn then_refused(self, expected: E, events: impl IntoIterator<Item = UserEvent>) -> User {
        assert_eq!(self.outcome, Err(expected), "the outcome");
        self.recorded(events)
    }

    #[track_caller]
    fn recorded(self, expected: impl IntoIterator<Item = UserEvent>) -> User {
        let expected: Vec<_> = expected.into_iter().collect();
        assert_eq!(self.events, expected, "the events recorded");
        let mut state = self.state;
        for event in &self.events {
            state.apply(event);
        }
        state
    }
}

/// What a decision returns, seen the same way whether it is a `Result` or a
/// `LoginDecision`.
pub trait Decision {
    type Error;
    fn into_parts(self) -> (Vec<UserEvent>, Result<(), Self::Error>);
}

impl<E> Decision for Result<Vec<UserEvent>, E> {
    type Error = E;
    fn into_parts(self) -> (Vec<UserEvent>, Result<(), E>) {
        match self {
            Ok(events) => (events, Ok(())),
            Err(e) => (Vec::new(), Err(e)),
        }
    }
}

impl Decision for LoginDecision {
    type Error = LoginRefused;
    fn into_parts(self) -> (Vec<UserEvent>, Result<(), LoginRefused>) {
        (self.events, self.outcome)
    }
}
