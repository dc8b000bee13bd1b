//! Sharing a record with a doctor and revoking a share: the decisions of
//! `domain::record::share`, appended to the record's stream.

use super::{Records, viewer};
use crate::accounts::{Caller, CommandError};
use domain::{
    Timestamp,
    account::UserId,
    record::{RecordId, ShareError, ShareId, ShareRecord, revoke, share},
};
use uuid::Uuid;

fn refused(e: ShareError) -> CommandError {
    match e {
        ShareError::NotFound | ShareError::NoSuchShare | ShareError::Erased => {
            CommandError::NotFound(e.to_string())
        }
        ShareError::NotOwner => CommandError::Forbidden(e.to_string()),
        ShareError::NotAnActiveDoctor | ShareError::ExpiryPassed => {
            CommandError::BadInput(e.to_string())
        }
        ShareError::AlreadyShared => CommandError::Conflict(e.to_string()),
    }
}

impl Records {
    /// `doctor_is_active`: the users view says `doctor` is an ACTIVE doctor. Returns the
    /// new share's id and the seq of `RecordShared`.
    pub async fn share(
        &self,
        caller: &Caller,
        record: RecordId,
        doctor: UserId,
        doctor_is_active: bool,
        expires_at: Option<Timestamp>,
    ) -> Result<(ShareId, i64), CommandError> {
        let (state, version) = self.load(record).await?;
        let id = ShareId::from_uuid(Uuid::now_v7());
        let events = share(
            &state,
            ShareRecord {
                by: viewer(caller),
                share: id,
                doctor,
                doctor_is_active,
                expires_at,
                now: self.inner.clock.now(),
            },
        )
        .map_err(refused)?;
        let seq = self
            .append(record, version, caller.user.as_uuid(), &events)
            .await?;
        tracing::info!(record.id = %record, share.id = %id, doctor.id = %doctor, "record shared");
        Ok((id, seq))
    }

    /// Returns the seq of `ShareRevoked`, or of the stream's last event when the share had
    /// ended already.
    pub async fn revoke_share(
        &self,
        caller: &Caller,
        record: RecordId,
        share: ShareId,
    ) -> Result<i64, CommandError> {
        let (state, version) = self.load(record).await?;
        let events =
            revoke(&state, viewer(caller), share, self.inner.clock.now()).map_err(refused)?;
        if events.is_empty() {
            return self.last_seq(record).await;
        }
        let seq = self
            .append(record, version, caller.user.as_uuid(), &events)
            .await?;
        tracing::info!(record.id = %record, share.id = %share, "share revoked");
        Ok(seq)
    }

    pub(super) async fn last_seq(&self, record: RecordId) -> Result<i64, CommandError> {
        Ok(self
            .inner
            .store
            .read_stream(&record.stream())
            .await?
            .last()
            .map_or(0, |e| e.seq))
    }
}
