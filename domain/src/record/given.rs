//! Test support: record decisions as stories, `given(history).when(decision).then(events)`
//! or `.refused(error)`, and the cast they share.

use super::access::Viewer;
use super::events::{RecordErased, RecordEvent, RecordShared, RecordUploaded};
use super::state::Record;
use super::{RecordId, ShareId};
use crate::account::{Reason, Role, UserId};
use std::fmt::Debug;
use uuid::Uuid;

pub use crate::account::user::given::{at, sealed};

pub const RECORD: RecordId = RecordId::from_uuid(Uuid::from_u128(0x5ec0_0001));
pub const PATIENT: UserId = UserId::from_uuid(Uuid::from_u128(0xa1));
pub const OTHER_PATIENT: UserId = UserId::from_uuid(Uuid::from_u128(0xa2));
pub const DOCTOR: UserId = UserId::from_uuid(Uuid::from_u128(0xd1));
pub const OTHER_DOCTOR: UserId = UserId::from_uuid(Uuid::from_u128(0xd2));
pub const ADMIN: UserId = UserId::from_uuid(Uuid::from_u128(0xad));
pub const SHARE: ShareId = ShareId::from_uuid(Uuid::from_u128(0x5a1));
pub const OTHER_SHARE: ShareId = ShareId::from_uuid(Uuid::from_u128(0x5a2));

pub fn as_patient(id: UserId) -> Viewer {
    Viewer {
        id,
        role: Role::Patient,
    }
}

pub fn as_doctor(id: UserId) -> Viewer {
    Viewer {
        id,
        role: Role::Doctor,
    }
}

pub fn as_admin(id: UserId) -> Viewer {
    Viewer {
        id,
        role: Role::Admin,
    }
}

pub fn uploaded() -> RecordEvent {
    RecordUploaded {
        owner: PATIENT,
        sha256: "cd".repeat(32),
        size: 1_000,
        stored_size: 1_048,
        content_type: "application/pdf".into(),
        title: sealed("title"),
        description: None,
        file_name: sealed("file"),
    }
    .into()
}

/// `doctor` given `share`, until `expires` minutes (or until revoked).
pub fn shared(share: ShareId, doctor: UserId, expires: Option<i64>) -> RecordEvent {
    RecordShared {
        share,
        doctor,
        expires_at: expires.map(at),
    }
    .into()
}

pub fn erased() -> RecordEvent {
    RecordErased {
        reason: Reason::parse("uploaded by mistake").unwrap(),
    }
    .into()
}

pub fn given(history: impl IntoIterator<Item = RecordEvent>) -> Given {
    let mut state = Record::new(RECORD);
    for event in history {
        state.apply(&event);
    }
    Given(state)
}

pub struct Given(Record);

impl Given {
    pub fn when<E>(self, decide: impl FnOnce(&Record) -> Result<Vec<RecordEvent>, E>) -> When<E> {
        let outcome = decide(&self.0);
        When {
            state: self.0,
            outcome,
        }
    }
}

pub struct When<E> {
    state: Record,
    outcome: Result<Vec<RecordEvent>, E>,
}

impl<E: Debug + PartialEq> When<E> {
    /// The decision produced exactly `expected`; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = RecordEvent>) -> Record {
        let expected: Vec<_> = expected.into_iter().collect();
        let events = match self.outcome {
            Ok(events) => events,
            Err(e) => panic!("the decision was refused: {e:?}"),
        };
        assert_eq!(events, expected, "the events recorded");
        let mut state = self.state;
        for event in &events {
            state.apply(event);
        }
        state
    }

    #[track_caller]
    pub fn refused(self, expected: E) {
        assert_eq!(self.outcome.err(), Some(expected));
    }
}
