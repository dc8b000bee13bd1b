//! Medical records: upload (streamed, sniffed, encrypted as it arrives), reading content
//! (recorded on the ledger before the first byte leaves), sharing, revoking, expiring
//! shares, and erasure. Each action runs the pure decisions and access rules of
//! `domain::record` on the record's stream through the kernel.
//!
//! - `blob_cipher`: the file format, AES-256-GCM STREAM segments.
//! - `upload` (a patient's own, or a doctor adding to a patient's file), `content`,
//!   `sharing`, `referrals`, `emergency` (break-glass access), `erase`, `expiry`: the
//!   actions; `care`: a doctor's standing towards a patient, from the ledger.
//! - `turns`: how many uploads and downloads run at once.

pub mod blob_cipher;
mod care;
mod content;
pub mod emergency;
mod erase;
mod expiry;
mod export;
pub mod referrals;
mod sharing;
mod turns;
mod upload;

pub use care::emergency_stream;
pub use content::{Content, ContentError};
pub use emergency::EmergencySettings;
pub use expiry::DueShare;
pub use export::{ExportFile, ExportTicket};
pub use turns::TransferLimits;
pub use upload::{Upload, UploadError, UploadLimits, UploadTimings, Uploaded};

use crate::{Clock, CommandError, Kernel, blobs::BlobStore, keys::KeyRing};
use domain::record::RecordId;
use std::sync::Arc;

/// The record commands, with what they need. Cheap to clone.
#[derive(Clone)]
pub struct Records {
    inner: Arc<Inner>,
}

struct Inner {
    kernel: Kernel,
    keys: KeyRing,
    blobs: BlobStore,
    clock: Arc<dyn Clock>,
    limits: UploadLimits,
    turns: turns::Turns,
    /// Where erasures are journalled, beside the checkpoints.
    journal: Option<crate::ledger::ErasureJournal>,
    emergency: EmergencySettings,
}

/// The blob of a record's file: named by the SHA-256 of its ciphertext.
use crate::shredding::record_blob as blob_path;

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

impl Records {
    pub fn new(
        kernel: Kernel,
        keys: KeyRing,
        blobs: BlobStore,
        clock: Arc<dyn Clock>,
        limits: UploadLimits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                kernel,
                keys,
                blobs,
                clock,
                turns: turns::Turns::new(limits.transfers),
                limits,
                journal: None,
                emergency: EmergencySettings::default(),
            }),
        }
    }

    /// Bounds emergency access. Call before the first clone.
    pub fn with_emergency(mut self, settings: EmergencySettings) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_emergency is called before Records is shared")
            .emergency = settings;
        self
    }

    pub fn limits(&self) -> &UploadLimits {
        &self.inner.limits
    }

    /// Journals each erasure beside the checkpoints. Call before the first clone.
    pub fn with_erasure_journal(mut self, journal: crate::ledger::ErasureJournal) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_erasure_journal is called before Records is shared")
            .journal = Some(journal);
        self
    }

    fn pool(&self) -> &sqlx::PgPool {
        self.inner.kernel.pool()
    }

    /// The caller's proxy grant from the record's owner covering it, as the owner's
    /// proxies stream says now (none for the owner themself).
    pub(crate) async fn proxy_of(
        &self,
        by: domain::account::UserId,
        record: RecordId,
    ) -> Result<Option<(uuid::Uuid, domain::proxy::ProxyScope)>, CommandError> {
        let owner = self
            .kernel()
            .load::<domain::record::Record>(record)
            .await?
            .state
            .owner();
        match owner {
            Some(owner) if owner != by => {
                let now = self.inner.clock.now();
                crate::proxies::ProxyGrants::standing(self.kernel(), owner, by, Some(record), now)
                    .await
            }
            _ => Ok(None),
        }
    }

    /// An aggregate's state as the ledger has it now (kept folded by the kernel): for
    /// reads that must see a revocation at once (a patient's proxies).
    pub async fn kernel_state<A: domain::Aggregate>(&self, id: A::Id) -> Result<A, CommandError> {
        Ok(self.inner.kernel.load::<A>(id).await?.state)
    }

    fn kernel(&self) -> &Kernel {
        &self.inner.kernel
    }
}
