//! Erasure by crypto-shredding (DESIGN.md §4). In this order, each step safe to repeat:
//! the sessions end; `UserErased` goes on the ledger (who, whom, why); then
//! `shredding::shred_person` (which a restore runs again): the subject key is destroyed,
//! so every field sealed under it is unreadable from then on, in every view and after any
//! rebuild, the photo is deleted, and the e-mail's blind-index entry goes, so the address
//! is unknown and can register again; the erasure is journalled; their mail still in the
//! outbox is purged. Erasing an erased person repeats every step but the event, so a
//! crash part-way is finished by asking again.

use super::Accounts;
use crate::{Caller, CommandError, Decision};
use domain::{
    ErasureBasis, EventName as _, StreamName,
    account::{
        AccountStatus, Role, User, UserId, UserRegistered,
        user::{Erase, EraseError, erase},
    },
};

impl Accounts {
    /// Returns the seq of `UserErased` (or of the stream's last event, when it was erased
    /// before).
    pub async fn erase_user(
        &self,
        admin: &Caller,
        user: UserId,
        reason: &str,
        basis: Option<ErasureBasis>,
    ) -> Result<i64, CommandError> {
        admin.require_admin()?;
        // No erasure under a legal hold, on the person or on any record of theirs (they
        // are erased with them). An erasure already made is finished whatever stands.
        let erased_before =
            self.kernel().load::<User>(user).await?.state.status() == Some(AccountStatus::Erased);
        if !erased_before {
            let records: Vec<uuid::Uuid> =
                sqlx::query_scalar("SELECT record_id FROM record_keys WHERE owner_id = $1")
                    .bind(user.as_uuid())
                    .fetch_all(self.pool())
                    .await?;
            crate::legal_holds::erasure_allowed(
                self.kernel(),
                domain::erasure::ErasureSubject::User(user),
                &records,
            )
            .await?;
        }
        // An administrator erases on someone's behalf: OTHER unless they say.
        let basis = basis.unwrap_or(ErasureBasis::Other);
        let reason = self.seal_reason(user, "erasureReason", reason).await?;
        let active_admins = self.active_admins().await?;
        let decide = |state: &User| {
            erase(
                state,
                Erase {
                    by: admin.user,
                    basis,
                    reason: reason.clone(),
                    active_admins,
                },
            )
            .map(Decision::events)
            .map_err(|e| match e {
                EraseError::NoAccount => CommandError::NotFound(e.to_string()),
                EraseError::SelfErasure | EraseError::LastAdmin => {
                    CommandError::Forbidden(e.to_string())
                }
            })
        };
        let done = self
            .kernel()
            .execute_then(user, Some(admin.user), decide, || {
                self.revoke_sessions(user, None)
            })
            .await?;
        if !done.appended {
            // Erased before: finish what a crash may have left undone.
            self.revoke_sessions(user, None).await?;
        }
        let seq = done.seq;
        crate::shredding::shred_person(
            self.pool(),
            &self.inner.keys,
            self.inner.blobs.as_ref(),
            user.as_uuid(),
            self.inner.clock.now().to_datetime(),
        )
        .await?;
        if let Some(journal) = &self.inner.journal {
            journal
                .record(
                    self.pool(),
                    domain::erasure::ErasureSubject::User(user),
                    seq,
                )
                .await
                .map_err(CommandError::internal)?;
        }
        // Mail to the person still in the outbox holds their address (and perhaps a live
        // reset link): it goes too. Pending notification mail finds no address and is
        // dropped by the mail worker.
        if let Some(mailer) = &self.inner.mailer {
            mailer
                .purge(user.as_uuid())
                .await
                .map_err(CommandError::internal)?;
        }
        tracing::info!(user.id = %user, actor.id = %admin.user, "user erased: subject key destroyed");
        Ok(seq)
    }

    /// How many administrators are ACTIVE, as their own streams say (the fact the rule
    /// against erasing the last one needs): every stream that registered an administrator,
    /// folded. Administrators are few; an index finds their registrations.
    async fn active_admins(&self) -> Result<usize, CommandError> {
        // Literals, not parameters: only then can the planner use the partial index
        // (migration 0015), whose predicate spells the same two names.
        let streams: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT stream FROM events WHERE type = '{}' AND payload->>'role' = '{}' ORDER BY seq",
            UserRegistered::NAME,
            Role::Admin.as_str(),
        )))
        .fetch_all(self.pool())
        .await?;
        let mut active = 0;
        for stream in streams {
            let id = StreamName::parse(&stream)
                .map_err(CommandError::internal)?
                .id();
            let admin = self
                .kernel()
                .load::<User>(UserId::from_uuid(id))
                .await?
                .state;
            if admin.role() == Some(Role::Admin) && admin.status() == Some(AccountStatus::Active) {
                active += 1;
            }
        }
        Ok(active)
    }
}
