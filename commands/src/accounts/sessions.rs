//! Sessions: opening one at login, finding the caller from a token (with the idle and
//! absolute limits), logging out, revoking, listing, and changing the password (which
//! revokes every other session). A revocation is written to the sessions table before the
//! ledger: if the append then fails, the session is closed all the same (fail closed).

use super::{Accounts, SessionToken};
use crate::{Caller, CommandError, Decision};
use chrono::{DateTime, Utc};
use domain::{
    Timestamp,
    account::{
        Email, Password, PersonName, PolicySubject, Role, User, UserId,
        user::{
            ChangePassword, ChangePasswordError, Logout, RevokeSession, change_password, logout,
            revoke_session,
        },
    },
};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// When it ends if not used again: the earlier of the idle and the absolute limit.
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
    /// How it signed in: "password", "password+totp", "password+recovery-code".
    pub method: String,
}

/// A session's row as sign-in writes it.
pub(super) struct NewSession<'a> {
    pub user: UserId,
    pub role: Role,
    pub session: Uuid,
    pub token: &'a SessionToken,
    pub now: Timestamp,
    pub expires_at: Timestamp,
    pub user_agent: Option<&'a str>,
    pub method: domain::account::user::SignInMethod,
}

/// `last_seen_at` is written at most this often, so reading `me` is not a write.
const TOUCH_EVERY_MICROS: i64 = 60_000_000;

/// What `admit` needs of a `sessions` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    user_agent: Option<String>,
    method: String,
}

impl SessionRow {
    fn ends_at(&self, idle_micros: i64) -> Timestamp {
        let idle_end = Timestamp::from_datetime(self.last_seen_at).plus_micros(idle_micros);
        idle_end.min(Timestamp::from_datetime(self.expires_at))
    }
}

impl Accounts {
    fn idle_micros(&self) -> i64 {
        self.inner.sessions.idle.as_micros() as i64
    }

