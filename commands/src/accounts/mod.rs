//! Accounts: registering, logging in and out, sessions, password changes, and
//! administrators' decisions (approve, reject, suspend, erase). Each action gathers the
//! facts its rule needs (the password compared with its hash, the time, the address
//! free) and runs the pure decisions of `domain::account::user` through the kernel.
//!
//! What is kept beside the ledger, and why: the blind index of e-mail addresses (it must
//! be deletable on erasure), the subject keys (`keys`), and sessions (their last use moves
//! on every request; the ledger records each login, logout and revocation).

mod approval;
mod erase;
pub mod factors;
mod login;
mod notifications;
pub mod passkeys;
mod password_reset;
pub mod photo;
mod profile_change;
mod read_tokens;
mod register;
mod session_token;
mod sessions;
pub mod totp;

pub use login::{LoggedIn, LoginRequest};
pub use read_tokens::{READ_TOKEN_PREFIX, ReadTokenInfo, ReadTokenSecret};
pub use register::{RegisterRequest, Registered};
pub use session_token::{MalformedToken, SessionToken};
pub use sessions::{SessionInfo, SessionRecord};

use crate::{
    Clock, CommandError, Kernel,
    blobs::BlobStore,
    keys::{KeyRing, SubjectKey},
    mail::Mailer,
    password_hasher::PasswordHasher,
    rate_limit::{Limits, RateLimits},
};
use domain::account::{UserId, user::MAX_SESSION_LIFETIME_MICROS};
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

/// How long a session lives: `idle` after its last use, `absolute` after login at most.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
        }
    }
}

/// The account commands, with what they need. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    kernel: Kernel,
    keys: KeyRing,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    sessions: SessionPolicy,
    limits: RateLimits,
    mailer: Option<Mailer>,
    /// Where erasures are journalled, beside the checkpoints.
    journal: Option<crate::ledger::ErasureJournal>,
    blobs: Option<BlobStore>,
    /// Passkeys' relying party; `None`: passkeys are refused.
    relying_party: Option<passkeys::RelyingParty>,
}

impl Accounts {
    pub fn new(
        kernel: Kernel,
        keys: KeyRing,
        hasher: PasswordHasher,
        clock: Arc<dyn Clock>,
        sessions: SessionPolicy,
    ) -> Self {
        // The user state forgets sessions older than the longest one may be; the CLI
        // refuses a longer `MEDCHAIN_SESSION_MAX`, and so does this, for any other caller.
        let longest = Duration::from_micros(MAX_SESSION_LIFETIME_MICROS.unsigned_abs());
        let sessions = SessionPolicy {
            absolute: sessions.absolute.min(longest),
            ..sessions
        };
        Self {
            inner: Arc::new(Inner {
                limits: RateLimits::new(kernel.pool().clone(), keys.clone(), Limits::default()),
                kernel,
                keys,
                hasher,
                clock,
                sessions,
                mailer: None,
                journal: None,
                blobs: None,
                relying_party: None,
            }),
        }
    }

    /// Mail for password resets. Call before the first clone.
    pub fn with_mailer(mut self, mailer: Mailer) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_mailer is called before Accounts is shared")
            .mailer = Some(mailer);
        self
    }

    /// Journals each erasure beside the checkpoints. Call before the first clone.
    pub fn with_erasure_journal(mut self, journal: crate::ledger::ErasureJournal) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_erasure_journal is called before Accounts is shared")
            .journal = Some(journal);
        self
    }

    /// Other rate limits than API.graphql's defaults (tests). Call before the first clone.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        let inner =
            Arc::get_mut(&mut self.inner).expect("with_limits is called before Accounts is shared");
        inner.limits.limits = limits;
        self
    }

    /// The relying party for passkeys. Call before the first clone.
    pub fn with_relying_party(mut self, relying_party: passkeys::RelyingParty) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_relying_party is called before Accounts is shared")
            .relying_party = Some(relying_party);
        self
    }

    /// The blob store for photos. Call before the first clone.
    pub fn with_blobs(mut self, blobs: BlobStore) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_blobs is called before Accounts is shared")
            .blobs = Some(blobs);
        self
    }

    fn pool(&self) -> &sqlx::PgPool {
        self.inner.kernel.pool()
    }

    fn kernel(&self) -> &Kernel {
        &self.inner.kernel
    }

    /// The person's subject key, or `None` once erased (or never made).
    async fn live_key(&self, id: UserId) -> Result<Option<SubjectKey>, CommandError> {
        Ok(self
            .inner
            .keys
            .subject_key(self.pool(), id.as_uuid())
            .await?
            .live())
    }

    /// A reason about `user`, checked (`Reason`) and sealed under their key as `field`.
    async fn seal_reason(
        &self,
        user: UserId,
        field: &str,
        reason: &str,
    ) -> Result<domain::Sealed, CommandError> {
        let reason = domain::account::Reason::parse(reason).map_err(CommandError::bad_input)?;
        Ok(self
            .inner
            .keys
            .seal_about(
                self.pool(),
                user.as_uuid(),
                user.stream().as_str(),
                field,
                reason.as_str(),
            )
            .await?)
    }

    /// Ends every open session of `user` but `except`, in the sessions table. Called
    /// before the ledger records why, so a failure in between leaves them closed.
    async fn revoke_sessions(
        &self,
        user: UserId,
        except: Option<Uuid>,
    ) -> Result<(), CommandError> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $3 \
             WHERE user_id = $1 AND ($2::uuid IS NULL OR id <> $2) AND revoked_at IS NULL",
        )
        .bind(user.as_uuid())
        .bind(except)
        .bind(self.inner.clock.now().to_datetime())
        .execute(self.pool())
        .await?;
        // Ending every session (suspension, erasure, a password reset, factors reset)
        // ends the person's apps' read tokens too.
        if except.is_none() {
            self.revoke_all_read_tokens(user).await?;
        }
        Ok(())
    }
}
