//! Logging in: the address throttle, the per-account limit of the ledger, Argon2id off
//! the executor, and a new session. An unknown address costs the same Argon2 work as a
//! wrong password, so the time of an answer says nothing about which it was.

use super::{Accounts, CommandError, SessionToken};
use crate::{AppendError, keys::SubjectKey};
use domain::{
    Timestamp,
    account::{
        Email, Password, Role, UserId,
        user::{Login, LoginRefused, login},
    },
};
use std::net::IpAddr;
use uuid::Uuid;

pub struct LoginRequest {
    pub email: String,
    pub password: String,
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
    pub seq: i64,
}

const WRONG: &str = "the e-mail address or password is wrong";
/// Appends that lose a race with another write to the same user are tried again.
const ATTEMPTS: usize = 3;

impl Accounts {
    pub async fn login(&self, request: LoginRequest) -> Result<LoggedIn, CommandError> {
        let now = self.inner.clock.now();
        if let Some(address) = request.address
            && let Some(until) = self.inner.throttle.blocked_until(address, now)
        {
            return Err(CommandError::RateLimited(format!(
                "too many failed sign-ins from this address; try again after {until}"
            )));
        }
        let wrong = || {
            if let Some(address) = request.address {
                self.inner.throttle.record_failure(address, now);
            }
            CommandError::Unauthenticated(WRONG.into())
        };
        let Ok(password) = Password::for_login(request.password.clone()) else {
            return Err(wrong());
        };
        let user = match Email::parse(&request.email) {
            Ok(email) => self.find_by_email(&email).await?,
            Err(_) => None,
        };
        let Some((id, key)) = user else {
            self.inner.hasher.verify(password.expose(), None).await;
            return Err(wrong());
        };
        let stream = id.stream();
        for attempt in 1..=ATTEMPTS {
            let (user, version) = self.load(id).await?;
            if let Some(until) = user.login_locked_until(now) {
                return Err(CommandError::RateLimited(format!(
                    "too many wrong passwords: sign-in is locked until {until}"
                )));
            }
            let (Some(account), Some(key)) = (user.account(), key.as_ref()) else {
                // Reserved but not yet registered, or erased: unknown, at the same cost.
                self.inner.hasher.verify(password.expose(), None).await;
                return Err(wrong());
            };
            let phc = key
                .open_string(stream.as_str(), "passwordHash", &account.password_hash)
                .map_err(CommandError::internal)?;
            let matches = self
                .inner
                .hasher
                .verify(password.expose(), Some(&phc))
                .await;
            let session = Uuid::new_v4();
            let expires_at = now.plus_micros(self.inner.sessions.absolute.as_micros() as i64);
            let decision = login(
                &user,
                Login {
                    password_matches: matches,
                    now,
                    session,
                    expires_at,
                },
            );
            let mut seq = 0;
            if !decision.events.is_empty() {
                // A success is the user's own act; a failure is someone's claim to be them.
                let actor = decision.outcome.is_ok().then(|| id.as_uuid());
                match self.append(&stream, version, actor, &decision.events).await {
                    Ok(s) => seq = s,
                    Err(CommandError::Conflict(_)) if attempt < ATTEMPTS => continue,
                    Err(e) => return Err(e),
                }
            }
            return match decision.outcome {
                Ok(()) => {
                    let token = SessionToken::generate();
                    let role = account.role;
                    self.open_session(
                        id,
                        role,
                        session,
                        &token,
                        now,
                        expires_at,
                        request.user_agent.as_deref(),
                    )
                    .await?;
                    tracing::info!(user.id = %id, session.id = %session, "logged in");
                    Ok(LoggedIn {
                        token,
                        session,
                        user: id,
                        role,
                        expires_at,
                        seq,
                    })
                }
                Err(refused) => Err(match refused {
                    LoginRefused::WrongPassword
                    | LoginRefused::NoAccount
                    | LoginRefused::Erased => wrong(),
                    LoginRefused::RateLimited { .. } => {
                        CommandError::RateLimited(refused.to_string())
                    }
                    LoginRefused::PendingApproval
                    | LoginRefused::Rejected
                    | LoginRefused::Suspended => CommandError::Forbidden(refused.to_string()),
                }),
            };
        }
        Err(AppendError::Conflict {
            stream: stream.to_string(),
            expected: 0,
            actual: 0,
        }
        .into())
    }

    /// The account an address belongs to, with its subject key (`None` once erased), in
    /// one round trip.
    pub(super) async fn find_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<(UserId, Option<SubjectKey>)>, CommandError> {
        let index = self.inner.keys.blind_index(email);
        let row: Option<(Uuid, bool, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT e.user_id, k.subject_id IS NOT NULL, k.wrapped \
             FROM email_index e LEFT JOIN subject_keys k ON k.subject_id = e.user_id \
             WHERE e.hmac = $1",
        )
        .bind(index.as_bytes().as_slice())
        .fetch_optional(self.pool())
        .await?;
        let Some((id, has_key, wrapped)) = row else {
            return Ok(None);
        };
        let key = self
            .inner
            .keys
            .subject_key_from_row(id, has_key.then_some(wrapped))?
            .live();
        Ok(Some((UserId::from_uuid(id), key)))
    }
}
