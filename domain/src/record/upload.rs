//! Storing a record: the decision that follows a finished, encrypted upload. The command
//! layer asked `may_upload` (a patient's own file) or `may_add_for` (a doctor adding to a
//! patient's) before streaming; this asks again with the same rules, so no path can
//! record a file for someone who may not keep one. A doctor's record is the patient's
//! (owner, keys, erasure); the doctor reads it through a share made with it, which the
//! patient may revoke like any other.

use super::ShareId;
use super::access::{CareFacts, Viewer, may_add_for, may_upload};
use super::events::{RecordEvent, RecordShared, RecordUploaded};
use super::state::Record;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UploadError {
    #[error("only patients upload records of their own")]
    NotAPatient,
    #[error("this record exists already")]
    Exists,
    #[error("a record belongs to the patient who uploads it")]
    NotTheirs,
    #[error(
        "a doctor adds records only for an active patient who shares a record with them, \
         or while holding an emergency access to the patient"
    )]
    NotInCare,
}

pub struct UploadRecord {
    pub by: Viewer,
    pub stored: RecordUploaded,
    /// A doctor adding to a patient's file: the doctor's standing towards the patient,
    /// and the id of the share made with the record.
    pub care: Option<(CareFacts, ShareId)>,
    /// Someone uploading for the patient as their proxy: the grant from the owner's
    /// proxies stream (MANAGE uploads; READ does not).
    pub proxy: Option<(uuid::Uuid, crate::proxy::ProxyScope)>,
}

pub fn upload(state: &Record, cmd: UploadRecord) -> Result<Vec<RecordEvent>, UploadError> {
    let UploadRecord {
        by,
        stored,
        care,
        proxy,
    } = cmd;
    if state.stored().is_some() {
        return Err(UploadError::Exists);
    }
    let Some(author) = stored.author else {
        if !may_upload(by) {
            return Err(UploadError::NotAPatient);
        }
        if stored.owner != by.id {
            return Err(UploadError::NotTheirs);
        }
        return Ok(vec![stored.into()]);
    };
    // A MANAGE proxy uploads for the patient; the proxy reads it through their grant.
    if author == by.id && matches!(proxy, Some((_, crate::proxy::ProxyScope::Manage))) {
        return Ok(vec![stored.into()]);
    }
    let Some((facts, share)) = care else {
        return Err(UploadError::NotInCare);
    };
    if author != by.id || facts.patient.id != stored.owner || !may_add_for(by, &facts) {
        return Err(UploadError::NotInCare);
    }
    Ok(vec![
        stored.into(),
        RecordShared {
            share,
            doctor: by.id,
            expires_at: None,
            referral: None,
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::given::{
        DOCTOR, OTHER_DOCTOR, OTHER_PATIENT, PATIENT, SHARE, as_doctor, as_patient, given, shared,
        uploaded,
    };
    use super::*;
    use crate::account::{AccountStatus, Recipient, Role};
    use crate::emergency::EmergencyId;

    fn stored() -> RecordUploaded {
        match uploaded() {
            RecordEvent::RecordUploaded(e) => e,
            _ => unreachable!(),
        }
    }

    fn by_doctor() -> RecordUploaded {
        RecordUploaded {
            author: Some(DOCTOR),
            ..stored()
        }
    }

    fn mine(by: Viewer) -> UploadRecord {
        UploadRecord {
            by,
            stored: stored(),
            care: None,
            proxy: None,
        }
    }

    fn care(live_share: bool, emergency: Option<EmergencyId>) -> Option<(CareFacts, ShareId)> {
        let patient = Recipient {
            id: PATIENT,
            role: Some(Role::Patient),
            status: Some(AccountStatus::Active),
        };
        Some((
            CareFacts {
                patient,
                live_share,
                emergency,
            },
            SHARE,
        ))
    }

    #[test]
    fn a_patient_stores_their_file() {
        given([])
            .when(|s| upload(s, mine(as_patient(PATIENT))))
            .then([uploaded()]);
    }

    #[test]
    fn others_cannot_and_nothing_is_stored_twice() {
        given([])
            .when(|s| upload(s, mine(as_doctor(DOCTOR))))
            .refused(UploadError::NotAPatient);
        given([])
            .when(|s| upload(s, mine(as_patient(OTHER_PATIENT))))
            .refused(UploadError::NotTheirs);
        given([uploaded()])
            .when(|s| upload(s, mine(as_patient(PATIENT))))
            .refused(UploadError::Exists);
    }

    #[test]
    fn a_doctor_in_care_adds_to_the_patients_file_and_reads_it_through_a_share() {
        let added = UploadRecord {
            by: as_doctor(DOCTOR),
            stored: by_doctor(),
            care: care(true, None),
            proxy: None,
        };
        let state = given([])
            .when(|s| upload(s, added))
            .then([by_doctor().into(), shared(SHARE, DOCTOR, None)]);
        assert_eq!(state.owner(), Some(PATIENT));
        assert_eq!(state.author(), Some(DOCTOR));
        let in_emergency = UploadRecord {
            by: as_doctor(DOCTOR),
            stored: by_doctor(),
            care: care(
                false,
                Some(EmergencyId::from_uuid(uuid::Uuid::from_u128(1))),
            ),
            proxy: None,
        };
        given([])
            .when(|s| upload(s, in_emergency))
            .then([by_doctor().into(), shared(SHARE, DOCTOR, None)]);
    }

    #[test]
    fn a_manage_proxy_uploads_for_the_patient_and_a_read_proxy_does_not() {
        use crate::proxy::ProxyScope;
        let grant = uuid::Uuid::from_u128(0x9a);
        let by_proxy = |scope| UploadRecord {
            by: as_patient(OTHER_PATIENT),
            stored: RecordUploaded {
                author: Some(OTHER_PATIENT),
                ..stored()
            },
            care: None,
            proxy: Some((grant, scope)),
        };
        given([])
            .when(|s| upload(s, by_proxy(ProxyScope::Manage)))
            .then([RecordUploaded {
                author: Some(OTHER_PATIENT),
                ..stored()
            }
            .into()]);
        given([])
            .when(|s| upload(s, by_proxy(ProxyScope::Read)))
            .refused(UploadError::NotInCare);
    }

    #[test]
    fn a_doctor_outside_the_patients_care_adds_nothing() {
        for (by, author, facts) in [
            (as_doctor(DOCTOR), Some(DOCTOR), care(false, None)),
            (as_doctor(DOCTOR), Some(DOCTOR), None),
            // Writing another doctor's name as the author.
            (as_doctor(OTHER_DOCTOR), Some(DOCTOR), care(true, None)),
            // A patient cannot pass a file off as a doctor's.
            (as_patient(PATIENT), Some(DOCTOR), care(true, None)),
        ] {
            let cmd = UploadRecord {
                by,
                stored: RecordUploaded { author, ..stored() },
                care: facts,
                proxy: None,
            };
            given([])
                .when(|s| upload(s, cmd))
                .refused(UploadError::NotInCare);
        }
    }
}