    pub(super) async fn open_session(&self, new: NewSession<'_>) -> Result<(), CommandError> {
        let user_agent = new
            .user_agent
            .map(|ua| ua.chars().take(256).collect::<String>());
        sqlx::query(
            "INSERT INTO sessions (id, user_id, role, token_hash, created_at, last_seen_at, expires_at, user_agent, method, authenticated_at) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $5)",
        )
        .bind(new.session)
        .bind(new.user.as_uuid())
        .bind(new.role.as_str())
        .bind(new.token.hash().as_slice())
        .bind(new.now.to_datetime())
        .bind(new.expires_at.to_datetime())
        .bind(user_agent)
        .bind(new.method.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The caller a token belongs to; `None` when it is unknown, revoked or expired.
    pub async fn authenticate(&self, token: &SessionToken) -> Result<Option<Caller>, CommandError> {
        let record: Option<SessionRecord> = sqlx::query_as(
            "SELECT id, user_id, role, last_seen_at, expires_at, revoked_at \
             FROM sessions WHERE token_hash = $1",
        )
        .bind(token.hash().as_slice())
        .fetch_optional(self.pool())
        .await?;
        match record {
            Some(record) => self.admit(&record).await,
            None => Ok(None),
        }
    }

    /// Whether a session is still live (not revoked, not past its limits), without
    /// marking it used: for connections that outlive a request (subscriptions).
    pub async fn session_is_live(&self, session: Uuid) -> Result<bool, CommandError> {
        let record: Option<SessionRecord> = sqlx::query_as(
            "SELECT id, user_id, role, last_seen_at, expires_at, revoked_at \
             FROM sessions WHERE id = $1",
        )
        .bind(session)
        .fetch_optional(self.pool())
        .await?;
        Ok(record.is_some_and(|r| self.is_live(&r)))
    }

    fn is_live(&self, record: &SessionRecord) -> bool {
        let ends_at = Timestamp::from_datetime(record.last_seen_at)
            .plus_micros(self.idle_micros())
            .min(Timestamp::from_datetime(record.expires_at));
        record.revoked_at.is_none() && self.inner.clock.now() < ends_at
    }

    /// The rule for a session, in one place: the caller, if the session is neither revoked
    /// nor past its idle or absolute limit. Marks it used (at most once a minute). Takes a
    /// record the caller may have read joined with other rows, to spare a round trip.
    pub async fn admit(&self, record: &SessionRecord) -> Result<Option<Caller>, CommandError> {
        if !self.is_live(record) {
            return Ok(None);
        }
        let now = self.inner.clock.now();
        let last_seen = Timestamp::from_datetime(record.last_seen_at);
        let role = Role::parse(&record.role).map_err(CommandError::internal)?;
        if last_seen.plus_micros(TOUCH_EVERY_MICROS) <= now {
            sqlx::query(
                "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
            )
            .bind(record.id)
            .bind(now.to_datetime())
            .execute(self.pool())
            .await?;
        }
        Ok(Some(Caller {
            user: UserId::from_uuid(record.user_id),
            role,
            session: record.id,
        }))
    }

    /// Ends the caller's own session. Returns the seq of `LoggedOut`.
    pub async fn logout(&self, caller: &Caller) -> Result<i64, CommandError> {
        self.close_session(caller, caller.session, true).await
    }

    /// Ends one of the caller's sessions (any of their own; NOT_FOUND otherwise).
    pub async fn revoke_session(
        &self,
        caller: &Caller,
        session: Uuid,
    ) -> Result<i64, CommandError> {
        self.close_session(caller, session, false).await
    }

    async fn close_session(
        &self,
        caller: &Caller,
        session: Uuid,
        own: bool,
    ) -> Result<i64, CommandError> {
        let now = self.inner.clock.now();
        let closed = sqlx::query(
            "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(session)
        .bind(caller.user.as_uuid())
        .bind(now.to_datetime())
        .execute(self.pool())
        .await?;
        if closed.rows_affected() == 0 {
            return Err(CommandError::NotFound("no such session".into()));
        }
        let decide = |user: &User| {
            if own {
                logout(user, Logout { session })
            } else {
                revoke_session(user, RevokeSession { session })
            }
            .map(Decision::events)
            .map_err(|e| CommandError::NotFound(e.to_string()))
        };
        let seq = self
            .kernel()
            .execute(caller.user, Some(caller.user), decide)
            .await?
            .seq;
        tracing::info!(user.id = %caller.user, session.id = %session, "session closed");
        Ok(seq)
    }

    /// The caller's live sessions, newest first.
    pub async fn sessions(&self, caller: &Caller) -> Result<Vec<SessionInfo>, CommandError> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT id, created_at, last_seen_at, expires_at, user_agent, method \
             FROM sessions WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id",
        )
        .bind(caller.user.as_uuid())
        .fetch_all(self.pool())
        .await?;
        let now = self.inner.clock.now();
        let idle = self.idle_micros();
        Ok(rows
            .into_iter()
            .filter(|r| now < r.ends_at(idle))
            .map(|r| SessionInfo {
                id: r.id,
                created_at: Timestamp::from_datetime(r.created_at),
                last_seen_at: Timestamp::from_datetime(r.last_seen_at),
                expires_at: r.ends_at(idle),
                user_agent: r.user_agent,
                method: r.method,
            })
            .collect())
    }

    /// Checks the current password, applies the policy to the new one, and revokes every
    /// other session and every unused reset link. Returns the seq of `PasswordChanged`.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: String,
        new: String,
    ) -> Result<i64, CommandError> {
        let id = caller.user;
        let stream = id.stream();
        let user = self.kernel().load::<User>(id).await?.state;
        let account = user
            .account()
            .ok_or_else(|| CommandError::NotFound("no such account".into()))?;
        let Some(key) = self.live_key(id).await? else {
            return Err(CommandError::NotFound("no such account".into()));
        };
        let s = stream.as_str();
        let open = |field: &str, sealed| {
            key.open_string(s, field, sealed)
                .map_err(CommandError::internal)
        };
        let email =
            Email::parse(&open("email", &account.email)?).map_err(CommandError::internal)?;
        let name =
            PersonName::parse(&open("name", &account.name)?).map_err(CommandError::internal)?;
        let phc = open("passwordHash", &account.password_hash)?;

        let matches = match Password::for_login(current) {
            Ok(current) => {
                self.inner
                    .hasher
                    .verify(current.expose(), Some(&phc))
                    .await?
            }
            Err(_) => false,
        };
        if !matches {
            return Err(CommandError::BadInput(
                ChangePasswordError::WrongCurrentPassword.to_string(),
            ));
        }
        let new = Password::new_checked(
            new,
            &PolicySubject {
                email: &email,
                name: &name,
            },
        )
        .map_err(CommandError::bad_input)?;
        let hash = self.inner.hasher.hash(new.expose()).await?;
        let password_hash = key.seal_str(s, "passwordHash", &hash);
        let decide = |user: &User| {
            let change = ChangePassword {
                current_password_matches: matches,
                password_hash: password_hash.clone(),
                kept_session: Some(caller.session),
            };
            change_password(user, change)
                .map(Decision::events)
                .map_err(|e| match e {
                    ChangePasswordError::WrongCurrentPassword => {
                        CommandError::BadInput(e.to_string())
                    }
                    other => CommandError::NotFound(other.to_string()),
                })
        };
        let seq = self
            .kernel()
            .execute_then(id, Some(id), decide, || async {
                // A reset link mailed before the change must not undo it.
                self.void_reset_links(id).await?;
                self.revoke_sessions(id, Some(caller.session)).await
            })
            .await?
            .seq;
        tracing::info!(user.id = %id, "password changed; other sessions and reset links revoked");
        Ok(seq)
    }
}
