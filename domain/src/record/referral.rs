//! Referrals: a doctor who holds a live share of a record asks its owner to let another
//! ACTIVE doctor read it, with a note (sealed under the record's data key). The owner
//! approves or declines; an approval shares the record with the second doctor until the
//! referring doctor's own share ends (the same expiry), so a referral never reaches
//! further in time than the patient's first consent did.

use super::access::{Access, Viewer, standing, standing_in};
use super::events::{RecordEvent, RecordShared, ReferralDecided, ReferralRequested};
use super::state::{Record, ReferralStatus};
use super::{ReferralId, ShareId};
use crate::account::Recipient;
use crate::{Sealed, Timestamp};

pub struct Refer {
    pub by: Viewer,
    pub referral: ReferralId,
    /// The doctor it would go to, as their own stream says they are.
    pub to: Recipient,
    pub note: Option<Sealed>,
    pub now: Timestamp,
}

pub struct DecideReferral {
    pub by: Viewer,
    pub referral: ReferralId,
    pub approve: bool,
    /// The id of the share an approval makes.
    pub share: ShareId,
    /// The doctor it goes to, as their stream says they are now.
    pub to: Recipient,
    pub now: Timestamp,
    /// The decider's proxy grant from the owner, if they act for them.
    pub proxy: Option<(uuid::Uuid, crate::proxy::ProxyScope)>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReferralError {
    #[error("there is no such record")]
    NotFound,
    #[error("only a doctor with a live share of the record refers it")]
    NotReferrer,
    #[error("only the record's owner decides its referrals")]
    NotOwner,
    #[error("records are referred to another active doctor only")]
    NotAnActiveDoctor,
    #[error("that doctor can read this record already")]
    AlreadyShared,
    #[error("a referral of this record to that doctor is waiting for the patient already")]
    AlreadyReferred,
    #[error("there is no such referral")]
    NoSuchReferral,
    #[error("this referral was decided already")]
    AlreadyDecided,
    #[error(
        "the referring doctor's share has ended, so there is nothing to extend: share the record directly instead"
    )]
    ReferrerLapsed,
}

pub fn refer(state: &Record, cmd: Refer) -> Result<Vec<RecordEvent>, ReferralError> {
    match standing(state, cmd.by, cmd.now, None).ok_or(ReferralError::NotFound)? {
        _ if state.is_erased() => return Err(ReferralError::NotFound),
        Access::Shared(_) => {}
        Access::Owner
        | Access::Oversight
        | Access::Emergency(_)
        | Access::Proxy(..)
        | Access::Lapsed(_)
        | Access::EmergencyEnded => {
            return Err(ReferralError::NotReferrer);
        }
        Access::Stranger => return Err(ReferralError::NotFound),
    }
    let to = cmd.to;
    if !to.may_receive_shares() || to.id == cmd.by.id || state.owner() == Some(to.id) {
        return Err(ReferralError::NotAnActiveDoctor);
    }
    if state
        .shares()
        .iter()
        .any(|s| s.doctor == to.id && s.is_live(cmd.now))
    {
        return Err(ReferralError::AlreadyShared);
    }
    if state
        .referrals()
        .iter()
        .any(|r| r.to == to.id && r.status == ReferralStatus::Pending)
    {
        return Err(ReferralError::AlreadyReferred);
    }
    Ok(vec![
        ReferralRequested {
            referral: cmd.referral,
            from: cmd.by.id,
            to: to.id,
            note: cmd.note,
        }
        .into(),
    ])
}

