//! Erasing a record (crypto-shredding, DESIGN.md §4), in this order, each step safe to
//! repeat: `RecordErased` goes on the ledger (who and why); the data key is destroyed, so
//! the file and the sealed title, description and file name are unreadable from then on;
//! the blob is deleted. Erasing an erased record repeats only the last two steps, so a
//! crash part-way is finished by asking again.
//!
//! Erasing a person erases each of their records the same way (`erase_all_of`), found
//! through `record_keys`, which this layer owns.

use super::Records;
use crate::{CommandError, Decision};
use domain::{
    ErasureBasis,
    account::{Reason, UserId},
    record::{EraseRecordError, Record, RecordId, Viewer, erase_record},
};
use uuid::Uuid;

impl Records {
    /// Returns the seq of `RecordErased` (or of the stream's last event, when it was
    /// erased before).
    pub async fn erase(
        &self,
        by: Viewer,
        record: RecordId,
        reason: &str,
        basis: Option<ErasureBasis>,
    ) -> Result<i64, CommandError> {
        let reason = Reason::parse(reason).map_err(CommandError::bad_input)?;
        // The free text is sealed under the owner's subject key, bound to the record's
        // stream: it outlives the record's data key and dies with the owner.
        let loaded = self.kernel().load::<Record>(record).await?.state;
        let owner = loaded.stored().map(|s| s.owner);
        // No erasure under a legal hold on the record or its owner; one already made is
        // finished whatever stands.
        if let Some(owner) = owner
            && !loaded.is_erased()
        {
            let held = crate::legal_holds::erasure_allowed(
                self.kernel(),
                domain::erasure::ErasureSubject::Record(record),
                &[],
            )
            .await;
            let held_owner = crate::legal_holds::erasure_allowed(
                self.kernel(),
                domain::erasure::ErasureSubject::User(owner),
                &[],
            )
            .await;
            held.and(held_owner)?;
        }
        let sealed = match owner {
            Some(owner) => {
                self.inner
                    .keys
                    .seal_about(
                        self.pool(),
                        owner.as_uuid(),
                        record.stream().as_str(),
                        "erasureReason",
                        reason.as_str(),
                    )
                    .await?
            }
            None => return Err(CommandError::NotFound("there is no such record".into())),
        };
        let basis = basis.unwrap_or(if owner == Some(by.id) {
            ErasureBasis::PatientRequest
        } else {
            ErasureBasis::Other
        });
        let now = self.inner.clock.now();
        let proxy = self.proxy_of(by.id, record).await?;
        let decide = |state: &Record| {
            erase_record(state, by, basis, sealed.clone(), now, proxy)
                .map(Decision::events)
                .map_err(|e| match e {
                    EraseRecordError::NotFound => CommandError::NotFound(e.to_string()),
                    EraseRecordError::NotAllowed => CommandError::Forbidden(e.to_string()),
                })
        };
        let done = self.kernel().execute(record, Some(by.id), decide).await?;
        let seq = done.seq;
        let stored = done
            .state
            .stored()
            .expect("erase_record refuses a record never stored");
        crate::shredding::shred_record(
            self.pool(),
            &self.inner.keys,
            &self.inner.blobs,
            record.as_uuid(),
            stored.owner.as_uuid(),
            &stored.sha256,
        )
        .await?;
        if let Some(journal) = &self.inner.journal {
            journal
                .record(
                    self.pool(),
                    domain::erasure::ErasureSubject::Record(record),
                    seq,
                )
                .await
                .map_err(CommandError::internal)?;
        }
        tracing::info!(record.id = %record, actor.id = %by.id, "record erased: data key destroyed, blob deleted");
        Ok(seq)
    }

    /// Erases every record `owner` uploaded (their own erasure). `by` is the acting
    /// administrator. Returns the seq of the last `RecordErased` (0 when there were none).
    pub async fn erase_all_of(
        &self,
        by: Viewer,
        owner: UserId,
        reason: &str,
        basis: Option<ErasureBasis>,
    ) -> Result<i64, CommandError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT record_id FROM record_keys WHERE owner_id = $1 ORDER BY record_id",
        )
        .bind(owner.as_uuid())
        .fetch_all(self.pool())
        .await?;
        let mut last = 0;
        for id in ids {
            last = last.max(
                self.erase(by, RecordId::from_uuid(id), reason, basis)
                    .await?,
            );
        }
        Ok(last)
    }
}
