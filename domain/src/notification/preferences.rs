//! A person's notification preferences: per kind, in-app and e-mail, starting from the
//! defaults of `NotificationKind`; a change names only the kinds it changes. Muting a
//! security notice in-app is refused.

use super::NotificationKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preference {
    pub kind: NotificationKind,
    pub in_app: bool,
    pub email: bool,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PreferenceError {
    #[error("{0} is a security notice and cannot be turned off in the app")]
    SecurityNotice(&'static str),
    #[error("{0} cannot be muted: it is mailed and shown whatever the preferences")]
    NeverMuted(&'static str),
    #[error("{0} is named twice")]
    Twice(&'static str),
}

/// Every kind's preference: the defaults, with what the person changed over them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preferences(BTreeMap<NotificationKind, Preference>);

impl Preferences {
    pub fn get(&self, kind: NotificationKind) -> Preference {
        self.0.get(&kind).copied().unwrap_or(Preference {
            kind,
            in_app: kind.default_in_app(),
            email: kind.default_email(),
        })
    }

    /// All kinds, in the contract's order.
    pub fn all(&self) -> Vec<Preference> {
        NotificationKind::ALL
            .into_iter()
            .map(|k| self.get(k))
            .collect()
    }

    /// Checks a change before it is recorded.
    pub fn check(changes: &[Preference]) -> Result<(), PreferenceError> {
        for (i, change) in changes.iter().enumerate() {
            if !change.in_app && change.kind.is_security_notice() {
                return Err(PreferenceError::SecurityNotice(change.kind.as_str()));
            }
            if !change.email && change.kind.is_never_muted() {
                return Err(PreferenceError::NeverMuted(change.kind.as_str()));
            }
            if changes[..i].iter().any(|c| c.kind == change.kind) {
                return Err(PreferenceError::Twice(change.kind.as_str()));
            }
        }
        Ok(())
    }

    /// Merges a recorded change.
    pub fn apply(&mut self, changes: &[Preference]) {
        for change in changes {
            self.0.insert(change.kind, *change);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_merge_over_the_defaults() {
        let mut prefs = Preferences::default();
        assert!(prefs.get(NotificationKind::RecordShared).email);
        assert!(!prefs.get(NotificationKind::RecordAccessed).email);
        let change = [Preference {
            kind: NotificationKind::RecordAccessed,
            in_app: false,
            email: true,
        }];
        assert_eq!(Preferences::check(&change), Ok(()));
        prefs.apply(&change);
        assert_eq!(prefs.get(NotificationKind::RecordAccessed), change[0]);
        assert!(prefs.get(NotificationKind::RecordShared).in_app);
        assert_eq!(prefs.all().len(), NotificationKind::ALL.len());
    }

    #[test]
    fn security_notices_cannot_be_muted_in_app_but_their_mail_can() {
        let mute = |kind| Preference {
            kind,
            in_app: false,
            email: false,
        };
        for kind in [
            NotificationKind::PasswordChanged,
            NotificationKind::AccountApproved,
            NotificationKind::AccountRejected,
        ] {
            assert_eq!(
                Preferences::check(&[mute(kind)]),
                Err(PreferenceError::SecurityNotice(kind.as_str()))
            );
            let no_mail = Preference {
                in_app: true,
                ..mute(kind)
            };
            assert_eq!(Preferences::check(&[no_mail]), Ok(()));
        }
        // SECURITY_CHANGED: not by mail either.
        let security = NotificationKind::SecurityChanged;
        assert_eq!(
            Preferences::check(&[Preference {
                in_app: true,
                ..mute(security)
            }]),
            Err(PreferenceError::NeverMuted("SECURITY_CHANGED"))
        );
        let twice = [
            mute(NotificationKind::ShareRevoked),
            mute(NotificationKind::ShareRevoked),
        ];
        assert!(Preferences::check(&twice).is_err());
    }
}
