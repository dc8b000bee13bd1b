//! Erasing a record (crypto-shredding): by its owner, or by an administrator (who may
//! erase without reading). The command layer then destroys the data key and deletes the
//! blob; erasing an erased record decides nothing, so a crash part-way is finished by
//! asking again.

use super::access::{Access, Viewer, standing_in};
use super::events::{RecordErased, RecordEvent};
use super::state::Record;
use crate::Timestamp;
use crate::{ErasureBasis, Sealed};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EraseRecordError {
    #[error("there is no such record")]
    NotFound,
    #[error("only the record's owner or an administrator may erase it")]
    NotAllowed,
}

pub fn erase_record(
    state: &Record,
    by: Viewer,
    basis: ErasureBasis,
    reason: Sealed,
    now: Timestamp,
    proxy: Option<(uuid::Uuid, crate::proxy::ProxyScope)>,
) -> Result<Vec<RecordEvent>, EraseRecordError> {
    match standing_in(state, by, now, None, false, proxy).ok_or(EraseRecordError::NotFound)? {
        Access::Owner | Access::Oversight => {}
        // A proxy never erases for the patient.
        Access::Shared(_) | Access::Emergency(_) | Access::Proxy(..) => {
            return Err(EraseRecordError::NotAllowed);
        }
        Access::Lapsed(_) | Access::EmergencyEnded | Access::Stranger => {
            return Err(EraseRecordError::NotFound);
        }
    }
    if state.is_erased() {
        return Ok(Vec::new());
    }
    Ok(vec![RecordErased { basis, reason }.into()])
}

#[cfg(test)]
mod tests {
    use super::super::given::*;
    use super::*;

    fn why() -> Sealed {
        crate::samples::sealed("uploaded by mistake")
    }

    #[test]
    fn the_owner_or_an_admin_erases_once() {
        for by in [as_patient(PATIENT), as_admin(ADMIN)] {
            given([uploaded()])
                .when(|s| erase_record(s, by, ErasureBasis::Duplicate, why(), at(0), None))
                .then([erased()]);
        }
        given([uploaded(), erased()])
            .when(|s| {
                erase_record(
                    s,
                    as_patient(PATIENT),
                    ErasureBasis::Duplicate,
                    why(),
                    at(0),
                    None,
                )
            })
            .then([]);
    }

    #[test]
    fn doctors_and_strangers_cannot() {
        let history = [uploaded(), shared(SHARE, DOCTOR, None)];
        given(history.clone())
            .when(|s| {
                erase_record(
                    s,
                    as_doctor(DOCTOR),
                    ErasureBasis::Duplicate,
                    why(),
                    at(0),
                    None,
                )
            })
            .refused(EraseRecordError::NotAllowed);
        given(history)
            .when(|s| {
                erase_record(
                    s,
                    as_patient(OTHER_PATIENT),
                    ErasureBasis::Duplicate,
                    why(),
                    at(0),
                    None,
                )
            })
            .refused(EraseRecordError::NotFound);
    }

    #[test]
    fn erasing_ends_every_share() {
        let after = given([uploaded(), shared(SHARE, DOCTOR, None)])
            .when(|s| {
                erase_record(
                    s,
                    as_patient(PATIENT),
                    ErasureBasis::Duplicate,
                    why(),
                    at(0),
                    None,
                )
            })
            .then([erased()]);
        assert!(after.shares().iter().all(|s| !s.is_live(at(0))));
    }
}
