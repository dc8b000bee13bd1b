//! Read tokens for apps (DESIGN.md §12): minting one (after a recent sign-in: the secret
//! is 256 random bits, shown once, kept only as its SHA-256), listing, revoking, and the
//! one rule that admits a token's bearer. The rule says nothing about where a token is
//! accepted: that is the FHIR routes', which alone ask for `admit_read_token`; every
//! other route parses credentials as session tokens, which a read token never is.
//!
//! A revocation is written to `read_tokens` before the ledger (fail closed), and ending
//! all of a person's sessions (suspension, erasure, a password reset, a reset of their
//! factors) ends their tokens too.

use super::Accounts;
use crate::{Caller, CommandError, Decision};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use domain::{
    Timestamp,
    account::{
        Role, User, UserId,
        user::{CreateReadToken, ReadTokenError, create_read_token, revoke_read_token},
    },
};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use std::fmt;
use uuid::Uuid;

/// What every read token starts with, so a person (and a secret scanner) can tell one
/// from a session token, and no route mistakes one for the other.
pub const READ_TOKEN_PREFIX: &str = "mcr_";
/// A name is for the person's own list: "Apple Health on my phone".
const NAME_MAX: usize = 64;
/// `last_used_at` is written at most this often.
const TOUCH_EVERY_MICROS: i64 = 60_000_000;

/// The secret an app holds: `mcr_` and 32 random bytes in unpadded base64url.
#[derive(Clone)]
pub struct ReadTokenSecret(String);

impl ReadTokenSecret {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!(
            "{READ_TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// A bearer credential that has the shape of a read token, if it has.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(READ_TOKEN_PREFIX)?;
        let ok = body.len() == 43
            && URL_SAFE_NO_PAD
                .decode(body)
                .is_ok_and(|bytes| bytes.len() == 32);
        ok.then(|| Self(raw.to_owned()))
    }

    /// Shown once, when it is made.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for ReadTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReadTokenSecret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct ReadTokenInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    role: String,
    expires_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

fn token_error(e: ReadTokenError) -> CommandError {
    use ReadTokenError as E;
    match e {
        E::ReauthRequired => CommandError::ForbiddenBecause {
            reason: super::factors::REAUTH_REQUIRED,
            message: e.to_string(),
        },
        E::NotActive => CommandError::Forbidden(e.to_string()),
        E::ExpiryPassed | E::ExpiryTooFar => CommandError::BadInput(e.to_string()),
        E::TooMany | E::AlreadyRevoked => CommandError::Conflict(e.to_string()),
        E::NoSuchToken => CommandError::NotFound(e.to_string()),
    }
}

impl Accounts {
    /// Mints a read token for the caller; the secret is in the answer and nowhere else.
    pub async fn create_read_token(
        &self,
        caller: &Caller,
        name: &str,
        expires_at: Timestamp,
    ) -> Result<(ReadTokenInfo, ReadTokenSecret), CommandError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return Err(CommandError::BadInput(format!(
                "a read token's name is 1 to {NAME_MAX} characters (the app it is for)"
            )));
        }
        let (_, key) = self.own_account(caller).await?;
        let step_up = self.step_up(caller).await?;
        let token = Uuid::new_v4();
        let sealed = key.seal_str(caller.user.stream().as_str(), "readTokenName", name);
        let cmd = CreateReadToken {
            token,
            name: sealed,
            expires_at,
            step_up,
        };
        let decide = |user: &User| {
            create_read_token(user, cmd.clone())
                .map(Decision::events)
                .map_err(token_error)
        };
        self.kernel()
            .execute(caller.user, Some(caller.user), decide)
            .await?;
        // After the ledger: a token the ledger does not know must never work. Should this
        // insert fail, the ledger names a token nobody holds.
        let secret = ReadTokenSecret::generate();
        sqlx::query(
            "INSERT INTO read_tokens (id, user_id, role, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token)
        .bind(caller.user.as_uuid())
        .bind(caller.role.as_str())
        .bind(secret.hash().as_slice())
        .bind(step_up.now.to_datetime())
        .bind(expires_at.to_datetime())
        .execute(self.pool())
        .await?;
        let info = ReadTokenInfo {
            id: token,
            name: name.to_owned(),
            created_at: step_up.now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        Ok((info, secret))
    }

    /// The caller's read tokens, newest first, revoked and expired ones included.
    pub async fn read_tokens(&self, user: UserId) -> Result<Vec<ReadTokenInfo>, CommandError> {
        let state = self.kernel().load::<User>(user).await?.state;
        let Some(key) = self.live_key(user).await? else {
            return Ok(Vec::new());
        };
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT id, user_id, role, expires_at, last_used_at, revoked_at \
             FROM read_tokens WHERE user_id = $1",
        )
        .bind(user.as_uuid())
        .fetch_all(self.pool())
        .await?;
        let stream = user.stream();
        let mut tokens = state
            .read_tokens()
            .iter()
            .map(|(id, t)| {
                let row = rows.iter().find(|r| r.id == *id);
                let revoked_at = row
                    .and_then(|r| r.revoked_at)
                    .map(Timestamp::from_datetime)
                    // Revoked on the ledger; the row went missing or never came.
                    .or_else(|| (t.revoked || row.is_none()).then_some(t.created_at));
                Ok(ReadTokenInfo {
                    id: *id,
                    name: key
                        .open_string(stream.as_str(), "readTokenName", &t.name)
                        .map_err(CommandError::internal)?,
                    created_at: t.created_at,
                    expires_at: t.expires_at,
                    last_used_at: row
                        .and_then(|r| r.last_used_at)
                        .map(Timestamp::from_datetime),
                    revoked_at,
                })
            })
            .collect::<Result<Vec<_>, CommandError>>()?;
        tokens.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
        Ok(tokens)
    }

