//! Reading a record's content: the decision the content route asks before it sends a
//! byte. Granted or refused, the attempt is recorded (DESIGN.md §6: fail closed): the
//! command layer appends these events first and streams only once they are committed.

use super::access::{Denial, Grant, Viewer, standing_in};
use super::events::{RecordAccessDenied, RecordAccessed, RecordEvent};
use super::state::Record;
use crate::Timestamp;
use crate::emergency::EmergencyStanding;
use serde::{Deserialize, Serialize};

/// How content leaves: inline in the browser (VIEWED) or as a download (DOWNLOADED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReadAction {
    Viewed,
    Downloaded,
}

impl ReadAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadAction::Viewed => "VIEWED",
            ReadAction::Downloaded => "DOWNLOADED",
        }
    }
}

/// What to record, and whether to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadDecision {
    pub events: Vec<RecordEvent>,
    /// `Ok(grant)`: send, under that grant.
    pub outcome: Result<Grant, Denial>,
}

/// What the rules take about the reader besides the record: their standing towards its
/// owner from their own emergency stream, and their proxy grant from the owner's proxies
/// stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderFacts {
    pub emergency: EmergencyStanding,
    pub proxy: Option<(uuid::Uuid, crate::proxy::ProxyScope)>,
}

impl ReaderFacts {
    /// Neither: the reader acts only as themself.
    pub const NONE: ReaderFacts = ReaderFacts {
        emergency: EmergencyStanding::Never,
        proxy: None,
    };
}

pub fn read_content(
    state: &Record,
    by: Viewer,
    action: ReadAction,
    now: Timestamp,
    reader: ReaderFacts,
) -> ReadDecision {
    let emergency = reader.emergency;
    let ended = emergency == EmergencyStanding::Ended;
    let Some(standing) = standing_in(state, by, now, emergency.open(), ended, reader.proxy) else {
        // No stream to record it on, and nothing to protect.
        return ReadDecision {
            events: Vec::new(),
            outcome: Err(Denial::NotFound),
        };
    };
    let outcome = standing.read_content(state.is_erased());
    let event = match outcome {
        Ok(grant) => RecordAccessed {
            action,
            share: grant.share(),
            emergency: grant.emergency(),
            link: grant.link(),
            proxy: grant.proxy(),
        }
        .into(),
        Err(denial) => RecordAccessDenied {
            action,
            reason: denial.reason(),
        }
        .into(),
    };
    ReadDecision {
        events: vec![event],
        outcome,
    }
}

