//! An erasure is complete when every key epoch that ever wrapped the erased keys is
//! retired (DESIGN.md §11): from then on no copy of their rows (a dead tuple, the WAL, a
//! backup, a replica) opens. `ErasureCompleted` records that moment on the subject's own
//! completion stream (`user_erasure-<id>` or `record_erasure-<id>`), once, with the
//! epochs; a record's owner is told.

use super::{EpochNumber, ErasureSubject};
use crate::StreamName;
use crate::account::UserId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErasureCompleted {
    pub subject: ErasureSubject,
    /// The person whose keys they were (for a record, its owner): who is told.
    pub owner: UserId,
    /// Every epoch that ever wrapped the erased keys, all retired now.
    pub epochs: Vec<EpochNumber>,
}

crate::domain_events! {
    pub enum ErasureEvent {
        ErasureCompleted,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureCompletion {
    subject: ErasureSubject,
    completed: bool,
}

impl crate::Aggregate for ErasureCompletion {
    type Id = ErasureSubject;
    type Event = ErasureEvent;

    fn new(subject: ErasureSubject) -> Self {
        Self {
            subject,
            completed: false,
        }
    }

    fn stream(subject: ErasureSubject) -> StreamName {
        let category = match subject {
            ErasureSubject::User(_) => "user_erasure",
            ErasureSubject::Record(_) => "record_erasure",
        };
        StreamName::new(category, subject.id()).expect("valid stream categories")
    }

    fn apply(&mut self, event: &ErasureEvent) {
        match event {
            ErasureEvent::ErasureCompleted(_) => self.completed = true,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CompleteError {
    #[error("an erasure made before key epochs is never complete: the master key wrapped it")]
    BeforeEpochs,
    #[error("epoch {0} is not retired yet")]
    NotRetired(EpochNumber),
}

/// `epochs`: every epoch that wrapped the keys, with whether it is retired (the facts
/// the command layer loads). Completing twice decides nothing.
pub fn complete(
    state: &ErasureCompletion,
    owner: UserId,
    epochs: &[(EpochNumber, bool)],
) -> Result<Vec<ErasureEvent>, CompleteError> {
    if state.completed {
        return Ok(Vec::new());
    }
    if epochs.is_empty() || epochs.iter().any(|&(n, _)| n == 0) {
        return Err(CompleteError::BeforeEpochs);
    }
    if let Some(&(n, _)) = epochs.iter().find(|(_, retired)| !retired) {
        return Err(CompleteError::NotRetired(n));
    }
    Ok(vec![
        ErasureCompleted {
            subject: state.subject,
            owner,
            epochs: epochs.iter().map(|&(n, _)| n).collect(),
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;
    use crate::record::RecordId;
    use uuid::Uuid;

    fn record() -> ErasureSubject {
        ErasureSubject::Record(RecordId::from_uuid(Uuid::from_u128(9)))
    }
    const OWNER: UserId = UserId::from_uuid(Uuid::from_u128(1));

    #[test]
    fn completes_once_every_epoch_is_retired() {
        let mut state = ErasureCompletion::new(record());
        assert_eq!(
            complete(&state, OWNER, &[(1, true), (2, false)]),
            Err(CompleteError::NotRetired(2))
        );
        let events = complete(&state, OWNER, &[(1, true), (2, true)]).unwrap();
        assert_eq!(
            events,
            vec![
                ErasureCompleted {
                    subject: record(),
                    owner: OWNER,
                    epochs: vec![1, 2]
                }
                .into()
            ]
        );
        state.apply(&events[0]);
        assert_eq!(complete(&state, OWNER, &[(1, true), (2, true)]), Ok(vec![]));
    }

    #[test]
    fn an_erasure_from_before_epochs_never_completes() {
        let state = ErasureCompletion::new(record());
        assert_eq!(
            complete(&state, OWNER, &[(0, true), (1, true)]),
            Err(CompleteError::BeforeEpochs)
        );
        assert_eq!(
            complete(&state, OWNER, &[]),
            Err(CompleteError::BeforeEpochs)
        );
    }

    #[test]
    fn a_person_and_a_record_have_their_own_streams() {
        let id = Uuid::from_u128(9);
        let user = ErasureSubject::User(UserId::from_uuid(id));
        assert_ne!(
            ErasureCompletion::stream(user),
            ErasureCompletion::stream(record())
        );
        assert_eq!(ErasureCompletion::stream(user).category(), "user_erasure");
    }
}
