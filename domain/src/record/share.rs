//! Sharing a record with a doctor, revoking a share, and recording that a share's time
//! passed. Only the owner shares and revokes; the doctor must be one who may receive
//! shares (`account::Recipient`, folded from the doctor's own stream) and an expiry must lie in the future. One
//! live share per doctor and record: a second is a conflict, not a silent duplicate.

use super::ShareId;
use super::access::{Access, Viewer, standing_in};

/// A proxy's grant and scope, as the owner's proxies stream says.
type Proxy = (uuid::Uuid, crate::proxy::ProxyScope);
use super::events::{RecordEvent, RecordShared, ShareExpired, ShareExpiring, ShareRevoked};
use super::state::Record;
use crate::Timestamp;
use crate::account::Recipient;

pub struct ShareRecord {
    pub by: Viewer,
    pub share: ShareId,
    /// The doctor, as their own stream says they are.
    pub doctor: Recipient,
    pub expires_at: Option<Timestamp>,
    pub now: Timestamp,
    /// The viewer's proxy grant from the owner, if they act for them.
    pub proxy: Option<Proxy>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ShareError {
    #[error("there is no such record")]
    NotFound,
    #[error("only the record's owner may share it or revoke its shares")]
    NotOwner,
    #[error("the record was erased")]
    Erased,
    #[error("records are shared with active doctors only")]
    NotAnActiveDoctor,
    #[error("the expiry must be in the future")]
    ExpiryPassed,
    #[error("the record is already shared with this doctor")]
    AlreadyShared,
    #[error("there is no such share")]
    NoSuchShare,
}

/// The viewer's standing, refused unless they own the record.
/// The owner, or a MANAGE proxy acting for them (`proxy`: the viewer's grant from the
/// owner's proxies stream).
pub(super) fn owner_only(
    state: &Record,
    by: Viewer,
    now: Timestamp,
    proxy: Option<Proxy>,
) -> Result<(), ShareError> {
    let standing = standing_in(state, by, now, None, false, proxy).ok_or(ShareError::NotFound)?;
    match standing {
        _ if standing.manages() && state.is_erased() => Err(ShareError::Erased),
        _ if standing.manages() => Ok(()),
        Access::Owner
        | Access::Shared(_)
        | Access::Emergency(_)
        | Access::Proxy(..)
        | Access::Oversight => Err(ShareError::NotOwner),
        Access::Lapsed(_) | Access::EmergencyEnded | Access::Stranger => Err(ShareError::NotFound),
    }
}

pub fn share(state: &Record, cmd: ShareRecord) -> Result<Vec<RecordEvent>, ShareError> {
    owner_only(state, cmd.by, cmd.now, cmd.proxy)?;
    if !cmd.doctor.may_receive_shares() || cmd.doctor.id == cmd.by.id {
        return Err(ShareError::NotAnActiveDoctor);
    }
    if cmd.expires_at.is_some_and(|at| at <= cmd.now) {
        return Err(ShareError::ExpiryPassed);
    }
    if state
        .shares()
        .iter()
        .any(|s| s.doctor == cmd.doctor.id && s.is_live(cmd.now))
    {
        return Err(ShareError::AlreadyShared);
    }
    Ok(vec![
        RecordShared {
            share: cmd.share,
            doctor: cmd.doctor.id,
            expires_at: cmd.expires_at,
            referral: None,
        }
        .into(),
    ])
}

/// Revoking a share that already ended decides nothing: the doctor cannot read either way.
pub fn revoke(
    state: &Record,
    by: Viewer,
    share: ShareId,
    now: Timestamp,
    proxy: Option<Proxy>,
) -> Result<Vec<RecordEvent>, ShareError> {
    owner_only(state, by, now, proxy)?;
    let found = state.share(share).ok_or(ShareError::NoSuchShare)?;
    if found.ended.is_some() {
        return Ok(Vec::new());
    }
    Ok(vec![ShareRevoked { share }.into()])
}

/// `ShareExpired` once the share's time has passed and nothing else ended it first;
/// nothing otherwise, so a second expirer (another process) decides nothing.
pub fn expire(state: &Record, share: ShareId, now: Timestamp) -> Vec<RecordEvent> {
    match state.share(share) {
        Some(s) if s.ended.is_none() && s.expires_at.is_some_and(|at| at <= now) => {
            vec![ShareExpired { share }.into()]
        }
        _ => Vec::new(),
    }
}

/// How long before a share's expiry its doctor and owner are told.
pub const EXPIRY_NOTICE_MICROS: i64 = 24 * 3_600_000_000;

/// `ShareExpiring` once the share is live and ends within 24 hours of `now`, and was not
/// noticed before; nothing otherwise (a second process decides nothing).
pub fn notice_expiry(state: &Record, share: ShareId, now: Timestamp) -> Vec<RecordEvent> {
    match state.share(share) {
        Some(s)
            if s.is_live(now)
                && !state.is_erased()
                && !state.expiry_noticed(share)
                && s.expires_at
                    .is_some_and(|at| at.plus_micros(-EXPIRY_NOTICE_MICROS) <= now) =>
        {
            vec![ShareExpiring { share }.into()]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::given::*;
    use super::*;
    use crate::account::{AccountStatus, Role, UserId};

    fn active_doctor(id: UserId) -> Recipient {
        Recipient {
            id,
            role: Some(Role::Doctor),
            status: Some(AccountStatus::Active),
        }
    }

    fn to(doctor: UserId, expires: Option<i64>, now: i64) -> ShareRecord {
        ShareRecord {
            by: as_patient(PATIENT),
            share: SHARE,
            doctor: active_doctor(doctor),
            expires_at: expires.map(at),
            now: at(now),
            proxy: None,
        }
    }

    #[test]
    fn the_owner_shares_with_an_active_doctor() {
        given([uploaded()])
            .when(|s| share(s, to(DOCTOR, Some(60), 0)))
            .then([shared(SHARE, DOCTOR, Some(60))]);
    }

    #[test]
    fn expiry_must_be_in_the_future_and_the_doctor_active() {
        given([uploaded()])
            .when(|s| share(s, to(DOCTOR, Some(0), 0)))
            .refused(ShareError::ExpiryPassed);
        given([uploaded()])
            .when(|s| {
                share(
                    s,
                    ShareRecord {
                        doctor: Recipient {
                            status: Some(AccountStatus::Pending),
                            ..active_doctor(DOCTOR)
                        },
                        ..to(DOCTOR, None, 0)
                    },
                )
            })
            .refused(ShareError::NotAnActiveDoctor);
    }

    #[test]
    fn a_second_live_share_with_the_same_doctor_conflicts_but_one_after_expiry_does_not() {
        let history = [uploaded(), shared(OTHER_SHARE, DOCTOR, Some(60))];
        given(history.clone())
            .when(|s| share(s, to(DOCTOR, None, 30)))
            .refused(ShareError::AlreadyShared);
        given(history)
            .when(|s| share(s, to(DOCTOR, None, 60)))
            .then([shared(SHARE, DOCTOR, None)]);
    }

    #[test]
    fn only_the_owner_shares_and_strangers_learn_nothing() {
        let history = [uploaded(), shared(OTHER_SHARE, DOCTOR, None)];
        for (by, error) in [
            (as_doctor(DOCTOR), ShareError::NotOwner),
            (as_admin(ADMIN), ShareError::NotOwner),
            (as_patient(OTHER_PATIENT), ShareError::NotFound),
            (as_doctor(OTHER_DOCTOR), ShareError::NotFound),
        ] {
            given(history.clone())
                .when(|s| {
                    share(
                        s,
                        ShareRecord {
                            by,
                            ..to(OTHER_DOCTOR, None, 0)
                        },
                    )
                })
                .refused(error);
        }
        given([])
            .when(|s| share(s, to(DOCTOR, None, 0)))
            .refused(ShareError::NotFound);
    }

    #[test]
    fn a_manage_proxy_shares_for_the_owner_and_a_read_proxy_does_not() {
        use crate::proxy::ProxyScope;
        let grant = uuid::Uuid::from_u128(0x9a);
        let as_proxy = |scope| ShareRecord {
            by: as_patient(OTHER_PATIENT),
            proxy: Some((grant, scope)),
            ..to(DOCTOR, None, 0)
        };
        given([uploaded()])
            .when(|s| share(s, as_proxy(ProxyScope::Manage)))
            .then([shared(SHARE, DOCTOR, None)]);
        given([uploaded()])
            .when(|s| share(s, as_proxy(ProxyScope::Read)))
            .refused(ShareError::NotOwner);
    }

    #[test]
    fn an_erased_record_is_not_shared() {
        given([uploaded(), erased()])
            .when(|s| share(s, to(DOCTOR, None, 0)))
            .refused(ShareError::Erased);
    }

    #[test]
    fn revoking_ends_a_share_once() {
        let history = [uploaded(), shared(SHARE, DOCTOR, None)];
        given(history.clone())
            .when(|s| revoke(s, as_patient(PATIENT), SHARE, at(1), None))
            .then([ShareRevoked { share: SHARE }.into()]);
        let mut again = history.to_vec();
        again.push(ShareRevoked { share: SHARE }.into());
        given(again)
            .when(|s| revoke(s, as_patient(PATIENT), SHARE, at(2), None))
            .then([]);
        given(history.clone())
            .when(|s| revoke(s, as_patient(PATIENT), OTHER_SHARE, at(1), None))
            .refused(ShareError::NoSuchShare);
        given(history)
            .when(|s| revoke(s, as_doctor(DOCTOR), SHARE, at(1), None))
            .refused(ShareError::NotOwner);
    }

    #[test]
    fn a_share_expires_once_and_only_when_its_time_has_come() {
        let history = [uploaded(), shared(SHARE, DOCTOR, Some(60))];
        given(history.clone())
            .when(|s| Ok::<_, ShareError>(expire(s, SHARE, at(59))))
            .then([]);
        given(history.clone())
            .when(|s| Ok::<_, ShareError>(expire(s, SHARE, at(60))))
            .then([ShareExpired { share: SHARE }.into()]);
        let mut done = history.to_vec();
        done.push(ShareExpired { share: SHARE }.into());
        given(done)
            .when(|s| Ok::<_, ShareError>(expire(s, SHARE, at(61))))
            .then([]);
    }

    #[test]
    fn a_coming_expiry_is_noticed_once_within_its_last_day() {
        let history = [uploaded(), shared(SHARE, DOCTOR, Some(48 * 60))];
        given(history.clone())
            .when(|s| Ok::<_, ShareError>(notice_expiry(s, SHARE, at(24 * 60 - 1))))
            .then([]);
        given(history.clone())
            .when(|s| Ok::<_, ShareError>(notice_expiry(s, SHARE, at(24 * 60))))
            .then([ShareExpiring { share: SHARE }.into()]);
        let mut noticed = history.to_vec();
        noticed.push(ShareExpiring { share: SHARE }.into());
        given(noticed)
            .when(|s| Ok::<_, ShareError>(notice_expiry(s, SHARE, at(30 * 60))))
            .then([]);
        given(history)
            .when(|s| Ok::<_, ShareError>(notice_expiry(s, SHARE, at(48 * 60))))
            .then([]);
    }
}
