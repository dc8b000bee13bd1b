//! Reading a record's content (fail closed, DESIGN.md §6): the access rules decide; the
//! attempt, granted or refused, is committed to the ledger; only then is the blob opened
//! and decrypted, segment by segment, as the response is sent. A segment that does not
//! authenticate ends the stream with an error, logged with the record's id.

use super::blob_cipher::{BlobCorrupt, Opener};
use super::{Records, blob_path, viewer};
use crate::accounts::{Caller, CommandError};
use crate::keys::DataKeyState;
use bytes::Bytes;
use domain::record::{Denial, ReadAction, RecordId, read_content};
use futures::{StreamExt as _, stream::BoxStream};

/// A readable record: what to send, and the stream of its plaintext.
pub struct Content {
    pub content_type: String,
    pub file_name: String,
    pub size: u64,
    /// Seq of the `RecordAccessed` event that recorded this read.
    pub seq: i64,
    pub body: BoxStream<'static, Result<Bytes, BlobCorrupt>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error(transparent)]
    Denied(Denial),
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// Attempts to record a read when the record's stream moved meanwhile.
const ATTEMPTS: usize = 3;

impl Records {
    pub async fn open_content(
        &self,
        caller: &Caller,
        id: RecordId,
        action: ReadAction,
    ) -> Result<Content, ContentError> {
        let mut attempt = 0;
        let (state, outcome, seq) = loop {
            attempt += 1;
            let (state, version) = self.load(id).await?;
            let decision = read_content(&state, viewer(caller), action, self.inner.clock.now());
            if decision.events.is_empty() {
                break (state, decision.outcome, 0);
            }
            match self
                .append(id, version, caller.user.as_uuid(), &decision.events)
                .await
            {
                Ok(seq) => break (state, decision.outcome, seq),
                Err(CommandError::Conflict(_)) if attempt < ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if let Err(denial) = outcome {
            tracing::info!(record.id = %id, user.id = %caller.user, reason = denial.reason().as_str(), "record read refused");
            return Err(ContentError::Denied(denial));
        }
        let stored = state
            .stored()
            .expect("a granted read is of a stored record");
        let key = match self.inner.keys.data_key(self.pool(), id.as_uuid()).await {
            Ok(DataKeyState::Live(key)) => key,
            // Erased between the decision and here (the owner's erasure runs record by
            // record): gone, as it would be a moment later.
            Ok(DataKeyState::Destroyed | DataKeyState::Missing) => {
                return Err(ContentError::Denied(Denial::Erased));
            }
            Err(e) => return Err(CommandError::from(e).into()),
        };
        let file_name = key
            .open_string(id.stream().as_str(), "fileName", &stored.file_name)
            .map_err(CommandError::internal)?;
        let blob = self
            .inner
            .blobs
            .get_stream(&blob_path(&stored.sha256))
            .await
            .map_err(CommandError::internal)?
            .ok_or_else(|| {
                CommandError::Internal(format!("the blob of record {id} is missing").into())
            })?;

        let mut opener = Some(Opener::new(key, id.as_uuid()));
        let body = blob
            .map(Some)
            .chain(futures::stream::once(async { None }))
            .filter_map(move |next| {
                let result = match (next, opener.as_mut()) {
                    (_, None) => None,
                    (Some(Ok(chunk)), Some(o)) => {
                        let mut out = Vec::with_capacity(chunk.len());
                        match o.push(&chunk, &mut out) {
                            Ok(()) if out.is_empty() => None,
                            Ok(()) => Some(Ok(Bytes::from(out))),
                            Err(e) => {
                                opener = None;
                                Some(Err(e))
                            }
                        }
                    }
                    (Some(Err(e)), Some(_)) => {
                        tracing::error!(record.id = %id, error = %e, "reading a record's blob failed");
                        opener = None;
                        Some(Err(BlobCorrupt::Truncated))
                    }
                    (None, Some(_)) => {
                        let mut out = Vec::new();
                        match opener.take().expect("checked").finish(&mut out) {
                            Ok(()) if out.is_empty() => None,
                            Ok(()) => Some(Ok(Bytes::from(out))),
                            Err(e) => Some(Err(e)),
                        }
                    }
                };
                if let Some(Err(e)) = &result {
                    tracing::error!(record.id = %id, error = %e, "a record's blob does not decrypt; the response was cut");
                }
                futures::future::ready(result)
            })
            .boxed();
        Ok(Content {
            content_type: stored.content_type.clone(),
            file_name,
            size: stored.size as u64,
            seq,
            body,
        })
    }
}
