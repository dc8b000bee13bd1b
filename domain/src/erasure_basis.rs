//! Why a record or a person was erased, in a word that names no one (API.graphql's
//! `ErasureBasis`): kept in clear on the ledger, so administrators and auditors can count
//! and review erasures, while the free-text reason is sealed under the person's key.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErasureBasis {
    PatientRequest,
    Duplicate,
    WrongPatient,
    RetentionExpired,
    LegalOrder,
    Other,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "there is no erasure basis {0:?}: PATIENT_REQUEST, DUPLICATE, WRONG_PATIENT, \
     RETENTION_EXPIRED, LEGAL_ORDER or OTHER"
)]
pub struct InvalidErasureBasis(String);

crate::text_forms!(ErasureBasis, InvalidErasureBasis {
    PatientRequest => "PATIENT_REQUEST",
    Duplicate => "DUPLICATE",
    WrongPatient => "WRONG_PATIENT",
    RetentionExpired => "RETENTION_EXPIRED",
    LegalOrder => "LEGAL_ORDER",
    Other => "OTHER",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parse_and_json_agree() {
        crate::text_enum::assert_text_and_json_agree(
            ErasureBasis::ALL,
            ErasureBasis::as_str,
            |raw| ErasureBasis::parse(raw).ok(),
        );
    }
}
