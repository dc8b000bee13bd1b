//! Share links as commands (`domain::link`): a patient creates one over records of their
//! own, with a passcode made here from the OS's randomness and kept only as an Argon2id
//! hash sealed under the patient's key; someone with no account opens it with the
//! passcode (the hash compared on the hasher's threads), which records the open, or the
//! wrong passcode, on the link's stream, and hands out a token for 15 minutes (stored
//! only as its SHA-256, before the open is on the ledger); reads through the token are
//! decided by the link's stream, then by the record's access rules.

use crate::accounts::SessionToken;
use crate::keys::KeyRing;
use crate::password_hasher::PasswordHasher;
use crate::{Caller, Clock, CommandError, Decision, Kernel};
use domain::Aggregate as _;
use domain::account::UserId;
use domain::link::{
    CreateLink, LinkDenial, LinkError, LinkId, LinkedRecord, OpenLink, PASSCODE_BYTES, Passcode,
    ShareLink, create, open, revoke,
};
use domain::record::{Record, RecordId};
use domain::{Sealed, Timestamp};
use rand::RngCore as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// The sealed fields' names (with the link's stream, the associated data).
pub const PASSCODE_FIELD: &str = "passcodeHash";
pub const FROM_FIELD: &str = "openedFrom";

#[derive(Clone)]
pub struct Links {
    inner: Arc<Inner>,
}

struct Inner {
    kernel: Kernel,
    keys: KeyRing,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
}

/// A link just made: its id, the seq of its creation, and the passcode, shown once.
#[derive(Debug)]
pub struct NewLink {
    pub id: LinkId,
    pub seq: i64,
    pub passcode: Passcode,
}

