//! Password reset by e-mail. Asking answers at once and the same way whether or not the
//! address is known: the lookup, the token and the mail happen afterwards, in a task, so
//! the answer's time says nothing. The token (256 random bits, the shape of a session
//! token) is stored hashed, lives 30 minutes and is consumed once; using it applies the
//! password policy, ends every session and voids the account's other links (so does a
//! password change). Requests are limited per address asked about and per client address
//! (`rate_limit`), past which nothing is mailed or recorded; the answer never changes.

use super::{Accounts, SessionToken};
use crate::{
    CommandError, Decision,
    rate_limit::{Bucket, Subject},
};
use domain::account::{
    Email, Password, PersonName, PolicySubject, User, UserId,
    user::{request_password_reset, reset_password},
};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

pub const RESET_TOKEN_LIFETIME_MICROS: i64 = 30 * 60 * 1_000_000;

impl Accounts {
    /// Always succeeds; a link is mailed if the address belongs to an account and neither
    /// limit is spent.
    pub fn request_password_reset(&self, email: &str, address: Option<IpAddr>) {
        let Ok(email) = Email::parse(email) else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            match this.within_reset_limits(&email, address).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!("a password-reset request past its limit: nothing sent");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "a password-reset request could not be counted");
                    return;
                }
            }
            if let Err(e) = this.send_reset_link(&email).await {
                tracing::error!(error = %e, "a password-reset request could not be completed");
            }
        });
    }

    /// Counts the request against both limits; false when either is spent.
    async fn within_reset_limits(
        &self,
        email: &Email,
        address: Option<IpAddr>,
    ) -> Result<bool, CommandError> {
        let now = self.inner.clock.now();
        let limits = &self.inner.limits;
        let rules = limits.limits;
        if let Some(address) = address
            && limits
                .take(
                    Bucket::Reset,
                    rules.reset_per_address,
                    Subject::Address(address),
                    now,
                )
                .await?
                .is_err()
        {
            return Ok(false);
        }
        Ok(limits
            .take(
                Bucket::Reset,
                rules.reset_per_account,
                Subject::Account(email.as_str()),
                now,
            )
            .await?
            .is_ok())
    }

    /// Voids every unused reset link of `user`: after a reset or a password change, an
    /// older link must not set the password again.
    pub(super) async fn void_reset_links(&self, user: UserId) -> Result<(), CommandError> {
        sqlx::query(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.as_uuid())
        .bind(self.inner.clock.now().to_datetime())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn send_reset_link(&self, email: &Email) -> Result<(), CommandError> {
        let Some(mailer) = self.inner.mailer.as_ref() else {
            return Err(CommandError::Internal("no mailer is configured".into()));
        };
        let Some((id, _)) = self.find_by_email(email).await? else {
            return Ok(());
        };
        let now = self.inner.clock.now();
        let token = &SessionToken::generate();
        // Safe to repeat after a lost race: the same token, stored once.
        let store_token = move || async move {
            sqlx::query(
                "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING",
            )
            .bind(token.hash().as_slice())
            .bind(id.as_uuid())
            .bind(now.to_datetime())
            .bind(now.plus_micros(RESET_TOKEN_LIFETIME_MICROS).to_datetime())
            .execute(self.pool())
            .await?;
            Ok(())
        };
        // Refused (no account, erased): nothing is recorded and nothing is sent.
        let decide = |state: &User| {
            Ok(Decision::events(
                request_password_reset(state).unwrap_or_default(),
            ))
        };
        let done = self
            .kernel()
            .execute_then(id, None, decide, store_token)
            .await?;
        if !done.appended {
            return Ok(());
        }
        let link = mailer.link(&format!("/reset?token={}", token.expose()));
        let body = format!(
            "Someone asked to set a new password for your MedChain account.\n\n\
             To choose a new password, open this link within 30 minutes:\n\n{link}\n\n\
             The link works once. If you did not ask for it, ignore this message: your \
             password stays as it is.\n"
        );
        mailer
            .send(
                id.as_uuid(),
                email.as_str(),
                "Set a new MedChain password",
                body,
            )
            .await
            .map_err(CommandError::internal)?;
        tracing::info!(user.id = %id, "password-reset link sent");
        Ok(())
    }

    /// Consumes the token and sets the password. Returns the seq of `PasswordReset`.
    pub async fn reset_password(&self, token: &str, new: String) -> Result<i64, CommandError> {
        let invalid =
            || CommandError::BadInput("the reset link is unknown, used or expired".into());
        let token = SessionToken::parse(token.trim()).map_err(|_| invalid())?;
        let now = self.inner.clock.now();
        let user: Option<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM password_resets \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token.hash().as_slice())
        .bind(now.to_datetime())
        .fetch_optional(self.pool())
        .await?;
        let id = UserId::from_uuid(user.ok_or_else(invalid)?);
        let state = self.kernel().load::<User>(id).await?.state;
        let account = state.account().ok_or_else(invalid)?;
        let Some(key) = self.live_key(id).await? else {
            return Err(invalid());
        };
        let stream = id.stream();
        let open = |field: &str, sealed| {
            key.open_string(stream.as_str(), field, sealed)
                .map_err(CommandError::internal)
        };
        let email =
            Email::parse(&open("email", &account.email)?).map_err(CommandError::internal)?;
        let name =
            PersonName::parse(&open("name", &account.name)?).map_err(CommandError::internal)?;
        let password = Password::new_checked(
            new,
            &PolicySubject {
                email: &email,
                name: &name,
            },
        )
        .map_err(CommandError::bad_input)?;
        let hash = self.inner.hasher.hash(password.expose()).await?;
        let sealed = key.seal_str(stream.as_str(), "passwordHash", &hash);
        let decide = |state: &User| {
            reset_password(state, sealed.clone())
                .map(Decision::events)
                .map_err(|_| invalid())
        };
        // Consumed once, even by two requests at the same moment (and not again when a
        // lost race is decided again); then every session ends, before the ledger says so,
        // on every attempt, so a sign-in that won a race is closed too.
        let consumed = &AtomicBool::new(false);
        let token = &token;
        let before_append = move || async move {
            if consumed.swap(true, Ordering::SeqCst) {
                // A link mailed meanwhile is voided too.
                self.void_reset_links(id).await?;
                return self.revoke_sessions(id, None).await;
            }
            let used = sqlx::query(
                "UPDATE password_resets SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL",
            )
            .bind(token.hash().as_slice())
            .bind(now.to_datetime())
            .execute(self.pool())
            .await?;
            if used.rows_affected() != 1 {
                return Err(invalid());
            }
            self.void_reset_links(id).await?;
            self.revoke_sessions(id, None).await
        };
        let seq = self
            .kernel()
            .execute_then(id, Some(id), decide, before_append)
            .await?
            .seq;
        tracing::info!(user.id = %id, "password reset; every session revoked");
        Ok(seq)
    }
}
