//! Logging in: the limits per client address and per account (`rate_limit`, shared by
//! every process; the ledger's own per-account limit behind them), Argon2id off the
//! executor, and a new session. An unknown address costs the same Argon2 work as a
//! wrong password, so the time of an answer says nothing about which it was.

use super::{Accounts, SessionToken, factors, sessions::NewSession};
use crate::{
    CommandError, Decision,
    keys::{SubjectKey, WrappedKey},
    rate_limit::{Bucket, Subject, wait_words},
};
use domain::{
    Timestamp,
    account::{
        Email, Password, Role, User, UserId,
        user::{FactorUsed, Login, LoginRefused, SignInMethod, login},
    },
};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// A TOTP code or a recovery code, for an account with a second factor.
    pub otp: Option<String>,
    /// The client's address, for the per-address limit.
    pub address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

#[derive(Debug)]
pub struct LoggedIn {
    pub token: SessionToken,
    pub session: Uuid,
    pub user: UserId,
    pub role: Role,
    pub expires_at: Timestamp,
    pub method: SignInMethod,
    pub seq: i64,
}

const WRONG: &str = "the e-mail address or password is wrong";

/// The answer while an account's sign-in is locked, the same for every address typed.
fn locked(until: Timestamp, now: Timestamp) -> CommandError {
    CommandError::RateLimited(format!(
        "too many failed sign-ins for this account; {}",
        wait_words(until, now)
    ))
}

impl Accounts {
    pub async fn login(&self, request: LoginRequest) -> Result<LoggedIn, CommandError> {
        let now = self.inner.clock.now();
        let limits = &self.inner.limits;
        let rules = limits.limits;
        let account = Subject::Account(&request.email);
        self.address_may_sign_in(request.address, now).await?;
        // Counted by the address typed, whether or not it has an account, and asked before
        // anything is looked up: a locked known address and a locked unknown one get the
        // same answer at the same cost.
        if let Some(until) = limits
            .blocked_until(Bucket::Login, rules.login_per_account, account, now)
            .await?
        {
            return Err(locked(until, now));
        }
        let wrong = || async {
            if let Some(address) = request.address {
                limits
                    .count(Bucket::Login, Subject::Address(address), now)
                    .await?;
            }
            limits.count(Bucket::Login, account, now).await?;
            Ok::<_, CommandError>(CommandError::Unauthenticated(WRONG.into()))
        };
        let Ok(password) = Password::for_login(request.password.clone()) else {
            return Err(wrong().await?);
        };
        let user = match Email::parse(&request.email) {
            Ok(email) => self.find_by_email(&email).await?,
            Err(_) => None,
        };
        let Some((id, key)) = user else {
            self.inner.hasher.verify(password.expose(), None).await?;
            return Err(wrong().await?);
        };
        let stream = id.stream();
        let user = self.kernel().load::<User>(id).await?.state;
        if let Some(until) = user.login_locked_until(now) {
            return Err(locked(until, now));
        }
        let (Some(account), Some(key)) = (user.account(), key.as_ref()) else {
            // Reserved but not yet registered, or erased: unknown, at the same cost.
            self.inner.hasher.verify(password.expose(), None).await?;
            return Err(wrong().await?);
        };
        let phc = key
            .open_string(stream.as_str(), "passwordHash", &account.password_hash)
            .map_err(CommandError::internal)?;
        let matches = self
            .inner
            .hasher
            .verify(password.expose(), Some(&phc))
            .await?;
        let (checked_hash, role) = (account.password_hash.clone(), account.role);
        let session = Uuid::new_v4();
        let expires_at = now.plus_micros(self.inner.sessions.absolute.as_micros() as i64);
        // The session's row is written before the ledger records the sign-in, so a
        // suspension (or a password change) that revokes every session and wins the race
        // finds it; a sign-in the ledger does not record as granted removes it again.
        let granted = &AtomicBool::new(false);
        let opened = &AtomicBool::new(false);
        let factor: &Mutex<Option<FactorUsed>> = &Mutex::new(None);
        let token = &SessionToken::generate();
        let user_agent = request.user_agent.as_deref();
        let open = move || async move {
            if granted.load(Ordering::SeqCst) && !opened.swap(true, Ordering::SeqCst) {
                let used = *factor.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(FactorUsed::RecoveryCode(_)) = used {
                    // A recovery code is used when the device is lost: whoever may hold
                    // it loses the sessions it had.
                    self.revoke_sessions(id, Some(session)).await?;
                }
                self.open_session(NewSession {
                    user: id,
                    role,
                    session,
                    token,
                    now,
                    expires_at,
                    user_agent,
                    method: SignInMethod::of(used),
                })
                .await?;
            }
            Ok(())
        };
        let decide = |user: &User| {
            if user.account().map(|a| &a.password_hash) != Some(&checked_hash) {
                // The password changed since it was checked: check again.
                return Err(CommandError::Conflict(
                    "someone else changed this at the same moment; try again".into(),
                ));
            }
            // The code is compared only once the password matched: a guesser learns
            // nothing about it, and spends no code.
            let code = match (&request.otp, matches && user.has_totp()) {
                (Some(typed), true) => Some(factors::check_code(user, key, typed, now)?),
                _ => None,
            };
            let attempt = Login {
                password_matches: matches,
                now,
                session,
                expires_at,
                code,
            };
            let decision = login(user, attempt);
            granted.store(decision.outcome.is_ok(), Ordering::SeqCst);
            *factor.lock().unwrap_or_else(|e| e.into_inner()) =
                decision.events.iter().find_map(|e| match e {
                    domain::account::UserEvent::LoginSucceeded(s) => s.factor,
                    _ => None,
                });
            // A success is the user's own act; a failure is someone's claim to be them.
            let actor = decision.outcome.is_ok().then_some(id);
            Ok(Decision::new(decision.events, decision.outcome).by(actor))
        };
        let done = self.kernel().execute_then(id, None, decide, open).await;
        if opened.load(Ordering::SeqCst) && !done.as_ref().is_ok_and(|d| d.outcome.is_ok()) {
            self.remove_unrecorded_session(session).await;
        }
        let done = done?;
        let seq = if done.appended { done.seq } else { 0 };
        match done.outcome {
            Ok(()) => {
                tracing::info!(user.id = %id, session.id = %session, "logged in");
                Ok(LoggedIn {
                    token: token.clone(),
                    session,
                    user: id,
                    role,
                    expires_at,
                    method: SignInMethod::of(*factor.lock().unwrap_or_else(|e| e.into_inner())),
                    seq,
                })
            }
            Err(refused) => Err(match refused {
                LoginRefused::WrongPassword | LoginRefused::NoAccount | LoginRefused::Erased => {
                    wrong().await?
                }
                LoginRefused::RateLimited { until } => locked(until, now),
                LoginRefused::MfaRequired => CommandError::ForbiddenBecause {
                    reason: factors::MFA_REQUIRED,
                    message: refused.to_string(),
                },
                // Counted like a wrong password at the address; the account's own count
                // is the ledger's (`SecondFactorFailed`), stricter.
                LoginRefused::WrongCode => {
                    if let Some(address) = request.address {
                        limits
                            .count(Bucket::Login, Subject::Address(address), now)
                            .await?;
                    }
                    CommandError::Unauthenticated(refused.to_string())
                }
                LoginRefused::CodesLocked { .. } => CommandError::RateLimited(refused.to_string()),
                LoginRefused::PendingApproval
                | LoginRefused::Rejected
                | LoginRefused::Suspended => CommandError::Forbidden(refused.to_string()),
            }),
        }
    }

