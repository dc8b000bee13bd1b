//! Rate limits that hold across server processes: failed sign-ins per client address and
//! per account, reset requests, registrations (API.graphql's limits).
//!
//! Written here rather than taken from a crate: the well-kept limiters (`governor`,
//! `tower_governor`) count in one process's memory, and several processes behind a load
//! balancer would each allow the whole budget. This counts in PostgreSQL, which every
//! process shares: one row per counted attempt (`rate_limit_hits`, migration 0016), a
//! sliding window, and the subject named by a keyed hash (`KeyRing::rate_subject`) so
//! the table holds no address in clear.
//!
//! A check and its count run under a transaction-scoped advisory lock on the subject, so
//! two processes cannot both pass the last free place.

use crate::keys::KeyRing;
use domain::Timestamp;
use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

/// One limit: at most `max` counted attempts per subject within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

impl Limit {
    pub const fn per_minutes(max: u32, minutes: u64) -> Self {
        Self {
            max,
            window: Duration::from_secs(minutes * 60),
        }
    }

    fn window_micros(&self) -> i64 {
        i64::try_from(self.window.as_micros()).unwrap_or(i64::MAX)
    }
}

/// Every limit MedChain applies, with the defaults of API.graphql. Tests may lower or
/// raise them; production uses `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failed sign-ins from one client address (100 in 15 minutes).
    pub login_per_address: Limit,
    /// Failed sign-ins naming one e-mail address, whether or not it has an account (10 in
    /// 15 minutes, like the ledger's own limit on an account), so the answers under
    /// lockout cannot tell known addresses from unknown ones.
    pub login_per_account: Limit,
    /// Password-reset requests naming one address (3 an hour) and from one client
    /// address (20 an hour); past either, nothing is mailed and the answer is the same.
    pub reset_per_account: Limit,
    pub reset_per_address: Limit,
    /// Registrations from one client address (20 an hour).
    pub register_per_address: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_per_address: Limit::per_minutes(100, 15),
            login_per_account: Limit::per_minutes(
                domain::account::user::MAX_FAILED_LOGINS as u32,
                15,
            ),
            reset_per_account: Limit::per_minutes(3, 60),
            reset_per_address: Limit::per_minutes(20, 60),
            register_per_address: Limit::per_minutes(20, 60),
        }
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A client address.
    Address(IpAddr),
    /// An e-mail address as typed, trimmed and lowercased (known to have an account or
    /// not: the count must not depend on it).
    Account(&'a str),
}

/// Which limit a count belongs to; part of the row's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Login,
    Reset,
    Register,
}

impl Bucket {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Reset => "reset",
            Self::Register => "register",
        }
    }
}

/// The longest window of any limit: rows older than this are pruned.
const KEEP_MICROS: i64 = 24 * 3600 * 1_000_000;
/// One count in this many prunes the table.
const PRUNE_EVERY: u32 = 64;

#[derive(Clone)]
pub struct RateLimits {
    pool: sqlx::PgPool,
    keys: KeyRing,
    pub limits: Limits,
    counted: Arc<AtomicU32>,
}

impl RateLimits {
    pub fn new(pool: sqlx::PgPool, keys: KeyRing, limits: Limits) -> Self {
        Self {
            pool,
            keys,
            limits,
            counted: Arc::default(),
        }
    }

    fn name(&self, bucket: Bucket, subject: Subject<'_>) -> (String, [u8; 32]) {
        let (kind, hash) = match subject {
            Subject::Address(ip) => (
                "address",
                self.keys.rate_subject("address", ip.to_string().as_bytes()),
            ),
            Subject::Account(email) => (
                "account",
                self.keys
                    .rate_subject("account", email.trim().to_lowercase().as_bytes()),
            ),
        };
        (format!("{}/{kind}", bucket.as_str()), hash)
    }

