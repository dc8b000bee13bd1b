//! What a user is to MedChain (DESIGN.md §6): a patient, a doctor or an administrator.
//! The text forms are the GraphQL enum values and the ledger's.

use serde::{Deserialize, Serialize};
use std::fmt;

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

impl Role {
    pub const ALL: [Role; 3] = [Role::Patient, Role::Doctor, Role::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "PATIENT",
            Role::Doctor => "DOCTOR",
            Role::Admin => "ADMIN",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidRole> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == raw)
            .ok_or_else(|| InvalidRole(raw.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parse_and_json_agree() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
    }

    #[test]
    fn refuses_other_words() {
        for bad in ["", "patient", "Doctor", "NURSE"] {
            assert!(Role::parse(bad).is_err(), "{bad:?}");
        }
    }
}
