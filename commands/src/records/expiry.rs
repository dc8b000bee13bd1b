//! Recording that a share's time passed (`ShareExpired`) and, a day before, that it is
//! about to (`ShareExpiring`), each exactly once. Reads are refused from the moment itself
//! whatever is recorded; these are for the access log, notifications and replay.
//! Several processes may try the same share: each decides on the stream as it stands and
//! appends at its version, so one succeeds, and the others, finding the stream moved,
//! decide again and find nothing left to do.

use super::Records;
use crate::accounts::CommandError;
use domain::{
    Timestamp,
    record::{Record, RecordEvent, RecordId, ShareId, expire, notice_expiry},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueShare {
    pub record: RecordId,
    pub share: ShareId,
}

type Decision = fn(&Record, ShareId, Timestamp) -> Vec<RecordEvent>;

impl Records {
    /// `Some(seq)` when this call recorded the expiry.
    pub async fn expire_share(&self, due: DueShare) -> Result<Option<i64>, CommandError> {
        self.decide_for_share(due, expire, "share expired").await
    }

    /// `Some(seq)` when this call recorded that the share ends within a day.
    pub async fn notice_expiry(&self, due: DueShare) -> Result<Option<i64>, CommandError> {
        self.decide_for_share(due, notice_expiry, "share expires within a day")
            .await
    }

    async fn decide_for_share(
        &self,
        due: DueShare,
        decide: Decision,
        what: &'static str,
    ) -> Result<Option<i64>, CommandError> {
        for _ in 0..3 {
            let (state, version) = self.load(due.record).await?;
            let events = decide(&state, due.share, self.inner.clock.now());
            if events.is_empty() {
                return Ok(None);
            }
            match self.append_as_system(due.record, version, &events).await {
                Ok(seq) => {
                    tracing::info!(record.id = %due.record, share.id = %due.share, "{what}");
                    return Ok(Some(seq));
                }
                Err(CommandError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}
