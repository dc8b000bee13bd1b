//! What a user is to MedChain (DESIGN.md §6): a patient, a doctor or an administrator.
//! The text forms are the GraphQL enum values and the ledger's.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Patient,
    Doctor,
    Admin,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("there is no role {0:?}: a role is PATIENT, DOCTOR or ADMIN")]
pub struct InvalidRole(String);

crate::text_forms!(Role, InvalidRole {
    Patient => "PATIENT",
    Doctor => "DOCTOR",
    Admin => "ADMIN",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parse_and_json_agree() {
        crate::text_enum::assert_text_and_json_agree(Role::ALL, Role::as_str, |raw| {
            Role::parse(raw).ok()
        });
    }

    #[test]
    fn refuses_other_words() {
        for bad in ["", "patient", "Doctor", "NURSE"] {
            assert!(Role::parse(bad).is_err(), "{bad:?}");
        }
    }
}
