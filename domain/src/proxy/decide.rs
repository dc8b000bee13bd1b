//! The decisions about proxy grants. Only the patient invites, and only to records of
//! their own that are not erased (or all of them, present and future); the grant waits
//! for a signed-in account to redeem the mailed token within 7 days; only the patient
//! revokes. Nobody becomes their own proxy.

use super::events::{ProxyAccepted, ProxyEvent, ProxyInvited, ProxyRevoked, ProxyScope};
use super::state::Proxies;
use crate::account::Role;
use crate::link::LinkedRecord;
use crate::record::Viewer;
use crate::{Sealed, Timestamp};
use uuid::Uuid;

/// How long an invitation waits to be redeemed.
pub const INVITATION_MICROS: i64 = 7 * 24 * 3_600_000_000;

pub struct InviteProxy {
    pub by: Viewer,
    pub grant: Uuid,
    pub email: Sealed,
    pub scope: ProxyScope,
    /// `None`: all the patient's records; else the chosen ones, as their streams say.
    pub records: Option<Vec<LinkedRecord>>,
    pub expires_at: Option<Timestamp>,
    pub now: Timestamp,
}

pub struct AcceptProxy {
    pub by: Viewer,
    pub grant: Uuid,
    pub now: Timestamp,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error("only a patient grants proxy access to their records")]
    NotThePatient,
    #[error("choose at least one record, or all of them")]
    NoRecords,
    #[error("there is no such record")]
    NoSuchRecord,
    #[error("the expiry must be in the future")]
    ExpiryPassed,
    #[error("the invitation is unknown, used or expired")]
    Invitation,
    #[error("you cannot be your own proxy")]
    Yourself,
    #[error("there is no such proxy grant")]
    NotFound,
}

pub fn invite(state: &Proxies, cmd: InviteProxy) -> Result<Vec<ProxyEvent>, ProxyError> {
    if cmd.by.role != Role::Patient || cmd.by.id != state.patient() {
        return Err(ProxyError::NotThePatient);
    }
    if cmd.expires_at.is_some_and(|at| at <= cmd.now) {
        return Err(ProxyError::ExpiryPassed);
    }
    let records = match cmd.records {
        None => None,
        Some(chosen) if chosen.is_empty() => return Err(ProxyError::NoRecords),
        Some(chosen) => {
            if chosen
                .iter()
                .any(|r| r.owner != Some(cmd.by.id) || r.erased)
            {
                return Err(ProxyError::NoSuchRecord);
            }
            Some(chosen.iter().map(|r| r.id).collect())
        }
    };
    Ok(vec![
        ProxyInvited {
            grant: cmd.grant,
            email: cmd.email,
            scope: cmd.scope,
            records,
            expires_at: cmd.expires_at,
            invitation_expires_at: cmd.now.plus_micros(INVITATION_MICROS),
        }
        .into(),
    ])
}

pub fn accept(state: &Proxies, cmd: AcceptProxy) -> Result<Vec<ProxyEvent>, ProxyError> {
    let grant = state.grant(cmd.grant).ok_or(ProxyError::Invitation)?;
    if grant.proxy.is_some() || grant.revoked || cmd.now >= grant.invitation_expires_at {
        return Err(ProxyError::Invitation);
    }
    if cmd.by.id == state.patient() {
        return Err(ProxyError::Yourself);
    }
    Ok(vec![
        ProxyAccepted {
            grant: cmd.grant,
            proxy: cmd.by.id,
        }
        .into(),
    ])
}

