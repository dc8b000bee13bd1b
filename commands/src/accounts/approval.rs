//! Administrators deciding on accounts: approve or reject a pending one, suspend one.
//! Suspension closes the account's sessions in the sessions table before the ledger
//! records it, so a failure in between leaves the account shut, not open.

use super::Accounts;
use crate::{Caller, CommandError, Decision};
use domain::account::{
    User, UserEvent, UserId,
    user::{ApprovalError, approve, reject, suspend},
};

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
        self.decide_on(admin, user, "account approved", approve)
            .await
    }

    /// Returns the seq of `UserRejected`.
    pub async fn reject_user(
        &self,
        admin: &Caller,
        user: UserId,
        reason: &str,
    ) -> Result<i64, CommandError> {
        admin.require_admin()?;
        let reason = self.seal_reason(user, "rejectionReason", reason).await?;
        self.decide_on(admin, user, "account rejected", |state| {
            reject(state, reason.clone())
        })
        .await
    }

    /// An administrator's decision on a pending account.
    async fn decide_on(
        &self,
        admin: &Caller,
        user: UserId,
        what: &'static str,
        decide: impl Fn(&User) -> Result<Vec<UserEvent>, ApprovalError>,
    ) -> Result<i64, CommandError> {
        admin.require_admin()?;
        let done = self
            .kernel()
            .execute(user, Some(admin.user), |state: &User| {
                decide(state).map(Decision::events).map_err(refused)
            })
            .await?;
        tracing::info!(user.id = %user, actor.id = %admin.user, "{what}");
        Ok(done.seq)
    }

    /// Returns the seq of `UserSuspended`. Every session of the account ends first.
    pub async fn suspend_user(
        &self,
        admin: &Caller,
        user: UserId,
        reason: &str,
    ) -> Result<i64, CommandError> {
        admin.require_admin()?;
        let reason = self.seal_reason(user, "suspensionReason", reason).await?;
        let done = self
            .kernel()
            .execute_then(
                user,
                Some(admin.user),
                |state: &User| {
                    suspend(state, admin.user, reason.clone())
                        .map(Decision::events)
                        .map_err(refused)
                },
                || self.revoke_sessions(user, None),
            )
            .await?;
        tracing::info!(user.id = %user, actor.id = %admin.user, "account suspended; sessions revoked");
        Ok(done.seq)
    }
}
