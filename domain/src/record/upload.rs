//! Storing a record: the decision that follows a finished, encrypted upload. The command
//! layer asked `may_upload` before streaming; this asks again with the same rule, so no
//! path can record a file for someone who may not keep one.

use super::access::{Viewer, may_upload};
use super::events::{RecordEvent, RecordUploaded};
use super::state::Record;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UploadError {
    #[error("only patients upload records")]
    NotAPatient,
    #[error("this record exists already")]
    Exists,
    #[error("a record belongs to the patient who uploads it")]
    NotTheirs,
}

pub fn upload(
    state: &Record,
    by: Viewer,
    stored: RecordUploaded,
) -> Result<Vec<RecordEvent>, UploadError> {
    if !may_upload(by) {
        return Err(UploadError::NotAPatient);
    }
    if stored.owner != by.id {
        return Err(UploadError::NotTheirs);
    }
    if state.stored().is_some() {
        return Err(UploadError::Exists);
    }
    Ok(vec![stored.into()])
}

#[cfg(test)]
mod tests {
    use super::super::given::{DOCTOR, PATIENT, as_doctor, as_patient, given, uploaded};
    use super::*;

    fn stored() -> RecordUploaded {
        match uploaded() {
            RecordEvent::RecordUploaded(e) => e,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_patient_stores_their_file() {
        given([])
            .when(|s| upload(s, as_patient(PATIENT), stored()))
            .then([uploaded()]);
    }

    #[test]
    fn others_cannot_and_nothing_is_stored_twice() {
        given([])
            .when(|s| upload(s, as_doctor(DOCTOR), stored()))
            .refused(UploadError::NotAPatient);
        given([])
            .when(|s| upload(s, as_patient(super::super::given::OTHER_PATIENT), stored()))
            .refused(UploadError::NotTheirs);
        given([uploaded()])
            .when(|s| upload(s, as_patient(PATIENT), stored()))
            .refused(UploadError::Exists);
    }
}
