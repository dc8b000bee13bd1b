//! Medical records: upload (streamed, sniffed, encrypted as it arrives), reading content
//! (recorded on the ledger before the first byte leaves), sharing, revoking, expiring
//! shares, and erasure. Each action loads the record's stream, asks the pure decisions
//! and access rules of `domain::record`, and appends what they decide.
//!
//! - `blob_cipher`: the file format, AES-256-GCM STREAM segments.
//! - `upload`, `content`, `sharing`, `erase`, `expiry`: the actions.
//! - `turns`: how many uploads and downloads run at once.

pub mod blob_cipher;
mod content;
mod erase;
mod expiry;
mod sharing;
mod turns;
mod upload;

pub use content::{Content, ContentError};
pub use expiry::DueShare;
pub use turns::TransferLimits;
pub use upload::{Upload, UploadError, UploadLimits, Uploaded};

use crate::{
    Clock, EventStore, ExpectedVersion,
    accounts::{Caller, CommandError},
    blobs::BlobStore,
    event_store::new_events,
    keys::KeyRing,
};
use domain::record::{Record, RecordEvent, RecordId, Viewer};
use std::sync::Arc;
use uuid::Uuid;

/// The record commands, with what they need. Cheap to clone.
#[derive(Clone)]
pub struct Records {
    inner: Arc<Inner>,
}

struct Inner {
    store: EventStore,
    keys: KeyRing,
    blobs: BlobStore,
    clock: Arc<dyn Clock>,
    limits: UploadLimits,
    turns: turns::Turns,
}

/// The blob of a record's file: named by the SHA-256 of its ciphertext.
fn blob_path(sha256: &str) -> String {
    format!("records/{sha256}")
}

/// Where an upload is written until its hash is known.
fn staging_path(record: RecordId) -> String {
    format!("records/{STAGING}/{record}")
}

const STAGING: &str = "staging";
/// A staged upload nobody wrote to for this long was left by a process that stopped
/// mid-upload: a live one writes a block every 256 KiB, and fails after five minutes
/// without a byte (`upload::BODY_IDLE`), so only a client sending under 3 bytes a second
/// could look this idle.
const STAGING_IDLE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl Records {
    /// Removes staged uploads left by processes that stopped mid-upload: ciphertext
    /// under a key that was never stored, so nobody can read it, but it takes space.
    pub async fn sweep_staging(&self) -> Result<usize, crate::blobs::BlobError> {
        self.inner
            .blobs
            .remove_idle(&format!("records/{STAGING}"), STAGING_IDLE)
            .await
    }
}

pub fn viewer(caller: &Caller) -> Viewer {
    Viewer {
        id: caller.user,
        role: caller.role,
    }
}

impl Records {
    pub fn new(
        store: EventStore,
        keys: KeyRing,
        blobs: BlobStore,
        clock: Arc<dyn Clock>,
        limits: UploadLimits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                keys,
                blobs,
                clock,
                turns: turns::Turns::new(limits.transfers),
                limits,
            }),
        }
    }

    pub fn limits(&self) -> &UploadLimits {
        &self.inner.limits
    }

    fn pool(&self) -> &sqlx::PgPool {
        self.inner.store.pool()
    }

    /// The record folded from its stream, with the stream's version.
    async fn load(&self, id: RecordId) -> Result<(Record, i32), CommandError> {
        let recorded = self.inner.store.read_stream(&id.stream()).await?;
        let mut record = Record::new(id);
        for event in &recorded {
            let parsed = RecordEvent::from_stored(&event.event_type, &event.payload)
                .map_err(CommandError::internal)?;
            record.apply(&parsed);
        }
        Ok((record, recorded.last().map_or(0, |e| e.version)))
    }

    /// Appends what a decision produced; returns the seq of the last event.
    async fn append(
        &self,
        id: RecordId,
        version: i32,
        actor: Uuid,
        events: &[RecordEvent],
    ) -> Result<i64, CommandError> {
        self.append_by(id, version, Some(actor), events).await
    }

    /// Appends what MedChain itself decided (no person acted: an expiry).
    async fn append_as_system(
        &self,
        id: RecordId,
        version: i32,
        events: &[RecordEvent],
    ) -> Result<i64, CommandError> {
        self.append_by(id, version, None, events).await
    }

    async fn append_by(
        &self,
        id: RecordId,
        version: i32,
        actor: Option<Uuid>,
        events: &[RecordEvent],
    ) -> Result<i64, CommandError> {
        let new = new_events(events, actor).map_err(CommandError::internal)?;
        let appended = self
            .inner
            .store
            .append(&id.stream(), ExpectedVersion::Exact(version), new)
            .await?;
        Ok(appended.last_seq)
    }
}
