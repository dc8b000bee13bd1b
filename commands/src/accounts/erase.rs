//! Erasure by crypto-shredding (DESIGN.md §4). In this order, each step safe to repeat:
//! the sessions end; `UserErased` goes on the ledger (who, whom, why); the subject key
//! is destroyed, so every field sealed under it is unreadable from then on, in every view
//! and after any rebuild; the e-mail's blind-index entry goes, so the address is unknown
//! and can register again. Erasing an erased person repeats only the last two steps, so
//! a crash part-way is finished by asking again.

use super::{Accounts, Caller, CommandError, require_admin};
use domain::account::{
    Reason, UserId,
    user::{Erase, EraseError, erase},
};

impl Accounts {
    /// `active_admins`: how many ACTIVE administrators the users view counts now. Returns
    /// the seq of `UserErased` (or of the stream's last event, when it was erased before).
    pub async fn erase_user(
        &self,
        admin: &Caller,
        user: UserId,
        reason: &str,
        active_admins: usize,
    ) -> Result<i64, CommandError> {
        require_admin(admin)?;
        let reason = Reason::parse(reason).map_err(CommandError::bad_input)?;
        let (state, version) = self.load(user).await?;
        let events = erase(
            &state,
            Erase {
                by: admin.user,
                reason,
                active_admins,
            },
        )
        .map_err(|e| match e {
            EraseError::NoAccount => CommandError::NotFound(e.to_string()),
            EraseError::SelfErasure | EraseError::LastAdmin => {
                CommandError::Forbidden(e.to_string())
            }
        })?;
        self.revoke_sessions(user, None).await?;
        let seq = if events.is_empty() {
            self.inner
                .store
                .read_stream(&user.stream())
                .await?
                .last()
                .map_or(0, |e| e.seq)
        } else {
            self.append(&user.stream(), version, Some(admin.user.as_uuid()), &events)
                .await?
        };
        self.inner
            .keys
            .destroy_subject_key(self.pool(), user.as_uuid())
            .await?;
        self.delete_photo(user).await?;
        sqlx::query("DELETE FROM email_index WHERE user_id = $1")
            .bind(user.as_uuid())
            .execute(self.pool())
            .await?;
        tracing::info!(user.id = %user, actor.id = %admin.user, "user erased: subject key destroyed");
        Ok(seq)
    }
}