/// An open that succeeded: the token for the link's routes and its end.
#[derive(Debug)]
pub struct Opened {
    pub token: SessionToken,
    pub expires_at: Timestamp,
    pub records: Vec<RecordId>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Denied(LinkDenial),
    #[error(transparent)]
    Command(#[from] CommandError),
}

fn refused(e: LinkError) -> CommandError {
    match e {
        LinkError::NotAPatient => CommandError::Forbidden(e.to_string()),
        LinkError::NoSuchRecord | LinkError::NotFound => CommandError::NotFound(e.to_string()),
        LinkError::Exists => CommandError::Conflict(e.to_string()),
        LinkError::NoRecords
        | LinkError::TooManyRecords
        | LinkError::ExpiryPassed
        | LinkError::TooLong
        | LinkError::MaxOpens => CommandError::BadInput(e.to_string()),
    }
}

impl Links {
    pub fn new(
        kernel: Kernel,
        keys: KeyRing,
        hasher: PasswordHasher,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                kernel,
                keys,
                hasher,
                clock,
            }),
        }
    }

    fn pool(&self) -> &sqlx::PgPool {
        self.inner.kernel.pool()
    }

    pub async fn create(
        &self,
        caller: &Caller,
        records: &[RecordId],
        expires_at: Timestamp,
        max_opens: Option<u32>,
    ) -> Result<NewLink, CommandError> {
        let mut linked = Vec::with_capacity(records.len());
        for id in records.iter().take(domain::link::MAX_LINK_RECORDS + 1) {
            let record: Record = self.inner.kernel.load(*id).await?.state;
            linked.push(LinkedRecord {
                id: *id,
                owner: record.owner(),
                erased: record.is_erased(),
            });
        }
        let mut bytes = [0u8; PASSCODE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let passcode = Passcode::from_random(bytes);
        let hash = self.inner.hasher.hash(passcode.canonical()).await?;
        let id = LinkId::from_uuid(Uuid::now_v7());
        let sealed = self
            .inner
            .keys
            .seal_about(
                self.pool(),
                caller.user.as_uuid(),
                ShareLink::stream(id).as_str(),
                PASSCODE_FIELD,
                &hash,
            )
            .await?;
        let now = self.inner.clock.now();
        let decide = |state: &ShareLink| {
            let cmd = CreateLink {
                by: caller.viewer(),
                records: linked.clone(),
                expires_at,
                max_opens,
                passcode_hash: sealed.clone(),
                now,
            };
            create(state, cmd).map(Decision::events).map_err(refused)
        };
        let done = self
            .inner
            .kernel
            .execute(id, Some(caller.user), decide)
            .await?;
        tracing::info!(link.id = %id, records = linked.len(), "share link created");
        Ok(NewLink {
            id,
            seq: done.seq,
            passcode,
        })
    }

    pub async fn revoke(&self, caller: &Caller, id: LinkId) -> Result<i64, CommandError> {
        let decide = |state: &ShareLink| {
            revoke(state, caller.user)
                .map(Decision::events)
                .map_err(refused)
        };
        let done = self
            .inner
            .kernel
            .execute(id, Some(caller.user), decide)
            .await?;
        if done.appended {
            tracing::info!(link.id = %id, "share link revoked");
        }
        Ok(done.seq)
    }

    /// Opens the link with `raw` (as typed); `from`: the client's address, sealed under
    /// the owner's key on the ledger.
    pub async fn open(
        &self,
        id: LinkId,
        raw: &str,
        from: Option<IpAddr>,
    ) -> Result<Opened, OpenError> {
        let state: ShareLink = self.inner.kernel.load(id).await?.state;
        let Some(created) = state.created().cloned() else {
            return Err(OpenError::Denied(LinkDenial::NotFound));
        };
        let now = self.inner.clock.now();
        // Nothing is compared (or recorded) for a link that opens no more.
        if state.is_locked() {
            return Err(OpenError::Denied(LinkDenial::Locked));
        }
        if state.is_spent(now) {
            return Err(OpenError::Denied(LinkDenial::Gone));
        }
        let matches = match Passcode::parse(raw) {
            Ok(passcode) => {
                self.passcode_matches(id, created.owner, &created.passcode_hash, &passcode)
                    .await?
            }
            // A malformed passcode is a wrong one, and counts.
            Err(_) => false,
        };
        let stream = ShareLink::stream(id);
        let from = self
            .inner
            .keys
            .seal_about(
                self.pool(),
                created.owner.as_uuid(),
                stream.as_str(),
                FROM_FIELD,
                &from.map_or_else(|| "unknown".to_owned(), |a| a.to_string()),
            )
            .await
            .map_err(CommandError::from)?;
        let grant = Uuid::now_v7();
        let token = SessionToken::generate();
        let decide = |state: &ShareLink| {
            let outcome = open(
                state,
                OpenLink {
                    passcode_matches: matches,
                    from: from.clone(),
                    grant,
                    now,
                },
            );
            Ok(Decision::new(outcome.events, outcome.outcome))
        };
        // The token is stored before the ledger records the open it belongs to, once.
        let stored = &AtomicBool::new(false);
        let token_ref = &token;
        let store_token = move || async move {
            if !matches || stored.swap(true, Ordering::SeqCst) {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO link_tokens (token_hash, link_id, grant_id, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_ref.hash().as_slice())
            .bind(id.as_uuid())
            .bind(grant)
            .bind(now.plus_micros(domain::link::GRANT_MICROS).to_datetime())
            .execute(self.pool())
            .await?;
            Ok(())
        };
        let done = self
            .inner
            .kernel
            .execute_then(id, None, decide, store_token)
            .await?;
        match done.outcome {
            Ok(expires_at) => {
                tracing::info!(link.id = %id, "share link opened");
                Ok(Opened {
                    token,
                    expires_at,
                    records: created.records,
                })
            }
            Err(denial) => {
                tracing::info!(link.id = %id, reason = %denial, "share link not opened");
                Err(OpenError::Denied(denial))
            }
        }
    }

    async fn passcode_matches(
        &self,
        id: LinkId,
        owner: UserId,
        sealed: &Sealed,
        passcode: &Passcode,
    ) -> Result<bool, CommandError> {
        let Some(key) = self
            .inner
            .keys
            .subject_key(self.pool(), owner.as_uuid())
            .await?
            .live()
        else {
            // The owner is erased: nothing of theirs opens any more.
            return Ok(false);
        };
        let hash = key
            .open_string(ShareLink::stream(id).as_str(), PASSCODE_FIELD, sealed)
            .map_err(CommandError::internal)?;
        Ok(self
            .inner
            .hasher
            .verify(passcode.canonical(), Some(&hash))
            .await?)
    }

    /// The link a token was handed out for, and what the link's stream says now of its
    /// grant reading `record`; `None` when the token is unknown, for another link, or
    /// past its 15 minutes.
    pub async fn grant_reads(
        &self,
        link: LinkId,
        token: &SessionToken,
        record: RecordId,
    ) -> Result<Option<Result<UserId, LinkDenial>>, CommandError> {
        let now = self.inner.clock.now();
        let found: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT link_id, grant_id FROM link_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token.hash().as_slice())
        .bind(now.to_datetime())
        .fetch_optional(self.pool())
        .await?;
        let Some((_, grant)) = found.filter(|(l, _)| *l == link.as_uuid()) else {
            return Ok(None);
        };
        let state: ShareLink = self.inner.kernel.load(link).await?.state;
        Ok(Some(state.reads(grant, record, now)))
    }

    /// Forgets tokens a day past their end (they read nothing anyway).
    pub async fn sweep_tokens(&self) -> Result<u64, CommandError> {
        let cutoff = self.inner.clock.now().plus_micros(-24 * 3_600_000_000);
        Ok(sqlx::query("DELETE FROM link_tokens WHERE expires_at < $1")
            .bind(cutoff.to_datetime())
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
