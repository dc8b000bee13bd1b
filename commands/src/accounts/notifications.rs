//! A person's notification settings and read marks, as events on their own stream, so a
//! rebuild of the notifications view keeps them.

use super::{Accounts, Caller, CommandError};
use domain::account::user::{NotificationsRead, SetPreferencesError, UserEvent, set_preferences};
use domain::notification::Preference;
use uuid::Uuid;

impl Accounts {
    /// Merges `changes` into the caller's preferences; returns the seq of the event.
    pub async fn set_notification_preferences(
        &self,
        caller: &Caller,
        changes: Vec<Preference>,
    ) -> Result<i64, CommandError> {
        let (state, version) = self.load(caller.user).await?;
        let events = set_preferences(&state, changes).map_err(|e| match e {
            SetPreferencesError::NoAccount => CommandError::NotFound(e.to_string()),
            SetPreferencesError::Refused(_) => CommandError::BadInput(e.to_string()),
        })?;
        self.append(
            &caller.user.stream(),
            version,
            Some(caller.user.as_uuid()),
            &events,
        )
        .await
    }

    /// Marks the notifications `ids`, or every one up to `up_to_seq`, read; returns the
    /// seq of the event. Nothing is deleted.
    pub async fn mark_notifications_read(
        &self,
        caller: &Caller,
        ids: Option<Vec<Uuid>>,
        up_to_seq: Option<i64>,
    ) -> Result<i64, CommandError> {
        let (_, version) = self.load(caller.user).await?;
        let event: UserEvent = NotificationsRead { ids, up_to_seq }.into();
        self.append(
            &caller.user.stream(),
            version,
            Some(caller.user.as_uuid()),
            &[event],
        )
        .await
    }
}
