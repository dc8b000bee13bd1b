//! The decisions about emergency access. Opening one needs an ACTIVE doctor whose session
//! proved a second factor or a passkey (a stolen password alone must not open a
//! patient's whole file), a reason, a patient who exists, and room under the limits: at
//! most `max_open` open at once and `max_per_day` opened in any 24 hours. Closing is the
//! doctor's; expiry is recorded once its time passed; review is an administrator's, once.

use super::events::{
    EmergencyAccessClosed, EmergencyAccessExpired, EmergencyAccessOpened, EmergencyAccessReviewed,
    EmergencyEvent,
};
use super::{Emergencies, EmergencyId};
use crate::account::{AccountStatus, Recipient, Role};
use crate::record::Viewer;
use crate::{Sealed, Timestamp};

/// How many a doctor may hold and open (`MEDCHAIN_EMERGENCY_MAX_OPEN`, `..._PER_DAY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmergencyLimits {
    pub max_open: usize,
    pub max_per_day: usize,
}

impl Default for EmergencyLimits {
    fn default() -> Self {
        Self {
            max_open: 3,
            max_per_day: 5,
        }
    }
}

pub struct OpenEmergency {
    pub by: Viewer,
    /// The doctor's own account is ACTIVE, as their stream says.
    pub by_active: bool,
    /// The session asking proved a second factor or a passkey.
    pub session_proved: bool,
    /// The patient, as their own stream says they are.
    pub patient: Recipient,
    pub access: EmergencyId,
    pub reason: Sealed,
    pub now: Timestamp,
    pub ttl_micros: i64,
    pub limits: EmergencyLimits,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EmergencyError {
    #[error("only active doctors open emergency access")]
    NotADoctor,
    #[error("emergency access needs a session signed in with a second factor or a passkey")]
    SecondFactorRequired,
    #[error("there is no such patient")]
    NoSuchPatient,
    #[error("you already hold an open emergency access to this patient")]
    AlreadyOpen,
    #[error("you hold {0} open emergency accesses, the most allowed: close one first")]
    TooManyOpen(usize),
    #[error("you opened {0} emergency accesses in the last 24 hours, the most allowed")]
    TooManyToday(usize),
    #[error("there is no such emergency access")]
    NotFound,
    #[error("only administrators review emergency access")]
    NotAnAdmin,
    #[error("this emergency access was reviewed already")]
    AlreadyReviewed,
}

pub fn open(
    state: &Emergencies,
    cmd: OpenEmergency,
) -> Result<Vec<EmergencyEvent>, EmergencyError> {
    if cmd.by.role != Role::Doctor || !cmd.by_active || cmd.by.id != state.doctor() {
        return Err(EmergencyError::NotADoctor);
    }
    if !cmd.session_proved {
        return Err(EmergencyError::SecondFactorRequired);
    }
    let patient_exists = cmd.patient.role == Some(Role::Patient)
        && matches!(
            cmd.patient.status,
            Some(AccountStatus::Active | AccountStatus::Suspended)
        );
    if !patient_exists {
        return Err(EmergencyError::NoSuchPatient);
    }
    if state.open_for(cmd.patient.id, cmd.now).is_some() {
        return Err(EmergencyError::AlreadyOpen);
    }
    let open = state.open_count(cmd.now);
    if open >= cmd.limits.max_open {
        return Err(EmergencyError::TooManyOpen(open));
    }
    let today = state.opened_within_a_day(cmd.now);
    if today >= cmd.limits.max_per_day {
        return Err(EmergencyError::TooManyToday(today));
    }
    Ok(vec![
        EmergencyAccessOpened {
            access: cmd.access,
            patient: cmd.patient.id,
            reason: cmd.reason,
            opened_at: cmd.now,
            expires_at: cmd.now.plus_micros(cmd.ttl_micros),
        }
        .into(),
    ])
}

/// The doctor ends it early; one that ended already (or whose time passed) decides
/// nothing. Another doctor's is not found.
pub fn close(
    state: &Emergencies,
    by: Viewer,
    access: EmergencyId,
    now: Timestamp,
) -> Result<Vec<EmergencyEvent>, EmergencyError> {
    let found = state.get(access).ok_or(EmergencyError::NotFound)?;
    if by.id != state.doctor() {
        return Err(EmergencyError::NotFound);
    }
    if !found.is_open(now) {
        return Ok(Vec::new());
    }
    Ok(vec![EmergencyAccessClosed { access }.into()])
}

/// `EmergencyAccessExpired` once its time passed and nothing ended it first.
pub fn expire(state: &Emergencies, access: EmergencyId, now: Timestamp) -> Vec<EmergencyEvent> {
    match state.get(access) {
        Some(a) if a.ended.is_none() && a.expires_at <= now => {
            vec![EmergencyAccessExpired { access }.into()]
        }
        _ => Vec::new(),
    }
}

pub fn review(
    state: &Emergencies,
    by: Viewer,
    access: EmergencyId,
    justified: bool,
    note: Option<Sealed>,
) -> Result<Vec<EmergencyEvent>, EmergencyError> {
    if by.role != Role::Admin {
        return Err(EmergencyError::NotAnAdmin);
    }
    let found = state.get(access).ok_or(EmergencyError::NotFound)?;
    if found.reviewed {
        return Err(EmergencyError::AlreadyReviewed);
    }
    Ok(vec![
        EmergencyAccessReviewed {
            access,
            patient: found.patient,
            justified,
            note,
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate as _;
    use crate::account::UserId;
    use crate::samples::{ADMIN, DOCTOR, OTHER_DOCTOR, OTHER_PATIENT, PATIENT, at, sealed};
    use uuid::Uuid;

    const HOUR: i64 = 3_600_000_000;
    fn id(n: u128) -> EmergencyId {
        EmergencyId::from_uuid(Uuid::from_u128(0xe000 + n))
    }
    fn doctor() -> Viewer {
        Viewer {
            id: DOCTOR,
            role: Role::Doctor,
        }
    }
    fn patient(who: UserId) -> Recipient {
        Recipient {
            id: who,
            role: Some(Role::Patient),
            status: Some(AccountStatus::Active),
        }
    }
    fn asks(n: u128, who: UserId, minute: i64) -> OpenEmergency {
        OpenEmergency {
            by: doctor(),
            by_active: true,
            session_proved: true,
            patient: patient(who),
            access: id(n),
            reason: sealed("unconscious"),
            now: at(minute),
            ttl_micros: HOUR,
            limits: EmergencyLimits::default(),
        }
    }
    fn opened(n: u128, who: UserId, minute: i64) -> EmergencyEvent {
        EmergencyAccessOpened {
            access: id(n),
            patient: who,
            reason: sealed("unconscious"),
            opened_at: at(minute),
            expires_at: at(minute).plus_micros(HOUR),
        }
        .into()
    }
    fn given(history: impl IntoIterator<Item = EmergencyEvent>) -> Emergencies {
        let mut state = Emergencies::new(DOCTOR);
        for e in history {
            state.apply(&e);
        }
        state
    }
    /// `n` distinct patients (the story's cast has few).
    fn someone(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(0xbeef_0000 + n))
    }

    #[test]
    fn an_active_doctor_with_a_proved_session_opens_it_for_the_ttl() {
        let events = open(&given([]), asks(1, PATIENT, 0)).unwrap();
        assert_eq!(events, vec![opened(1, PATIENT, 0)]);
        let state = given(events);
        assert_eq!(state.open_for(PATIENT, at(59)), Some(id(1)));
        assert_eq!(
            state.open_for(PATIENT, at(60)),
            None,
            "an hour, not a moment more"
        );
        assert_eq!(state.open_for(OTHER_PATIENT, at(1)), None);
    }

    #[test]
    fn a_password_alone_does_not_open_it_nor_does_anyone_but_an_active_doctor() {
        let weak = OpenEmergency {
            session_proved: false,
            ..asks(1, PATIENT, 0)
        };
        assert_eq!(
            open(&given([]), weak),
            Err(EmergencyError::SecondFactorRequired)
        );
        let pending = OpenEmergency {
            by_active: false,
            ..asks(1, PATIENT, 0)
        };
        assert_eq!(open(&given([]), pending), Err(EmergencyError::NotADoctor));
        let a_patient = OpenEmergency {
            by: Viewer {
                id: DOCTOR,
                role: Role::Patient,
            },
            ..asks(1, PATIENT, 0)
        };
        assert_eq!(open(&given([]), a_patient), Err(EmergencyError::NotADoctor));
    }

    #[test]
    fn only_for_a_patient_who_exists() {
        for who in [
            Recipient {
                role: Some(Role::Doctor),
                ..patient(OTHER_DOCTOR)
            },
            Recipient {
                status: Some(AccountStatus::Erased),
                ..patient(OTHER_PATIENT)
            },
            Recipient {
                id: someone(9),
                role: None,
                status: None,
            },
        ] {
            let cmd = OpenEmergency {
                patient: who,
                ..asks(1, PATIENT, 0)
            };
            assert_eq!(open(&given([]), cmd), Err(EmergencyError::NoSuchPatient));
        }
    }

    #[test]
    fn one_open_per_patient_three_at_once_five_a_day() {
        let state = given([opened(1, PATIENT, 0)]);
        assert_eq!(
            open(&state, asks(2, PATIENT, 1)),
            Err(EmergencyError::AlreadyOpen)
        );
        let three = given((1..=3).map(|n| opened(n, someone(n), 0)));
        assert_eq!(
            open(&three, asks(4, someone(4), 1)),
            Err(EmergencyError::TooManyOpen(3))
        );
        // Once they expired there is room again, but not past five in a day.
        let five = given((1..=5).map(|n| opened(n, someone(n), (n as i64 - 1) * 61)));
        assert_eq!(
            open(&five, asks(6, someone(6), 5 * 61)),
            Err(EmergencyError::TooManyToday(5))
        );
        assert!(open(&five, asks(6, someone(6), 24 * 60 + 1)).is_ok());
    }

    #[test]
    fn closing_is_the_doctors_and_ends_reading_at_once() {
        let state = given([opened(1, PATIENT, 0)]);
        let events = close(&state, doctor(), id(1), at(10)).unwrap();
        assert_eq!(events, vec![EmergencyAccessClosed { access: id(1) }.into()]);
        let closed = given([opened(1, PATIENT, 0), events[0].clone()]);
        assert_eq!(closed.open_for(PATIENT, at(11)), None);
        assert_eq!(close(&closed, doctor(), id(1), at(12)), Ok(vec![]));
        let other = Viewer {
            id: OTHER_DOCTOR,
            role: Role::Doctor,
        };
        assert_eq!(
            close(&state, other, id(1), at(10)),
            Err(EmergencyError::NotFound)
        );
    }

    #[test]
    fn expiry_is_recorded_once_after_its_time() {
        let state = given([opened(1, PATIENT, 0)]);
        assert!(expire(&state, id(1), at(59)).is_empty());
        let events = expire(&state, id(1), at(60));
        assert_eq!(
            events,
            vec![EmergencyAccessExpired { access: id(1) }.into()]
        );
        let expired = given([opened(1, PATIENT, 0), events[0].clone()]);
        assert!(expire(&expired, id(1), at(61)).is_empty());
    }

    #[test]
    fn an_administrator_reviews_each_once() {
        let admin = Viewer {
            id: ADMIN,
            role: Role::Admin,
        };
        let state = given([opened(1, PATIENT, 0)]);
        let events = review(&state, admin, id(1), false, Some(sealed("no emergency"))).unwrap();
        assert_eq!(events.len(), 1);
        let reviewed = given([opened(1, PATIENT, 0), events[0].clone()]);
        assert_eq!(
            review(&reviewed, admin, id(1), true, None),
            Err(EmergencyError::AlreadyReviewed)
        );
        assert_eq!(
            review(&state, doctor(), id(1), true, None),
            Err(EmergencyError::NotAnAdmin)
        );
        assert_eq!(
            review(&state, admin, id(9), true, None),
            Err(EmergencyError::NotFound)
        );
    }
}