/// The patient ends a grant (or an invitation) at once; a second time decides nothing.
pub fn revoke(state: &Proxies, by: Viewer, grant: Uuid) -> Result<Vec<ProxyEvent>, ProxyError> {
    if by.id != state.patient() {
        return Err(ProxyError::NotFound);
    }
    let found = state.grant(grant).ok_or(ProxyError::NotFound)?;
    if found.revoked {
        return Ok(Vec::new());
    }
    Ok(vec![ProxyRevoked { grant }.into()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate as _;
    use crate::account::UserId;
    use crate::samples::{DOCTOR, OTHER_PATIENT, PATIENT, RECORD, at, sealed};

    const GRANT: Uuid = Uuid::from_u128(0x9a);

    fn patient() -> Viewer {
        Viewer {
            id: PATIENT,
            role: Role::Patient,
        }
    }
    fn parent() -> Viewer {
        Viewer {
            id: OTHER_PATIENT,
            role: Role::Patient,
        }
    }
    fn asks(
        scope: ProxyScope,
        records: Option<Vec<LinkedRecord>>,
        expires: Option<i64>,
    ) -> InviteProxy {
        InviteProxy {
            by: patient(),
            grant: GRANT,
            email: sealed("parent@example.org"),
            scope,
            records,
            expires_at: expires.map(at),
            now: at(0),
        }
    }
    fn mine() -> LinkedRecord {
        LinkedRecord {
            id: RECORD,
            owner: Some(PATIENT),
            erased: false,
        }
    }
    fn given(history: Vec<ProxyEvent>) -> Proxies {
        let mut state = Proxies::new(PATIENT);
        for e in &history {
            state.apply(e);
        }
        state
    }
    fn accepted(by: UserId) -> ProxyEvent {
        ProxyAccepted {
            grant: GRANT,
            proxy: by,
        }
        .into()
    }

    #[test]
    fn a_grant_takes_effect_only_once_an_account_redeems_the_invitation() {
        let invited = invite(&given(vec![]), asks(ProxyScope::Read, None, Some(600))).unwrap();
        let waiting = given(invited.clone());
        assert_eq!(
            waiting.standing_of(OTHER_PATIENT, Some(RECORD), at(1)),
            None
        );
        let events = accept(
            &waiting,
            AcceptProxy {
                by: parent(),
                grant: GRANT,
                now: at(1),
            },
        )
        .unwrap();
        assert_eq!(events, vec![accepted(OTHER_PATIENT)]);
        let mut history = invited;
        history.extend(events);
        let live = given(history);
        assert_eq!(
            live.standing_of(OTHER_PATIENT, Some(RECORD), at(2)),
            Some((GRANT, ProxyScope::Read))
        );
        assert_eq!(
            live.standing_of(OTHER_PATIENT, Some(RECORD), at(600)),
            None,
            "expired"
        );
        // Used once: nobody redeems it again.
        let again = AcceptProxy {
            by: Viewer {
                id: DOCTOR,
                role: Role::Doctor,
            },
            grant: GRANT,
            now: at(3),
        };
        assert_eq!(accept(&live, again), Err(ProxyError::Invitation));
    }

    #[test]
    fn an_invitation_expires_after_seven_days_and_nobody_is_their_own_proxy() {
        let waiting = given(invite(&given(vec![]), asks(ProxyScope::Manage, None, None)).unwrap());
        let late = AcceptProxy {
            by: parent(),
            grant: GRANT,
            now: at(7 * 24 * 60),
        };
        assert_eq!(accept(&waiting, late), Err(ProxyError::Invitation));
        let me = AcceptProxy {
            by: patient(),
            grant: GRANT,
            now: at(1),
        };
        assert_eq!(accept(&waiting, me), Err(ProxyError::Yourself));
    }

    #[test]
    fn chosen_records_bound_it_and_only_the_patient_grants_or_revokes() {
        let chosen = invite(
            &given(vec![]),
            asks(ProxyScope::Read, Some(vec![mine()]), None),
        )
        .unwrap();
        let mut history = chosen;
        history.push(accepted(OTHER_PATIENT));
        let state = given(history.clone());
        let other = crate::record::RecordId::from_uuid(Uuid::from_u128(7));
        assert!(
            state
                .standing_of(OTHER_PATIENT, Some(RECORD), at(1))
                .is_some()
        );
        assert_eq!(state.standing_of(OTHER_PATIENT, Some(other), at(1)), None);
        let not_mine = LinkedRecord {
            owner: Some(OTHER_PATIENT),
            ..mine()
        };
        assert_eq!(
            invite(
                &given(vec![]),
                asks(ProxyScope::Read, Some(vec![not_mine]), None)
            ),
            Err(ProxyError::NoSuchRecord)
        );
        assert_eq!(
            invite(
                &given(vec![]),
                InviteProxy {
                    by: parent(),
                    ..asks(ProxyScope::Read, None, None)
                }
            ),
            Err(ProxyError::NotThePatient)
        );
        assert_eq!(revoke(&state, parent(), GRANT), Err(ProxyError::NotFound));
        let revoked = revoke(&state, patient(), GRANT).unwrap();
        history.extend(revoked);
        let state = given(history);
        assert_eq!(state.standing_of(OTHER_PATIENT, Some(RECORD), at(1)), None);
        assert_eq!(revoke(&state, patient(), GRANT), Ok(vec![]));
    }
}
