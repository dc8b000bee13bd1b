//! Profile changes: a user asks for a new name and/or phone; it stays pending until an
//! administrator approves it (the profile changes) or rejects it (with a reason). One
//! pending change per user.

use super::events::{ProfileChangeDecided, ProfileChangeRequested, UserEvent};
use super::state::User;
use crate::Sealed;
use crate::account::{AccountStatus, UserId};
use uuid::Uuid;

pub struct RequestProfileChange {
    pub change: Uuid,
    pub name: Option<Sealed>,
    pub phone: Option<Sealed>,
}

pub struct DecideProfileChange {
    /// The administrator deciding: never the person whose change it is.
    pub by: UserId,
    pub change: Uuid,
    pub approve: bool,
    /// Sealed under the person's key by the command layer.
    pub reason: Option<Sealed>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProfileChangeError {
    #[error("there is no such account")]
    NoAccount,
    #[error("the account is not active")]
    NotActive,
    #[error("ask for a new name, a new phone number, or both")]
    Nothing,
    #[error("a profile change is already waiting for an administrator")]
    AlreadyPending,
    #[error("there is no pending profile change with that id")]
    NotPending,
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error("an administrator cannot decide their own profile change; another one must")]
    OwnChange,
}

pub fn request_profile_change(
    state: &User,
    cmd: RequestProfileChange,
) -> Result<Vec<UserEvent>, ProfileChangeError> {
    match state.status() {
        None => return Err(ProfileChangeError::NoAccount),
        Some(AccountStatus::Active) => {}
        Some(_) => return Err(ProfileChangeError::NotActive),
    }
    if cmd.name.is_none() && cmd.phone.is_none() {
        return Err(ProfileChangeError::Nothing);
    }
    if state.pending_change().is_some() {
        return Err(ProfileChangeError::AlreadyPending);
    }
    Ok(vec![
        ProfileChangeRequested {
            change: cmd.change,
            name: cmd.name,
            phone: cmd.phone,
        }
        .into(),
    ])
}

pub fn decide_profile_change(
    state: &User,
    cmd: DecideProfileChange,
) -> Result<Vec<UserEvent>, ProfileChangeError> {
    if state.pending_change().is_none_or(|c| c.id != cmd.change) {
        return Err(ProfileChangeError::NotPending);
    }
    if cmd.by == state.id() {
        return Err(ProfileChangeError::OwnChange);
    }
    if !cmd.approve && cmd.reason.is_none() {
        return Err(ProfileChangeError::ReasonRequired);
    }
    Ok(vec![
        ProfileChangeDecided {
            change: cmd.change,
            approved: cmd.approve,
            reason: cmd.reason,
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::given::{given, registered, registered_with, sealed, session};
    use super::*;
    use crate::account::Role;

    fn ask(name: &str) -> RequestProfileChange {
        RequestProfileChange {
            change: session(5),
            name: Some(sealed(name)),
            phone: None,
        }
    }

    fn requested(name: &str) -> UserEvent {
        ProfileChangeRequested {
            change: session(5),
            name: Some(sealed(name)),
            phone: None,
        }
        .into()
    }

    #[test]
    fn a_change_waits_and_an_approval_changes_the_profile() {
        let waiting = given([registered(Role::Patient)])
            .when(|s| request_profile_change(s, ask("newname")))
            .then([requested("newname")]);
        assert!(waiting.pending_change().is_some());
        assert_eq!(waiting.account().unwrap().name, sealed("name"));

        let decided = ProfileChangeDecided {
            change: session(5),
            approved: true,
            reason: None,
        };
        let after = given([registered(Role::Patient), requested("newname")])
            .when(|s| {
                decide_profile_change(
                    s,
                    DecideProfileChange {
                        by: UserId::from_uuid(session(9)),
                        change: session(5),
                        approve: true,
                        reason: None,
                    },
                )
            })
            .then([decided.into()]);
        assert_eq!(after.account().unwrap().name, sealed("newname"));
        assert!(after.pending_change().is_none());
    }

    #[test]
    fn one_pending_change_at_a_time() {
        given([registered(Role::Patient), requested("first")])
            .when(|s| request_profile_change(s, ask("second")))
            .then_err(ProfileChangeError::AlreadyPending);
    }

    #[test]
    fn a_rejection_needs_a_reason_and_keeps_the_profile() {
        let history = || [registered(Role::Patient), requested("newname")];
        let no_reason = DecideProfileChange {
            by: UserId::from_uuid(session(9)),
            change: session(5),
            approve: false,
            reason: None,
        };
        given(history())
            .when(|s| decide_profile_change(s, no_reason))
            .then_err(ProfileChangeError::ReasonRequired);
        let reason = sealed("not your name");
        let after = given(history())
            .when(|s| {
                decide_profile_change(
                    s,
                    DecideProfileChange {
                        by: UserId::from_uuid(session(9)),
                        change: session(5),
                        approve: false,
                        reason: Some(reason.clone()),
                    },
                )
            })
            .then([ProfileChangeDecided {
                change: session(5),
                approved: false,
                reason: Some(reason),
            }
            .into()]);
        assert_eq!(after.account().unwrap().name, sealed("name"));
        assert!(after.pending_change().is_none());
    }

    #[test]
    fn nothing_to_change_or_no_pending_change_is_refused() {
        given([registered(Role::Patient)])
            .when(|s| {
                request_profile_change(
                    s,
                    RequestProfileChange {
                        change: session(5),
                        name: None,
                        phone: None,
                    },
                )
            })
            .then_err(ProfileChangeError::Nothing);
        given([registered(Role::Patient)])
            .when(|s| {
                decide_profile_change(
                    s,
                    DecideProfileChange {
                        by: UserId::from_uuid(session(9)),
                        change: session(5),
                        approve: true,
                        reason: None,
                    },
                )
            })
            .then_err(ProfileChangeError::NotPending);
        given([registered_with(Role::Doctor, AccountStatus::Pending)])
            .when(|s| request_profile_change(s, ask("x")))
            .then_err(ProfileChangeError::NotActive);
    }

    #[test]
    fn an_administrator_cannot_decide_their_own_change() {
        given([registered(Role::Admin), requested("newname")])
            .when(|s| {
                let own = s.id();
                decide_profile_change(
                    s,
                    DecideProfileChange {
                        by: own,
                        change: session(5),
                        approve: true,
                        reason: None,
                    },
                )
            })
            .then_err(ProfileChangeError::OwnChange);
    }
}
