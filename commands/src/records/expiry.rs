//! Recording that a share's time passed (`ShareExpired`) and, a day before, that it is
//! about to (`ShareExpiring`), each exactly once. Reads are refused from the moment itself
//! whatever is recorded; these are for the access log, notifications and replay.
//! Several processes may try the same share: each decides on the stream as it stands and
//! appends at its version, so one succeeds, and the others, finding the stream moved,
//! decide again and find nothing left to do.

use super::Records;
use crate::{CommandError, Decision};
use domain::{
    Timestamp,
    record::{Record, RecordEvent, RecordId, ShareId, expire, notice_expiry},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueShare {
    pub record: RecordId,
    pub share: ShareId,
}

/// `expire` or `notice_expiry`: each decides on its own whether anything is left to do.
type Rule = fn(&Record, ShareId, Timestamp) -> Vec<RecordEvent>;

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
        decide: Rule,
        what: &'static str,
    ) -> Result<Option<i64>, CommandError> {
        let now = self.inner.clock.now();
        let done = match self
            .kernel()
            .execute(due.record, None, |state: &Record| {
                Ok(Decision::events(decide(state, due.share, now)))
            })
            .await
        {
            Ok(done) => done,
            // The stream kept moving: another process is at it; the next round looks again.
            Err(CommandError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !done.appended {
            return Ok(None);
        }
        tracing::info!(record.id = %due.record, share.id = %due.share, "{what}");
        Ok(Some(done.seq))
    }
}
