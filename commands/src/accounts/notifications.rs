//! A person's notification settings and read marks, as events on their own stream, so a
//! rebuild of the notifications view keeps them.

use super::Accounts;
use crate::{Caller, CommandError, Decision};
use domain::account::User;
use domain::account::user::{NotificationsRead, SetPreferencesError, set_preferences};
use domain::notification::Preference;
use uuid::Uuid;

impl Accounts {
    /// Merges `changes` into the caller's preferences; returns the seq of the event.
    pub async fn set_notification_preferences(
        &self,
        caller: &Caller,
        changes: Vec<Preference>,
    ) -> Result<i64, CommandError> {
        let done = self
            .kernel()
            .execute(caller.user, Some(caller.user), |state: &User| {
                set_preferences(state, changes.clone())
                    .map(Decision::events)
                    .map_err(|e| match e {
                        SetPreferencesError::NoAccount => CommandError::NotFound(e.to_string()),
                        SetPreferencesError::Refused(_) => CommandError::BadInput(e.to_string()),
                    })
            })
            .await?;
        Ok(done.seq)
    }

    /// Marks the notifications `ids`, or every one up to `up_to_seq`, read; returns the
    /// seq of the event. Nothing is deleted.
    pub async fn mark_notifications_read(
        &self,
        caller: &Caller,
        ids: Option<Vec<Uuid>>,
        up_to_seq: Option<i64>,
    ) -> Result<i64, CommandError> {
        let done = self
            .kernel()
            .execute(caller.user, Some(caller.user), |_: &User| {
                let read = NotificationsRead {
                    ids: ids.clone(),
                    up_to_seq,
                };
                Ok(Decision::events(vec![read.into()]))
            })
            .await?;
        Ok(done.seq)
    }
}
