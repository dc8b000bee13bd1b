//! Profile changes: a user asks (name and/or phone, sealed at once under their key), an
//! administrator decides.

use super::Accounts;
use crate::{Caller, CommandError, Decision};
use domain::account::{
    PersonName, Phone, User, UserId,
    user::{
        DecideProfileChange, ProfileChangeError, RequestProfileChange, decide_profile_change,
        request_profile_change,
    },
};
use uuid::Uuid;

fn refused(e: ProfileChangeError) -> CommandError {
    match e {
        ProfileChangeError::AlreadyPending => CommandError::Conflict(e.to_string()),
        ProfileChangeError::NoAccount | ProfileChangeError::NotPending => {
            CommandError::NotFound(e.to_string())
        }
        ProfileChangeError::NotActive | ProfileChangeError::OwnChange => {
            CommandError::Forbidden(e.to_string())
        }
        ProfileChangeError::Nothing | ProfileChangeError::ReasonRequired => {
            CommandError::BadInput(e.to_string())
        }
    }
}

impl Accounts {
    /// Returns the change's id and the seq of `ProfileChangeRequested`. An empty or
    /// absent field is left as it is.
    pub async fn request_profile_change(
        &self,
        caller: &Caller,
        name: Option<&str>,
        phone: Option<&str>,
    ) -> Result<(Uuid, i64), CommandError> {
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let name = given(name)
            .map(|n| PersonName::parse(&n))
            .transpose()
            .map_err(CommandError::bad_input)?;
        let phone = given(phone)
            .map(|p| Phone::parse(&p))
            .transpose()
            .map_err(CommandError::bad_input)?;
        let id = caller.user;
        let Some(key) = self.live_key(id).await? else {
            return Err(CommandError::NotFound("there is no such account".into()));
        };
        let stream = id.stream();
        let change = Uuid::new_v4();
        let name = name.map(|n| key.seal_str(stream.as_str(), "name", n.as_str()));
        let phone = phone.map(|p| key.seal_str(stream.as_str(), "phone", p.as_str()));
        let decide = |state: &User| {
            let request = RequestProfileChange {
                change,
                name: name.clone(),
                phone: phone.clone(),
            };
            request_profile_change(state, request)
                .map(Decision::events)
                .map_err(refused)
        };
        let seq = self.kernel().execute(id, Some(id), decide).await?.seq;
        tracing::info!(user.id = %id, change.id = %change, "profile change requested");
        Ok((change, seq))
    }

    /// Returns the seq of `ProfileChangeDecided`. `user`: whose change it is (from the
    /// view); a change that is not pending on that user's stream is NOT_FOUND.
    pub async fn decide_profile_change(
        &self,
        admin: &Caller,
        user: UserId,
        change: Uuid,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<i64, CommandError> {
        admin.require_admin()?;
        let reason = match reason.filter(|r| !r.trim().is_empty()) {
            Some(text) => Some(self.seal_reason(user, "profileChangeReason", text).await?),
            None => None,
        };
        let decide = |state: &User| {
            let decision = DecideProfileChange {
                by: admin.user,
                change,
                approve,
                reason: reason.clone(),
            };
            decide_profile_change(state, decision)
                .map(Decision::events)
                .map_err(refused)
        };
        let seq = self
            .kernel()
            .execute(user, Some(admin.user), decide)
            .await?
            .seq;
        tracing::info!(user.id = %user, change.id = %change, approve, actor.id = %admin.user, "profile change decided");
        Ok(seq)
    }
}
