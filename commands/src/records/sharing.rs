//! Sharing a record with a doctor and revoking a share: the decisions of
//! `domain::record::share`, appended to the record's stream.

use super::Records;
use crate::{Caller, CommandError, Decision};
use domain::{
    Timestamp,
    account::{Recipient, User, UserId},
    record::{Record, RecordId, ShareError, ShareId, ShareRecord, revoke, share},
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
    /// Returns the new share's id and the seq of `RecordShared`. Whether `doctor` may be
    /// given a record is what the doctor's own stream says.
    pub async fn share(
        &self,
        caller: &Caller,
        record: RecordId,
        doctor: UserId,
        expires_at: Option<Timestamp>,
    ) -> Result<(ShareId, i64), CommandError> {
        let doctor = Recipient::of(&self.kernel().load::<User>(doctor).await?.state);
        let id = ShareId::from_uuid(Uuid::now_v7());
        let now = self.inner.clock.now();
        let proxy = self.proxy_of(caller.user, record).await?;
        let decide = |state: &Record| {
            let request = ShareRecord {
                by: caller.viewer(),
                share: id,
                doctor,
                expires_at,
                now,
                proxy,
            };
            share(state, request).map(Decision::events).map_err(refused)
        };
        let seq = self
            .kernel()
            .execute(record, Some(caller.user), decide)
            .await?
            .seq;
        tracing::info!(record.id = %record, share.id = %id, doctor.id = %doctor.id, "record shared");
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
        let now = self.inner.clock.now();
        let proxy = self.proxy_of(caller.user, record).await?;
        let decide = |state: &Record| {
            revoke(state, caller.viewer(), share, now, proxy)
                .map(Decision::events)
                .map_err(refused)
        };
        let done = self
            .kernel()
            .execute(record, Some(caller.user), decide)
            .await?;
        if done.appended {
            tracing::info!(record.id = %record, share.id = %share, "share revoked");
        }
        Ok(done.seq)
    }
}
