//! A new profile photo, and new notification preferences: any account that is neither
//! erased nor missing may set them (preferences within `Preferences::check`).

use super::events::{NotificationPreferencesSet, ProfilePhotoChanged, UserEvent};
use super::state::User;
use crate::account::AccountStatus;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PhotoError {
    #[error("there is no such account")]
    NoAccount,
}

/// `sha256`: hex of the stored ciphertext; `size`: its bytes.
pub fn change_photo(state: &User, sha256: String, size: i64) -> Result<Vec<UserEvent>, PhotoError> {
    match state.status() {
        None | Some(AccountStatus::Erased) => Err(PhotoError::NoAccount),
        Some(_) => Ok(vec![ProfilePhotoChanged { sha256, size }.into()]),
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SetPreferencesError {
    #[error("there is no such account")]
    NoAccount,
    #[error(transparent)]
    Refused(#[from] crate::notification::PreferenceError),
}

pub fn set_preferences(
    state: &User,
    changes: Vec<crate::notification::Preference>,
) -> Result<Vec<UserEvent>, SetPreferencesError> {
    match state.status() {
        None | Some(AccountStatus::Erased) => Err(SetPreferencesError::NoAccount),
        Some(_) => {
            crate::notification::Preferences::check(&changes)?;
            Ok(vec![
                NotificationPreferencesSet {
                    preferences: changes,
                }
                .into(),
            ])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::given::{given, registered};
    use super::*;
    use crate::account::Role;

    #[test]
    fn a_photo_is_recorded_by_its_ciphertext_hash() {
        given([registered(Role::Patient)])
            .when(|s| change_photo(s, "ab".repeat(32), 10))
            .then([ProfilePhotoChanged {
                sha256: "ab".repeat(32),
                size: 10,
            }
            .into()]);
        given([])
            .when(|s| change_photo(s, "ab".repeat(32), 10))
            .then_err(PhotoError::NoAccount);
    }
}
