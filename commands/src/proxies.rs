//! Caregiver proxies as commands (`domain::proxy`): the patient invites an address (sealed
//! under the patient's key on the ledger); a single-use token, kept only as its SHA-256
//! and stored before the invitation is on the ledger, is mailed to it; a signed-in
//! account that redeems the token within 7 days becomes the proxy. Registering with the
//! address is not enough: nothing at registration proves the mailbox.

use crate::accounts::SessionToken;
use crate::keys::KeyRing;
use crate::mail::Mailer;
use crate::{Caller, Clock, CommandError, Decision, Kernel};
use domain::Aggregate as _;
use domain::Timestamp;
use domain::account::{Email, UserId};
use domain::link::LinkedRecord;
use domain::proxy::{
    AcceptProxy, InviteProxy, Proxies, ProxyError, ProxyScope, accept, invite, revoke,
};
use domain::record::{Record, RecordId};
use std::sync::Arc;
use uuid::Uuid;

/// The sealed address's field name (with the patient's proxies stream).
pub const EMAIL_FIELD: &str = "proxyEmail";

#[derive(Clone)]
pub struct ProxyGrants {
    inner: Arc<Inner>,
}

struct Inner {
    kernel: Kernel,
    keys: KeyRing,
    mailer: Option<Mailer>,
    clock: Arc<dyn Clock>,
}

fn refused(e: ProxyError) -> CommandError {
    match e {
        ProxyError::NotThePatient => CommandError::Forbidden(e.to_string()),
        ProxyError::NoSuchRecord | ProxyError::NotFound => CommandError::NotFound(e.to_string()),
        ProxyError::NoRecords
        | ProxyError::ExpiryPassed
        | ProxyError::Invitation
        | ProxyError::Yourself => CommandError::BadInput(e.to_string()),
    }
}

impl ProxyGrants {
    pub fn new(
        kernel: Kernel,
        keys: KeyRing,
        mailer: Option<Mailer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                kernel,
                keys,
                mailer,
                clock,
            }),
        }
    }

    fn pool(&self) -> &sqlx::PgPool {
        self.inner.kernel.pool()
    }

    /// The caller's standing as a proxy of `patient` over `record` (any record when
    /// `None`), from the patient's proxies stream.
    pub async fn standing(
        kernel: &Kernel,
        patient: UserId,
        proxy: UserId,
        record: Option<RecordId>,
        now: Timestamp,
    ) -> Result<Option<(Uuid, ProxyScope)>, CommandError> {
        let state: Proxies = kernel.load(patient).await?.state;
        Ok(state.standing_of(proxy, record, now))
    }

    /// Invites `email`; returns the grant's id and the seq of the invitation. The same
    /// answer whether or not the address has an account.
    pub async fn grant(
        &self,
        caller: &Caller,
        email: &Email,
        scope: ProxyScope,
        records: Option<Vec<RecordId>>,
        expires_at: Option<Timestamp>,
    ) -> Result<(Uuid, i64), CommandError> {
        let chosen = match records {
            None => None,
            Some(ids) => {
                let mut linked = Vec::with_capacity(ids.len());
                for id in ids.iter().take(1000) {
                    let record: Record = self.inner.kernel.load(*id).await?.state;
                    linked.push(LinkedRecord {
                        id: *id,
                        owner: record.owner(),
                        erased: record.is_erased(),
                    });
                }
                Some(linked)
            }
        };
        let stream = Proxies::stream(caller.user);
        let sealed = self
            .inner
            .keys
            .seal_about(
                self.pool(),
                caller.user.as_uuid(),
                stream.as_str(),
                EMAIL_FIELD,
                email.as_str(),
            )
            .await?;
        let grant = Uuid::now_v7();
        let now = self.inner.clock.now();
        let token = &SessionToken::generate();
        let decide = |state: &Proxies| {
            let cmd = InviteProxy {
                by: caller.viewer(),
                grant,
                email: sealed.clone(),
                scope,
                records: chosen.clone(),
                expires_at,
                now,
            };
            invite(state, cmd).map(Decision::events).map_err(refused)
        };
        // The token is stored before the ledger names the grant (safe to repeat).
        let patient = caller.user;
        let store = move || async move {
            sqlx::query(
                "INSERT INTO proxy_invitations (token_hash, patient_id, grant_id, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING",
            )
            .bind(token.hash().as_slice())
            .bind(patient.as_uuid())
            .bind(grant)
            .bind(
                now.plus_micros(domain::proxy::INVITATION_MICROS)
                    .to_datetime(),
            )
            .execute(self.pool())
            .await?;
            Ok(())
        };
        let done = self
            .inner
            .kernel
            .execute_then(caller.user, Some(caller.user), decide, store)
            .await?;
        if let Some(mailer) = &self.inner.mailer {
            let link = mailer.link(&format!("/proxy/accept?token={}", token.expose()));
            let body = format!(
                "A patient asked you to look after their medical records in MedChain.\n\n\
                 Sign in (or register) and open this link within 7 days to accept:\n\n{link}\n\n\
                 The link works once. If you do not know why you got this, ignore it.\n"
            );
            // Named by the grant: the address may belong to no account.
            if let Err(e) = mailer
                .send(
                    grant,
                    email.as_str(),
                    "You are invited to MedChain as a caregiver",
                    body,
                )
                .await
            {
                tracing::error!(error = %e.redacted(), proxy.grant = %grant, "the proxy invitation could not be mailed");
            }
        }
        tracing::info!(proxy.grant = %grant, scope = scope.as_str(), "proxy invited");
        Ok((grant, done.seq))
    }

    /// Redeems an invitation's token for the signed-in caller; returns the patient, the
    /// grant and the seq of the acceptance.
    pub async fn accept(
        &self,
        caller: &Caller,
        raw: &str,
    ) -> Result<(UserId, Uuid, i64), CommandError> {
        let invalid = || refused(ProxyError::Invitation);
        let token = SessionToken::parse(raw.trim()).map_err(|_| invalid())?;
        let now = self.inner.clock.now();
        let found: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT patient_id, grant_id FROM proxy_invitations \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token.hash().as_slice())
        .bind(now.to_datetime())
        .fetch_optional(self.pool())
        .await?;
        let (patient, grant) = found.ok_or_else(invalid)?;
        let patient = UserId::from_uuid(patient);
        let decide = |state: &Proxies| {
            let cmd = AcceptProxy {
                by: caller.viewer(),
                grant,
                now,
            };
            accept(state, cmd).map(Decision::events).map_err(refused)
        };
        let done = self
            .inner
            .kernel
            .execute(patient, Some(caller.user), decide)
            .await?;
        sqlx::query("UPDATE proxy_invitations SET used_at = $2 WHERE token_hash = $1")
            .bind(token.hash().as_slice())
            .bind(now.to_datetime())
            .execute(self.pool())
            .await?;
        tracing::info!(proxy.grant = %grant, user.id = %caller.user, "proxy invitation accepted");
        Ok((patient, grant, done.seq))
    }

    pub async fn revoke(&self, caller: &Caller, grant: Uuid) -> Result<i64, CommandError> {
        let decide = |state: &Proxies| {
            revoke(state, caller.viewer(), grant)
                .map(Decision::events)
                .map_err(refused)
        };
        let done = self
            .inner
            .kernel
            .execute(caller.user, Some(caller.user), decide)
            .await?;
        Ok(done.seq)
    }
}
