//! Legal holds (API.graphql's erasure block): an administrator may stop a record, or a
//! person with all their records, from being erased, because medical-records law often
//! requires keeping them; another administrator lifts it. The reason is sealed (under
//! the person's key); the subject in clear, since it names only an id. Each hold is its
//! own stream, `legal_hold-<id>`.
//!
//! The rule every erasure path asks (`may_erase`): no erasure while a hold on its subject
//! stands. The command layer loads the holds that name the subject (for a person, also
//! each of their records) and passes them in.

use super::ErasureSubject;
use crate::account::UserId;
use crate::{Sealed, StreamName};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const LEGAL_HOLD_CATEGORY: &str = "legal_hold";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalHoldPlaced {
    pub subject: ErasureSubject,
    /// The administrator who placed it: the one who may not lift it.
    pub by: UserId,
    /// Why, sealed under the person's key (`legal_hold-<id>`, field `reason`).
    pub reason: Sealed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalHoldLifted {
    pub by: UserId,
}

crate::domain_events! {
    pub enum LegalHoldEvent {
        LegalHoldPlaced,
        LegalHoldLifted,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    id: Uuid,
    placed: Option<(ErasureSubject, UserId)>,
    lifted: bool,
}

impl LegalHold {
    pub fn subject(&self) -> Option<ErasureSubject> {
        self.placed.map(|(s, _)| s)
    }

    /// Placed and not lifted.
    pub fn stands(&self) -> bool {
        self.placed.is_some() && !self.lifted
    }
}

impl crate::Aggregate for LegalHold {
    type Id = Uuid;
    type Event = LegalHoldEvent;

    fn new(id: Uuid) -> Self {
        Self {
            id,
            placed: None,
            lifted: false,
        }
    }

    fn stream(id: Uuid) -> StreamName {
        StreamName::new(LEGAL_HOLD_CATEGORY, id).expect("\"legal_hold\" is a valid category")
    }

    fn apply(&mut self, event: &LegalHoldEvent) {
        match event {
            LegalHoldEvent::LegalHoldPlaced(e) => self.placed = Some((e.subject, e.by)),
            LegalHoldEvent::LegalHoldLifted(_) => self.lifted = true,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HoldError {
    #[error("this legal hold exists already")]
    Exists,
    #[error("there is no such legal hold")]
    NotFound,
    #[error("the legal hold was lifted already")]
    AlreadyLifted,
    #[error("a legal hold is lifted by another administrator than the one who placed it")]
    SamePerson,
}

/// An administrator places a hold (the caller checked the role).
pub fn place(
    state: &LegalHold,
    by: UserId,
    subject: ErasureSubject,
    reason: Sealed,
) -> Result<Vec<LegalHoldEvent>, HoldError> {
    if state.placed.is_some() {
        return Err(HoldError::Exists);
    }
    Ok(vec![
        LegalHoldPlaced {
            subject,
            by,
            reason,
        }
        .into(),
    ])
}

/// Another administrator lifts it.
pub fn lift(state: &LegalHold, by: UserId) -> Result<Vec<LegalHoldEvent>, HoldError> {
    let (_, placed_by) = state.placed.ok_or(HoldError::NotFound)?;
    if state.lifted {
        return Err(HoldError::AlreadyLifted);
    }
    if placed_by == by {
        return Err(HoldError::SamePerson);
    }
    Ok(vec![LegalHoldLifted { by }.into()])
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("a legal hold stands on this {0}: it cannot be erased until an administrator lifts it")]
pub struct UnderLegalHold(pub &'static str);

/// Whether an erasure may go ahead, given the holds that name its subject (or, for a
/// person, any of their records).
pub fn may_erase(subject: ErasureSubject, holds: &[LegalHold]) -> Result<(), UnderLegalHold> {
    if holds.iter().any(LegalHold::stands) {
        return Err(UnderLegalHold(match subject {
            ErasureSubject::User(_) => "person or one of their records",
            ErasureSubject::Record(_) => "record",
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;
    use crate::record::RecordId;

    const ADA: UserId = UserId::from_uuid(Uuid::from_u128(1));
    const BEN: UserId = UserId::from_uuid(Uuid::from_u128(2));

    fn subject() -> ErasureSubject {
        ErasureSubject::Record(RecordId::from_uuid(Uuid::from_u128(9)))
    }

    fn given(events: &[LegalHoldEvent]) -> LegalHold {
        let mut state = LegalHold::new(Uuid::from_u128(5));
        for e in events {
            state.apply(e);
        }
        state
    }

    fn placed() -> LegalHoldEvent {
        LegalHoldPlaced {
            subject: subject(),
            by: ADA,
            reason: crate::samples::sealed("litigation"),
        }
        .into()
    }

    #[test]
    fn a_hold_blocks_erasure_until_another_admin_lifts_it() {
        let reason = crate::samples::sealed("litigation");
        assert_eq!(
            place(&given(&[]), ADA, subject(), reason.clone()),
            Ok(vec![placed()])
        );
        assert_eq!(
            place(&given(&[placed()]), ADA, subject(), reason),
            Err(HoldError::Exists)
        );
        let held = given(&[placed()]);
        assert!(may_erase(subject(), std::slice::from_ref(&held)).is_err());
        assert_eq!(lift(&held, ADA), Err(HoldError::SamePerson));
        let lifted_event: LegalHoldEvent = LegalHoldLifted { by: BEN }.into();
        assert_eq!(lift(&held, BEN), Ok(vec![lifted_event.clone()]));
        let lifted = given(&[placed(), lifted_event]);
        assert_eq!(lift(&lifted, BEN), Err(HoldError::AlreadyLifted));
        assert_eq!(may_erase(subject(), &[lifted]), Ok(()));
        assert_eq!(lift(&given(&[]), BEN), Err(HoldError::NotFound));
        assert_eq!(may_erase(subject(), &[]), Ok(()));
    }
}