    /// The per-address limit on failed sign-ins (passwords, codes, passkeys alike), asked
    /// before anything else a sign-in or a step-up does.
    pub(super) async fn address_may_sign_in(
        &self,
        address: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(), CommandError> {
        let limits = &self.inner.limits;
        if let Some(address) = address
            && let Some(until) = limits
                .blocked_until(
                    Bucket::Login,
                    limits.limits.login_per_address,
                    Subject::Address(address),
                    now,
                )
                .await?
        {
            return Err(CommandError::RateLimited(format!(
                "too many failed sign-ins from this address; {}",
                wait_words(until, now)
            )));
        }
        Ok(())
    }

    /// Removes the row of a session whose sign-in the ledger did not record as granted
    /// (refused on a second decision after a lost race, or not appended at all). Its token
    /// was never handed out; should this fail, the row is a session nobody can present.
    pub(super) async fn remove_unrecorded_session(&self, session: Uuid) {
        let removed = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(session)
            .execute(self.pool())
            .await;
        if let Err(e) = removed {
            tracing::warn!(session.id = %session, error = %e, "could not remove an unrecorded session");
        }
    }

    /// The account an address belongs to, with its subject key (`None` once erased), in
    /// one round trip.
    pub(super) async fn find_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<(UserId, Option<SubjectKey>)>, CommandError> {
        let index = self.inner.keys.blind_index(email);
        let row: Option<(Uuid, Option<Vec<u8>>, Option<i32>)> = sqlx::query_as(
            "SELECT e.user_id, k.wrapped, k.epoch \
             FROM email_index e LEFT JOIN subject_keys k ON k.subject_id = e.user_id \
             WHERE e.hmac = $1",
        )
        .bind(index.as_bytes().as_slice())
        .fetch_optional(self.pool())
        .await?;
        let Some((id, wrapped, epoch)) = row else {
            return Ok(None);
        };
        let key = self
            .inner
            .keys
            .subject_key_from_row(id, WrappedKey::from_columns(wrapped, epoch))
            .await?
            .live();
        Ok(Some((UserId::from_uuid(id), key)))
    }
}
