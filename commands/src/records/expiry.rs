//! Recording that a share's time passed (`ShareExpired`), exactly once. Reads are refused
//! from the moment itself whatever is recorded; this is for the access log and replay.
//! Several processes may try the same share: each decides on the stream as it stands and
//! appends at its version, so one succeeds, and the others, finding the stream moved,
//! decide again and find nothing left to do.

use super::Records;
use crate::accounts::CommandError;
use domain::record::{RecordId, ShareId, expire};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueShare {
    pub record: RecordId,
    pub share: ShareId,
}

impl Records {
    /// `Some(seq)` when this call recorded the expiry.
    pub async fn expire_share(&self, due: DueShare) -> Result<Option<i64>, CommandError> {
        for _ in 0..3 {
            let (state, version) = self.load(due.record).await?;
            let events = expire(&state, due.share, self.inner.clock.now());
            if events.is_empty() {
                return Ok(None);
            }
            match self.append_as_system(due.record, version, &events).await {
                Ok(seq) => {
                    tracing::info!(record.id = %due.record, share.id = %due.share, "share expired");
                    return Ok(Some(seq));
                }
                Err(CommandError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}
