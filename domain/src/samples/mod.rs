//! Sample events for tests, here and in other crates (feature `test-support`): one story
//! in which every event type of every aggregate happens, on the streams and by the people
//! it would on a real ledger, so that applying the samples in order to a projector makes
//! sense (nothing is approved before it is registered, nothing read before it is shared).
//! Also the cast and fixtures the domain's own stories share (`cast`).
//!
//! A new event type fails `every_type_of_each_aggregate_has_a_sample` until the story
//! gets one: projector tests built on the samples then see it too.

mod cast;
mod story;

pub use cast::{
    ADMIN, DOCTOR, OTHER_ADMIN, OTHER_DOCTOR, OTHER_PATIENT, OTHER_SHARE, PATIENT, RECORD, SHARE,
    SPECIALIST, at, erased, registered, registered_with, sealed, session, shared, uploaded,
};
pub use story::{
    CHANGE, DOCTOR_SESSION, EMERGENCY, LINK, LINK_GRANT, OTHER_EMERGENCY, OTHER_SHARE_ENDS,
    PATIENT_SESSION, PROXY_GRANT, REFERRAL, REFERRED_SHARE, story,
};

use crate::Aggregate as _;
use crate::account::{UserEvent, UserId};
use crate::emergency::{Emergencies, EmergencyEvent};
use crate::erasure::{
    EpochNumber, ErasureCompletion, ErasureEvent, ErasureSubject, KeyEpoch, KeyEpochEvent,
    LegalHold, LegalHoldEvent,
};
use crate::record::{RecordEvent, RecordId};
use crate::{StreamName, Timestamp};
use serde_json::Value;
use uuid::Uuid;

/// One step of the story: what happened, on which stream, when, and who did it (`None`:
/// the system, or someone not signed in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub at: Timestamp,
    pub actor: Option<UserId>,
    pub event: Event,
}

/// An event of any aggregate, with the id of the stream it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    User(UserId, UserEvent),
    Record(RecordId, RecordEvent),
    KeyEpoch(EpochNumber, KeyEpochEvent),
    Erasure(ErasureSubject, ErasureEvent),
    LegalHold(Uuid, LegalHoldEvent),
    /// On the doctor's stream.
    Emergency(UserId, EmergencyEvent),
    Link(crate::link::LinkId, crate::link::ShareLinkEvent),
    /// On the patient's proxies stream.
    Proxy(UserId, crate::proxy::ProxyEvent),
}

impl Sample {
    pub fn stream(&self) -> StreamName {
        match &self.event {
            Event::User(id, _) => id.stream(),
            Event::Record(id, _) => id.stream(),
            Event::KeyEpoch(n, _) => KeyEpoch::stream(*n),
            Event::Erasure(subject, _) => ErasureCompletion::stream(*subject),
            Event::LegalHold(id, _) => LegalHold::stream(*id),
            Event::Emergency(doctor, _) => Emergencies::stream(*doctor),
            Event::Link(id, _) => crate::link::ShareLink::stream(*id),
            Event::Proxy(patient, _) => crate::proxy::Proxies::stream(*patient),
        }
    }

    pub fn event_type(&self) -> &'static str {
        match &self.event {
            Event::User(_, e) => e.event_type(),
            Event::Record(_, e) => e.event_type(),
            Event::KeyEpoch(_, e) => e.event_type(),
            Event::Erasure(_, e) => e.event_type(),
            Event::LegalHold(_, e) => e.event_type(),
            Event::Emergency(_, e) => e.event_type(),
            Event::Link(_, e) => e.event_type(),
            Event::Proxy(_, e) => e.event_type(),
        }
    }

    pub fn payload(&self) -> Value {
        match &self.event {
            Event::User(_, e) => e.payload(),
            Event::Record(_, e) => e.payload(),
            Event::KeyEpoch(_, e) => e.payload(),
            Event::Erasure(_, e) => e.payload(),
            Event::LegalHold(_, e) => e.payload(),
            Event::Emergency(_, e) => e.payload(),
            Event::Link(_, e) => e.payload(),
            Event::Proxy(_, e) => e.payload(),
        }
    }
}

/// The story's user events, in its order (several people's streams).
pub fn user_events() -> Vec<UserEvent> {
    story()
        .into_iter()
        .filter_map(|s| match s.event {
            Event::User(_, e) => Some(e),
            _ => None,
        })
        .collect()
}

/// The story's record events, in its order (one record's stream).
pub fn record_events() -> Vec<RecordEvent> {
    story()
        .into_iter()
        .filter_map(|s| match s.event {
            Event::Record(_, e) => Some(e),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod coherence;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn missing(types: &[&'static str], samples: &[&'static str]) -> Vec<&'static str> {
        let have: BTreeSet<_> = samples.iter().copied().collect();
        types
            .iter()
            .copied()
            .filter(|t| !have.contains(t))
            .collect()
    }

    #[test]
    fn every_type_of_each_aggregate_has_a_sample() {
        let users: Vec<_> = user_events().iter().map(UserEvent::event_type).collect();
        let records: Vec<_> = record_events()
            .iter()
            .map(RecordEvent::event_type)
            .collect();

        assert_eq!(missing(UserEvent::TYPES, &users), Vec::<&str>::new());
        assert_eq!(missing(RecordEvent::TYPES, &records), Vec::<&str>::new());
        let all: BTreeSet<_> = story().iter().map(Sample::event_type).collect();
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            crate::domain_event::all_event_types(),
            "the story has an event type no aggregate declares, or lacks one"
        );
    }
}
