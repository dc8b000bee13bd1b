//! Where an account stands: waiting for approval, usable, refused, suspended, or erased
//! (its subject key destroyed, DESIGN.md §4). Only an active account may sign in.

use serde::{Deserialize, Serialize};
use std::fmt;

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

impl AccountStatus {
    pub const ALL: [AccountStatus; 5] = [
        AccountStatus::Pending,
        AccountStatus::Active,
        AccountStatus::Rejected,
        AccountStatus::Suspended,
        AccountStatus::Erased,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "PENDING",
            AccountStatus::Active => "ACTIVE",
            AccountStatus::Rejected => "REJECTED",
            AccountStatus::Suspended => "SUSPENDED",
            AccountStatus::Erased => "ERASED",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidAccountStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| InvalidAccountStatus(raw.to_owned()))
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parse_and_json_agree() {
        for status in AccountStatus::ALL {
            assert_eq!(AccountStatus::parse(status.as_str()), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<AccountStatus>(&json).unwrap(),
                status
            );
        }
    }

    #[test]
    fn refuses_other_words() {
        for bad in ["", "active", "Deleted"] {
            assert!(AccountStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
