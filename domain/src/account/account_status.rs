//! Where an account stands: waiting for approval, usable, refused, suspended, or erased
//! (its subject key destroyed, DESIGN.md §4). Only an active account may sign in.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccountStatus {
    Pending,
    Active,
    Rejected,
    Suspended,
    Erased,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("there is no account status {0:?}: it is PENDING, ACTIVE, REJECTED, SUSPENDED or ERASED")]
pub struct InvalidAccountStatus(String);

crate::text_forms!(AccountStatus, InvalidAccountStatus {
    Pending => "PENDING",
    Active => "ACTIVE",
    Rejected => "REJECTED",
    Suspended => "SUSPENDED",
    Erased => "ERASED",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parse_and_json_agree() {
        crate::text_enum::assert_text_and_json_agree(
            AccountStatus::ALL,
            AccountStatus::as_str,
            |raw| AccountStatus::parse(raw).ok(),
        );
    }

    #[test]
    fn refuses_other_words() {
        for bad in ["", "active", "Deleted"] {
            assert!(AccountStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