/// Reading content through a share link: the same record of the attempt, with no
/// account as its actor. `reads`: what the link's stream says of the grant
/// (`ShareLink::reads`).
pub fn read_via_link(
    state: &Record,
    link: crate::link::LinkId,
    reads: Result<crate::account::UserId, crate::link::LinkDenial>,
    action: ReadAction,
) -> ReadDecision {
    if state.owner().is_none() {
        return ReadDecision {
            events: Vec::new(),
            outcome: Err(Denial::NotFound),
        };
    }
    let outcome = super::access::read_through_link(state, link, reads);
    let event = match outcome {
        Ok(grant) => RecordAccessed {
            action,
            share: None,
            emergency: None,
            link: grant.link(),
            proxy: None,
        }
        .into(),
        Err(denial) => RecordAccessDenied {
            action,
            reason: denial.reason(),
        }
        .into(),
    };
    ReadDecision {
        events: vec![event],
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::DenialReason;
    use super::super::given::*;
    use super::*;

    fn read(history: &[RecordEvent], by: Viewer, now: i64) -> ReadDecision {
        let mut state = Record::new(RECORD);
        for e in history {
            state.apply(e);
        }
        read_content(
            &state,
            by,
            ReadAction::Downloaded,
            at(now),
            ReaderFacts::NONE,
        )
    }

    fn denied(reason: DenialReason) -> Vec<RecordEvent> {
        vec![
            RecordAccessDenied {
                action: ReadAction::Downloaded,
                reason,
            }
            .into(),
        ]
    }

    #[test]
    fn the_owners_read_is_recorded_before_it_is_sent() {
        let d = read(&[uploaded()], as_patient(PATIENT), 0);
        assert_eq!(d.outcome, Ok(Grant::Owner));
        assert_eq!(
            d.events,
            vec![RecordEvent::from(RecordAccessed {
                action: ReadAction::Downloaded,
                share: None,
                emergency: None,
                link: None,
                proxy: None,
            })]
        );
    }

    #[test]
    fn a_doctors_read_names_the_share_it_was_made_under() {
        let history = [uploaded(), shared(SHARE, DOCTOR, Some(60))];
        let d = read(&history, as_doctor(DOCTOR), 10);
        assert_eq!(d.outcome, Ok(Grant::Share(SHARE)));
    }

    #[test]
    fn an_emergency_read_names_the_emergency_access() {
        let emergency = crate::emergency::EmergencyId::from_uuid(uuid::Uuid::from_u128(0xe1));
        let mut state = Record::new(RECORD);
        state.apply(&uploaded());
        let d = read_content(
            &state,
            as_doctor(DOCTOR),
            ReadAction::Viewed,
            at(1),
            ReaderFacts {
                emergency: EmergencyStanding::Open(emergency),
                proxy: None,
            },
        );
        assert_eq!(d.outcome, Ok(Grant::Emergency(emergency)));
        assert_eq!(
            d.events,
            vec![RecordEvent::from(RecordAccessed {
                action: ReadAction::Viewed,
                share: None,
                emergency: Some(emergency),
                link: None,
                proxy: None,
            })]
        );
        // Once it ended, refused as ended, and the owner sees the attempt.
        let later = read_content(
            &state,
            as_doctor(DOCTOR),
            ReadAction::Viewed,
            at(2),
            ReaderFacts {
                emergency: EmergencyStanding::Ended,
                proxy: None,
            },
        );
        assert_eq!(later.outcome, Err(Denial::EmergencyEnded));
        assert_eq!(
            later.events,
            vec![RecordEvent::from(RecordAccessDenied {
                action: ReadAction::Viewed,
                reason: DenialReason::EmergencyEnded,
            })]
        );
    }

    #[test]
    fn refusals_are_recorded_with_their_reason() {
        let history = [uploaded(), shared(SHARE, DOCTOR, Some(60))];
        let expired = read(&history, as_doctor(DOCTOR), 60);
        assert_eq!(expired.outcome, Err(Denial::Expired));
        assert_eq!(expired.events, denied(DenialReason::ShareExpired));

        let admin = read(&history, as_admin(ADMIN), 0);
        assert_eq!(admin.outcome, Err(Denial::Admin));
        assert_eq!(admin.events, denied(DenialReason::Admin));

        let stranger = read(&history, as_doctor(OTHER_DOCTOR), 0);
        assert_eq!(stranger.outcome, Err(Denial::NotFound));
        assert_eq!(stranger.events, denied(DenialReason::NoShare));

        let gone = read(&[uploaded(), erased()], as_patient(PATIENT), 0);
        assert_eq!(gone.outcome, Err(Denial::Erased));
    }

    #[test]
    fn a_read_through_a_link_is_recorded_with_the_link_and_ended_grants_say_so() {
        use crate::link::{LinkDenial, LinkId};
        let link = LinkId::from_uuid(uuid::Uuid::from_u128(0x11));
        let mut state = Record::new(RECORD);
        state.apply(&uploaded());
        let d = read_via_link(&state, link, Ok(PATIENT), ReadAction::Downloaded);
        assert_eq!(d.outcome, Ok(Grant::Link(link)));
        assert_eq!(
            d.events,
            vec![RecordEvent::from(RecordAccessed {
                action: ReadAction::Downloaded,
                share: None,
                emergency: None,
                link: Some(link),
                proxy: None,
            })]
        );
        // A link made by someone else does not read this patient's record.
        let d = read_via_link(&state, link, Ok(OTHER_PATIENT), ReadAction::Downloaded);
        assert_eq!(d.outcome, Err(Denial::NotFound));
        let d = read_via_link(
            &state,
            link,
            Err(LinkDenial::GrantEnded),
            ReadAction::Viewed,
        );
        assert_eq!(d.outcome, Err(Denial::LinkEnded));
        assert_eq!(
            d.events,
            denied(DenialReason::LinkEnded)
                .into_iter()
                .map(|e| match e {
                    RecordEvent::RecordAccessDenied(e) => RecordAccessDenied {
                        action: ReadAction::Viewed,
                        ..e
                    }
                    .into(),
                    other => other,
                })
                .collect::<Vec<_>>()
        );
        state.apply(&erased());
        let d = read_via_link(&state, link, Ok(PATIENT), ReadAction::Downloaded);
        assert_eq!(d.outcome, Err(Denial::Erased));
    }

    #[test]
    fn a_record_that_does_not_exist_records_nothing() {
        let d = read(&[], as_patient(PATIENT), 0);
        assert_eq!(d.outcome, Err(Denial::NotFound));
        assert!(d.events.is_empty());
    }
}
