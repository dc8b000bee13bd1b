//! A doctor's emergency accesses, folded from their stream: every one ever opened (few:
//! the limits bound them), whether and how it ended, and whether it was reviewed.

use super::EmergencyId;
use super::events::EmergencyEvent;
use crate::account::UserId;
use crate::{StreamName, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emergencies {
    doctor: UserId,
    accesses: Vec<EmergencyAccess>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyAccess {
    pub id: EmergencyId,
    pub patient: UserId,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
    pub ended: Option<EmergencyEnd>,
    pub reviewed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmergencyEnd {
    Closed,
    Expired,
}

/// A doctor's standing towards one patient, as their emergency accesses make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmergencyStanding {
    /// They never opened one for the patient.
    Never,
    Open(EmergencyId),
    /// They held one, and none is open now.
    Ended,
}

impl EmergencyStanding {
    pub fn open(self) -> Option<EmergencyId> {
        match self {
            EmergencyStanding::Open(id) => Some(id),
            _ => None,
        }
    }
}

impl EmergencyAccess {
    /// Lets its doctor read at `now`: not closed, and its time not passed (whether or not
    /// the expiry was recorded yet).
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.ended.is_none() && now < self.expires_at
    }
}

impl crate::Aggregate for Emergencies {
    type Id = UserId;
    type Event = EmergencyEvent;

    fn new(doctor: UserId) -> Self {
        Self {
            doctor,
            accesses: Vec::new(),
        }
    }

    fn stream(doctor: UserId) -> StreamName {
        StreamName::new(super::EMERGENCY_CATEGORY, doctor.as_uuid())
            .expect("\"emergency\" is a valid stream category")
    }

    fn apply(&mut self, event: &EmergencyEvent) {
        Emergencies::apply(self, event)
    }

    fn weight(&self) -> usize {
        1 + self.accesses.len() / 8
    }
}

impl Emergencies {
    pub fn doctor(&self) -> UserId {
        self.doctor
    }

    pub fn accesses(&self) -> &[EmergencyAccess] {
        &self.accesses
    }

    pub fn get(&self, id: EmergencyId) -> Option<&EmergencyAccess> {
        self.accesses.iter().find(|a| a.id == id)
    }

    /// The doctor's open access to `patient` at `now`, if any: the fact the access rules
    /// take.
    pub fn open_for(&self, patient: UserId, now: Timestamp) -> Option<EmergencyId> {
        self.accesses
            .iter()
            .find(|a| a.patient == patient && a.is_open(now))
            .map(|a| a.id)
    }

    /// The doctor's standing towards `patient` at `now`.
    pub fn standing(&self, patient: UserId, now: Timestamp) -> EmergencyStanding {
        match self.open_for(patient, now) {
            Some(id) => EmergencyStanding::Open(id),
            None if self.accesses.iter().any(|a| a.patient == patient) => EmergencyStanding::Ended,
            None => EmergencyStanding::Never,
        }
    }

    pub fn open_count(&self, now: Timestamp) -> usize {
        self.accesses.iter().filter(|a| a.is_open(now)).count()
    }

    /// How many were opened in the 24 hours before `now`.
    pub fn opened_within_a_day(&self, now: Timestamp) -> usize {
        let since = now.plus_micros(-DAY_MICROS);
        self.accesses.iter().filter(|a| a.opened_at > since).count()
    }

    pub fn apply(&mut self, event: &EmergencyEvent) {
        match event {
            EmergencyEvent::EmergencyAccessOpened(e) => self.accesses.push(EmergencyAccess {
                id: e.access,
                patient: e.patient,
                opened_at: e.opened_at,
                expires_at: e.expires_at,
                ended: None,
                reviewed: false,
            }),
            EmergencyEvent::EmergencyAccessClosed(e) => self.end(e.access, EmergencyEnd::Closed),
            EmergencyEvent::EmergencyAccessExpired(e) => self.end(e.access, EmergencyEnd::Expired),
            EmergencyEvent::EmergencyAccessReviewed(e) => {
                if let Some(a) = self.accesses.iter_mut().find(|a| a.id == e.access) {
                    a.reviewed = true;
                }
            }
        }
    }

    fn end(&mut self, id: EmergencyId, how: EmergencyEnd) {
        if let Some(a) = self.accesses.iter_mut().find(|a| a.id == id) {
            a.ended.get_or_insert(how);
        }
    }
}

const DAY_MICROS: i64 = 24 * 3_600_000_000;
