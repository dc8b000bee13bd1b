//! Legal holds (API.graphql's erasure block): administrators place them on a person or a
//! record with a sealed reason, and another administrator lifts them; every erasure path
//! asks `erasure_allowed` first, which loads the holds naming the subject from the ledger
//! and puts them to the domain's one rule (`domain::erasure::may_erase`).

use crate::{Caller, CommandError, Decision, Kernel, keys::KeyRing};
use domain::{
    EventName as _,
    account::{Reason, User},
    erasure::{ErasureSubject, HoldError, LegalHold, LegalHoldPlaced, lift, may_erase, place},
    record::Record,
};
use uuid::Uuid;

/// FORBIDDEN's `extensions.reason` for an erasure under a hold (API.graphql).
pub const LEGAL_HOLD: &str = "LEGAL_HOLD";

#[derive(Clone)]
pub struct LegalHolds {
    kernel: Kernel,
    keys: KeyRing,
}

fn hold_error(e: HoldError) -> CommandError {
    match e {
        HoldError::NotFound => CommandError::NotFound(e.to_string()),
        HoldError::Exists | HoldError::AlreadyLifted => CommandError::Conflict(e.to_string()),
        HoldError::SamePerson => CommandError::Forbidden(e.to_string()),
    }
}

impl LegalHolds {
    pub fn new(kernel: Kernel, keys: KeyRing) -> Self {
        Self { kernel, keys }
    }

    /// Places a hold; returns its id and the seq of `LegalHoldPlaced`.
    pub async fn place(
        &self,
        admin: &Caller,
        subject: ErasureSubject,
        reason: &str,
    ) -> Result<(Uuid, i64), CommandError> {
        admin.require_admin()?;
        let reason = Reason::parse(reason).map_err(CommandError::bad_input)?;
        let person = owner_of(&self.kernel, subject)
            .await?
            .ok_or_else(|| CommandError::NotFound(format!("there is no {subject}")))?;
        let id = Uuid::now_v7();
        let sealed = self
            .keys
            .seal_about(
                self.kernel.pool(),
                person,
                <LegalHold as domain::Aggregate>::stream(id).as_str(),
                "reason",
                reason.as_str(),
            )
            .await?;
        let done = self
            .kernel
            .execute::<LegalHold, ()>(id, Some(admin.user), |state| {
                place(state, admin.user, subject, sealed.clone())
                    .map(Decision::events)
                    .map_err(hold_error)
            })
            .await?;
        tracing::info!(hold.id = %id, actor.id = %admin.user, "legal hold placed");
        Ok((id, done.seq))
    }

    /// Lifts a hold, by another administrator than the one who placed it.
    pub async fn lift(&self, admin: &Caller, id: Uuid) -> Result<i64, CommandError> {
        admin.require_admin()?;
        let done = self
            .kernel
            .execute::<LegalHold, ()>(id, Some(admin.user), |state| {
                lift(state, admin.user)
                    .map(Decision::events)
                    .map_err(hold_error)
            })
            .await?;
        tracing::info!(hold.id = %id, actor.id = %admin.user, "legal hold lifted");
        Ok(done.seq)
    }
}

/// The person a subject's keys belong to: the user, or the record's owner (`None`: no
/// such user or record on the ledger).
async fn owner_of(kernel: &Kernel, subject: ErasureSubject) -> Result<Option<Uuid>, CommandError> {
    Ok(match subject {
        ErasureSubject::User(id) => kernel
            .load::<User>(id)
            .await?
            .state
            .account()
            .map(|_| id.as_uuid()),
        ErasureSubject::Record(id) => kernel
            .load::<Record>(id)
            .await?
            .state
            .stored()
            .map(|s| s.owner.as_uuid()),
    })
}

/// Refuses (FORBIDDEN, reason `LEGAL_HOLD`) an erasure of `subject` while a hold stands
/// on it or, for a person, on any of `records` (theirs, erased along with them).
pub(crate) async fn erasure_allowed(
    kernel: &Kernel,
    subject: ErasureSubject,
    records: &[Uuid],
) -> Result<(), CommandError> {
    let mut names = vec![subject.to_string()];
    names.extend(records.iter().map(|r| format!("record-{r}")));
    let streams: Vec<String> = sqlx::query_scalar(
        "SELECT stream FROM events WHERE type = $1 AND payload->>'subject' = ANY($2)",
    )
    .bind(LegalHoldPlaced::NAME)
    .bind(&names)
    .fetch_all(kernel.pool())
    .await?;
    let mut holds = Vec::with_capacity(streams.len());
    for stream in streams {
        let id = domain::StreamName::parse(&stream)
            .map_err(CommandError::internal)?
            .id();
        holds.push(kernel.load::<LegalHold>(id).await?.state);
    }
    may_erase(subject, &holds).map_err(|e| CommandError::ForbiddenBecause {
        reason: LEGAL_HOLD,
        message: e.to_string(),
    })
}