    /// `Some(until)` when the subject has used its limit at `now`: until then, another
    /// attempt is refused.
    pub async fn blocked_until(
        &self,
        bucket: Bucket,
        limit: Limit,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, sqlx::Error> {
        let (bucket, key) = self.name(bucket, subject);
        blocked_until(&self.pool, &bucket, &key, limit, now).await
    }

    /// Counts one attempt (a failed sign-in).
    pub async fn count(
        &self,
        bucket: Bucket,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        let (bucket, key) = self.name(bucket, subject);
        insert(&self.pool, &bucket, &key, now).await?;
        self.maybe_prune(now).await;
        Ok(())
    }

    /// Counts one attempt if the limit has room, under a lock on the subject so processes
    /// racing for the last place cannot both take it: `Err(until)` when it has none (the
    /// refused attempt is not counted, so waiting out the window always helps).
    pub async fn take(
        &self,
        bucket: Bucket,
        limit: Limit,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<Result<(), Timestamp>, sqlx::Error> {
        let (bucket, key) = self.name(bucket, subject);
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || encode($2, 'hex'), 0))")
            .bind(&bucket)
            .bind(key.as_slice())
            .execute(&mut *tx)
            .await?;
        if let Some(until) = blocked_until(&mut *tx, &bucket, &key, limit, now).await? {
            return Ok(Err(until));
        }
        insert(&mut *tx, &bucket, &key, now).await?;
        tx.commit().await?;
        self.maybe_prune(now).await;
        Ok(Ok(()))
    }

    async fn maybe_prune(&self, now: Timestamp) {
        if !self
            .counted
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            return;
        }
        let pruned = sqlx::query("DELETE FROM rate_limit_hits WHERE at < $1")
            .bind(now.plus_micros(-KEEP_MICROS).to_datetime())
            .execute(&self.pool)
            .await;
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "could not prune old rate-limit rows");
        }
    }
}

/// The `max`-th newest attempt within the window, if there are that many; the subject is
/// free again once it leaves the window.
async fn blocked_until(
    db: impl sqlx::PgExecutor<'_>,
    bucket: &str,
    key: &[u8; 32],
    limit: Limit,
    now: Timestamp,
) -> Result<Option<Timestamp>, sqlx::Error> {
    let window = limit.window_micros();
    let nth: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT at FROM rate_limit_hits WHERE bucket = $1 AND subject = $2 AND at > $3 \
         ORDER BY at DESC OFFSET $4 LIMIT 1",
    )
    .bind(bucket)
    .bind(key.as_slice())
    .bind(now.plus_micros(-window).to_datetime())
    .bind(i64::from(limit.max.saturating_sub(1)))
    .fetch_optional(db)
    .await?;
    Ok(nth.map(|at| Timestamp::from_datetime(at).plus_micros(window)))
}

async fn insert(
    db: impl sqlx::PgExecutor<'_>,
    bucket: &str,
    key: &[u8; 32],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO rate_limit_hits (bucket, subject, at) VALUES ($1, $2, $3)")
        .bind(bucket)
        .bind(key.as_slice())
        .bind(now.to_datetime())
        .execute(db)
        .await?;
    Ok(())
}

/// "try again in N minutes", rounded up: the same words for every subject locked at
/// about the same moment, so the answer carries no more than the wait.
pub fn wait_words(until: Timestamp, now: Timestamp) -> String {
    let micros = (until.as_micros() - now.as_micros()).max(0);
    let minutes = (micros + 59_999_999) / 60_000_000;
    match minutes.max(1) {
        1 => "try again in a minute".into(),
        n => format!("try again in {n} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_said_in_whole_minutes_rounded_up() {
        let t = Timestamp::from_micros(1_000_000_000_000);
        assert_eq!(wait_words(t.plus_micros(1), t), "try again in a minute");
        assert_eq!(
            wait_words(t.plus_micros(15 * 60_000_000), t),
            "try again in 15 minutes"
        );
        assert_eq!(
            wait_words(t.plus_micros(14 * 60_000_000 + 1), t),
            "try again in 15 minutes"
        );
        assert_eq!(wait_words(t, t.plus_micros(5)), "try again in a minute");
    }
}
