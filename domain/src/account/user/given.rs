//! Test support: decisions read as stories, `given(history).when(decision).then(events)`,
//! about one person, `USER`. No database: a history is a list of events. The fixtures
//! (times, sealed fields, registrations) are the samples' (`crate::samples`), so the
//! stories and the samples other crates test with are written alike.

use super::events::UserEvent;
use super::login::{LoginDecision, LoginRefused};
use super::state::User;
use crate::account::UserId;
use std::fmt::Debug;
use uuid::Uuid;

pub use crate::samples::{at, registered, registered_with, sealed, session};

pub const USER: UserId =
    UserId::from_uuid(Uuid::from_u128(0x9b2c_6f1e_8a7d_4c3b_9e2f_1a2b_3c4d_5e6f));

pub fn given(history: impl IntoIterator<Item = UserEvent>) -> Given {
    let history: Vec<_> = history.into_iter().collect();
    Given(User::from_history(USER, &history))
}

pub struct Given(User);

impl Given {
    /// The state the history folds into.
    pub fn state(self) -> User {
        self.0
    }

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

impl Decision for super::factors::FactorDecision {
    type Error = super::factors::FactorError;
    fn into_parts(self) -> (Vec<UserEvent>, Result<(), Self::Error>) {
        (self.events, self.outcome)
    }
}

impl Decision for super::factors::ReauthDecision {
    type Error = super::factors::ReauthError;
    fn into_parts(self) -> (Vec<UserEvent>, Result<(), Self::Error>) {
        (self.events, self.outcome)
    }
}

impl Decision for LoginDecision {
    type Error = LoginRefused;
    fn into_parts(self) -> (Vec<UserEvent>, Result<(), LoginRefused>) {
        (self.events, self.outcome)
    }
}