    /// Revokes one of the caller's tokens: refused from then on, before the ledger says so.
    pub async fn revoke_read_token(
        &self,
        caller: &Caller,
        token: Uuid,
    ) -> Result<ReadTokenInfo, CommandError> {
        let decide = |user: &User| {
            revoke_read_token(user, token)
                .map(Decision::events)
                .map_err(token_error)
        };
        let now = self.inner.clock.now();
        self.kernel()
            .execute_then(caller.user, Some(caller.user), decide, || async {
                sqlx::query(
                    "UPDATE read_tokens SET revoked_at = $3 \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                )
                .bind(token)
                .bind(caller.user.as_uuid())
                .bind(now.to_datetime())
                .execute(self.pool())
                .await?;
                Ok(())
            })
            .await?;
        self.read_tokens(caller.user)
            .await?
            .into_iter()
            .find(|t| t.id == token)
            .ok_or_else(|| CommandError::NotFound("there is no such read token".into()))
    }

    /// The rule for a read token, in one place: its holder, while the token is neither
    /// revoked nor expired and its account is active. Marks it used (at most once a
    /// minute). `Caller::session` is the token's id.
    pub async fn admit_read_token(
        &self,
        secret: &ReadTokenSecret,
    ) -> Result<Option<Caller>, CommandError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT t.id, t.user_id, t.role, t.expires_at, t.last_used_at, t.revoked_at \
             FROM read_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND u.status = 'ACTIVE'",
        )
        .bind(secret.hash().as_slice())
        .fetch_optional(self.pool())
        .await?;
        let now = self.inner.clock.now();
        let Some(row) =
            row.filter(|r| r.revoked_at.is_none() && now < Timestamp::from_datetime(r.expires_at))
        else {
            return Ok(None);
        };
        let stale = row
            .last_used_at
            .is_none_or(|at| Timestamp::from_datetime(at).plus_micros(TOUCH_EVERY_MICROS) <= now);
        if stale {
            sqlx::query("UPDATE read_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(row.id)
                .bind(now.to_datetime())
                .execute(self.pool())
                .await?;
        }
        Ok(Some(Caller {
            user: UserId::from_uuid(row.user_id),
            role: Role::parse(&row.role).map_err(CommandError::internal)?,
            session: row.id,
        }))
    }

    /// Every token of `user` revoked at once (their sessions all ended).
    pub(super) async fn revoke_all_read_tokens(&self, user: UserId) -> Result<(), CommandError> {
        sqlx::query(
            "UPDATE read_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user.as_uuid())
        .bind(self.inner.clock.now().to_datetime())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_parses_only_in_its_own_shape_and_hides_in_debug() {
        let s = ReadTokenSecret::generate();
        assert!(s.expose().starts_with(READ_TOKEN_PREFIX));
        assert_eq!(ReadTokenSecret::parse(s.expose()).unwrap().hash(), s.hash());
        // A session token (the same body without the prefix) is not a read token.
        assert!(ReadTokenSecret::parse(&s.expose()[READ_TOKEN_PREFIX.len()..]).is_none());
        assert!(ReadTokenSecret::parse("mcr_short").is_none());
        assert_eq!(format!("{s:?}"), "ReadTokenSecret(***)");
    }
}
