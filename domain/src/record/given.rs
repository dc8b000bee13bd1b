//! Test support: record decisions as stories, `given(history).when(decision).then(events)`
//! or `.refused(error)`. The cast (`PATIENT`, `DOCTOR`, `RECORD`, `SHARE`, ...) and the
//! events most stories begin with are the samples' (`crate::samples`).

use super::access::Viewer;
use super::events::RecordEvent;
use super::state::Record;
use crate::account::{Role, UserId};
use std::fmt::Debug;

pub use crate::samples::{
    ADMIN, DOCTOR, OTHER_DOCTOR, OTHER_PATIENT, OTHER_SHARE, PATIENT, RECORD, SHARE, at, erased,
    sealed, shared, uploaded,
};

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