pub fn decide_referral(
    state: &Record,
    cmd: DecideReferral,
) -> Result<Vec<RecordEvent>, ReferralError> {
    let standing = standing_in(state, cmd.by, cmd.now, None, false, cmd.proxy)
        .ok_or(ReferralError::NotFound)?;
    match standing {
        _ if state.is_erased() => return Err(ReferralError::NotFound),
        // The owner, or a MANAGE proxy for them.
        _ if standing.manages() => {}
        Access::Owner
        | Access::Shared(_)
        | Access::Oversight
        | Access::Emergency(_)
        | Access::Proxy(..) => {
            return Err(ReferralError::NotOwner);
        }
        Access::Lapsed(_) | Access::EmergencyEnded | Access::Stranger => {
            return Err(ReferralError::NotFound);
        }
    }
    let referral = state
        .referral(cmd.referral)
        .ok_or(ReferralError::NoSuchReferral)?;
    if referral.status != ReferralStatus::Pending {
        return Err(ReferralError::AlreadyDecided);
    }
    let decided = ReferralDecided {
        referral: cmd.referral,
        from: referral.from,
        to: referral.to,
        approved: cmd.approve,
    };
    if !cmd.approve {
        return Ok(vec![decided.into()]);
    }
    let Some(first) = state
        .shares()
        .iter()
        .find(|s| s.doctor == referral.from && s.is_live(cmd.now))
    else {
        return Err(ReferralError::ReferrerLapsed);
    };
    if cmd.to.id != referral.to || !cmd.to.may_receive_shares() {
        return Err(ReferralError::NotAnActiveDoctor);
    }
    let already = state
        .shares()
        .iter()
        .any(|s| s.doctor == referral.to && s.is_live(cmd.now));
    if already {
        // Shared with them meanwhile: approved, and nothing more to grant.
        return Ok(vec![decided.into()]);
    }
    Ok(vec![
        decided.into(),
        RecordShared {
            share: cmd.share,
            doctor: referral.to,
            expires_at: first.expires_at,
            referral: Some(cmd.referral),
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::given::*;
    use super::*;
    use crate::account::{AccountStatus, Role, UserId};
    use uuid::Uuid;

    const REFERRAL: ReferralId = ReferralId::from_uuid(Uuid::from_u128(0x4ef));
    const NEW_SHARE: ShareId = ShareId::from_uuid(Uuid::from_u128(0x5a3));

    fn doctor(id: UserId) -> Recipient {
        Recipient {
            id,
            role: Some(Role::Doctor),
            status: Some(AccountStatus::Active),
        }
    }

    fn asks(to: UserId, now: i64) -> Refer {
        Refer {
            by: as_doctor(DOCTOR),
            referral: REFERRAL,
            to: doctor(to),
            note: Some(sealed("please see")),
            now: at(now),
        }
    }

    fn requested() -> RecordEvent {
        ReferralRequested {
            referral: REFERRAL,
            from: DOCTOR,
            to: OTHER_DOCTOR,
            note: Some(sealed("please see")),
        }
        .into()
    }

    fn decides(approve: bool, now: i64) -> DecideReferral {
        DecideReferral {
            by: as_patient(PATIENT),
            referral: REFERRAL,
            approve,
            share: NEW_SHARE,
            to: doctor(OTHER_DOCTOR),
            now: at(now),
            proxy: None,
        }
    }

    fn decided(approved: bool) -> RecordEvent {
        ReferralDecided {
            referral: REFERRAL,
            from: DOCTOR,
            to: OTHER_DOCTOR,
            approved,
        }
        .into()
    }

    #[test]
    fn a_doctor_with_a_live_share_refers_to_another_active_doctor() {
        given([uploaded(), shared(SHARE, DOCTOR, Some(60))])
            .when(|s| refer(s, asks(OTHER_DOCTOR, 1)))
            .then([requested()]);
    }

    #[test]
    fn nobody_else_refers_and_only_to_an_active_doctor_once() {
        let history = [uploaded(), shared(SHARE, DOCTOR, Some(60))];
        given(history.clone())
            .when(|s| refer(s, asks(OTHER_DOCTOR, 60)))
            .refused(ReferralError::NotReferrer);
        given(history.clone())
            .when(|s| {
                refer(
                    s,
                    Refer {
                        by: as_patient(PATIENT),
                        ..asks(OTHER_DOCTOR, 1)
                    },
                )
            })
            .refused(ReferralError::NotReferrer);
        given(history.clone())
            .when(|s| {
                refer(
                    s,
                    Refer {
                        by: as_doctor(OTHER_DOCTOR),
                        ..asks(DOCTOR, 1)
                    },
                )
            })
            .refused(ReferralError::NotFound);
        given(history.clone())
            .when(|s| refer(s, asks(DOCTOR, 1)))
            .refused(ReferralError::NotAnActiveDoctor);
        given(history.clone())
            .when(|s| {
                refer(
                    s,
                    Refer {
                        to: Recipient {
                            status: Some(AccountStatus::Suspended),
                            ..doctor(OTHER_DOCTOR)
                        },
                        ..asks(OTHER_DOCTOR, 1)
                    },
                )
            })
            .refused(ReferralError::NotAnActiveDoctor);
        let mut pending = history.to_vec();
        pending.push(requested());
        given(pending)
            .when(|s| refer(s, asks(OTHER_DOCTOR, 2)))
            .refused(ReferralError::AlreadyReferred);
        given([
            uploaded(),
            shared(SHARE, DOCTOR, None),
            shared(OTHER_SHARE, OTHER_DOCTOR, None),
        ])
        .when(|s| refer(s, asks(OTHER_DOCTOR, 2)))
        .refused(ReferralError::AlreadyShared);
    }

    #[test]
    fn approval_shares_until_the_referring_doctors_share_ends() {
        let state = given([uploaded(), shared(SHARE, DOCTOR, Some(60)), requested()])
            .when(|s| decide_referral(s, decides(true, 5)))
            .then([
                decided(true),
                RecordShared {
                    share: NEW_SHARE,
                    doctor: OTHER_DOCTOR,
                    expires_at: Some(at(60)),
                    referral: Some(REFERRAL),
                }
                .into(),
            ]);
        assert_eq!(
            state.referral(REFERRAL).map(|r| r.status),
            Some(ReferralStatus::Approved)
        );
    }

    #[test]
    fn a_manage_proxy_decides_for_the_owner_and_a_read_proxy_does_not() {
        use crate::proxy::ProxyScope;
        let history = [uploaded(), shared(SHARE, DOCTOR, Some(60)), requested()];
        let by_proxy = |scope| DecideReferral {
            by: as_patient(OTHER_PATIENT),
            proxy: Some((Uuid::from_u128(0x9a), scope)),
            ..decides(false, 5)
        };
        given(history.clone())
            .when(|s| decide_referral(s, by_proxy(ProxyScope::Manage)))
            .then([decided(false)]);
        given(history)
            .when(|s| decide_referral(s, by_proxy(ProxyScope::Read)))
            .refused(ReferralError::NotOwner);
    }

    #[test]
    fn a_decline_grants_nothing_and_each_is_decided_once_by_the_owner() {
        let history = [uploaded(), shared(SHARE, DOCTOR, Some(60)), requested()];
        given(history.clone())
            .when(|s| decide_referral(s, decides(false, 5)))
            .then([decided(false)]);
        let mut done = history.to_vec();
        done.push(decided(false));
        given(done)
            .when(|s| decide_referral(s, decides(true, 6)))
            .refused(ReferralError::AlreadyDecided);
        given(history.clone())
            .when(|s| {
                decide_referral(
                    s,
                    DecideReferral {
                        by: as_doctor(DOCTOR),
                        ..decides(true, 5)
                    },
                )
            })
            .refused(ReferralError::NotOwner);
        // The referring doctor's share ran out: nothing to extend.
        given(history)
            .when(|s| decide_referral(s, decides(true, 60)))
            .refused(ReferralError::ReferrerLapsed);
    }
}
