//! Administrators deciding on accounts: approve or reject a pending one, suspend one.
//! Suspension closes the account's sessions in the sessions table before the ledger
//! records it, so a failure in between leaves the account shut, not open.

use super::{Accounts, Caller, CommandError};
use domain::account::{
    Reason, Role, UserId,
    user::{ApprovalError, approve, reject, suspend},
};

/// The one check that a caller is an administrator, for every administrative command.
pub fn require_admin(caller: &Caller) -> Result<(), CommandError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(CommandError::Forbidden(
            "only administrators may do this".into(),
        ))
    }
}

fn refused(e: ApprovalError) -> CommandError {
    match e {
        ApprovalError::NoAccount => CommandError::NotFound(e.to_string()),
        ApprovalError::SelfSuspension => CommandError::Forbidden(e.to_string()),
        ApprovalError::NotPending(_) | ApprovalError::NotSuspendable(_) => {
            CommandError::Conflict(e.to_string())
        }
    }
}

impl Accounts {
    /// Returns the seq of `UserApproved`.
    pub async fn approve_user(&self, admin: &Caller, user: UserId) -> Result<i64, CommandError> {
        require_admin(admin)?;
        let (state, version) = self.load(user).await?;
        let events = approve(&state).map_err(refused)?;
        let seq = self
            .append(&user.stream(), version, Some(admin.user.as_uuid()), &events)
            .await?;
        tracing::info!(user.id = %user, actor.id = %admin.user, "account approved");
        Ok(seq)
    }

    /// Returns the seq of `UserRejected`.
    pub async fn reject_user(
        &self,
        admin: &Caller,
        user: UserId,
        reason: &str,
    ) -> Result<i64, CommandError> {
        require_admin(admin)?;
        let reason = Reason::parse(reason).map_err(CommandError::bad_input)?;
        let (state, version) = self.load(user).await?;
        let events = reject(&state, reason).map_err(refused)?;
        let seq = self
            .append(&user.stream(), version, Some(admin.user.as_uuid()), &events)
            .await?;
        tracing::info!(user.id = %user, actor.id = %admin.user, "account rejected");
        Ok(seq)
    }

    /// Returns the seq of `UserSuspended`. Every session of the account ends first.
    pub async fn suspend_user(
        &self,
        admin: &Caller,
        user: UserId,
        reason: &str,
    ) -> Result<i64, CommandError> {
        require_admin(admin)?;
        let reason = Reason::parse(reason).map_err(CommandError::bad_input)?;
        let (state, version) = self.load(user).await?;
        let events = suspend(&state, admin.user, reason).map_err(refused)?;
        self.revoke_sessions(user, None).await?;
        let seq = self
            .append(&user.stream(), version, Some(admin.user.as_uuid()), &events)
            .await?;
        tracing::info!(user.id = %user, actor.id = %admin.user, "account suspended; sessions revoked");
        Ok(seq)
    }
}
