//! Uploading a record. The file's kind is decided from its first bytes before anything
//! is stored; then the file is encrypted as it streams in and written to the blob store
//! under a staging name, renamed to the SHA-256 of its ciphertext once complete (its data
//! key stored while the blob is synced), and only then put on the ledger. Plaintext is
//! never written anywhere: it lives in memory one segment at a time.
//!
//! Four stages run at once, joined by small bounded channels, so a large file keeps both
//! cores busy and memory bounded: the caller's stream feeds plaintext; a blocking thread
//! seals it (`blob_cipher::Sealer`); another hashes the ciphertext; the async side hands
//! it to the blob writer (a thread of its own on a local directory, parts on S3). A
//! failure in any stage stops the others, aborts the blob, and leaves neither blob nor
//! key nor event; the client is then answered after what it still sends is read (up to
//! a bound). Uploads take turns (`turns`), and one that sends nothing for five minutes
//! has gone.

use super::blob_cipher::{BlobCorrupt, Sealer};
use super::{Records, blob_path, staging_path};
use crate::keys::{DataKey, SubjectKeyState};
use crate::{Caller, CommandError, Decision};
use bytes::Bytes;
use domain::account::UserId;
use domain::record::{
    CareFacts, ContentKind, Description, FileName, Record, RecordId, RecordUploaded, SNIFF_BYTES,
    ShareId, Title, UploadError as Refused, UploadRecord, may_begin_upload, sniff, upload,
};
use futures::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use std::fmt::Display;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

/// What uploads may be.
#[derive(Debug, Clone)]
pub struct UploadLimits {
    /// Plaintext bytes.
    pub max_bytes: u64,
    pub allowed: Vec<ContentKind>,
    /// How many uploads and downloads run at once.
    pub transfers: super::TransferLimits,
    /// How much one patient may keep, all live records together (plaintext bytes).
    pub quota_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            allowed: ContentKind::ALL.to_vec(),
            transfers: super::TransferLimits::default(),
            quota_bytes: 10 << 30,
        }
    }
}

/// The form fields that come before the file.
#[derive(Debug)]
pub struct Upload {
    pub title: Title,
    pub description: Option<Description>,
    pub file_name: Option<FileName>,
    /// A doctor adding to a patient's file names the patient; a patient names nobody.
    pub patient: Option<UserId>,
}

#[derive(Debug, Clone)]
pub struct Uploaded {
    pub id: RecordId,
    pub sha256: String,
    pub seq: i64,
    /// Where the upload's time went, for `Server-Timing` and `bench records`.
    pub timings: UploadTimings,
}

/// An upload's phases, one after another: `checks` (the first bytes sniffed, the owner's
/// key, the quota, a turn), `receive` (until the last byte was handed to sealing, which
/// runs meanwhile with hashing and the blob writes), `seal` (sealing and hashing what was
/// left), `blob` (the last writes, the blob synced and named, and meanwhile the data key
/// stored), `append` (the event on the ledger).
#[derive(Debug, Clone, Copy, Default)]
pub struct UploadTimings {
    pub checks: Duration,
    pub receive: Duration,
    pub seal: Duration,
    pub blob: Duration,
    pub append: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("{0}")]
    TypeNotAllowed(String),
    #[error("the file is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error(
        "this upload would pass your storage quota of {quota} bytes ({used} bytes are in use): \
         erase records you no longer need, or ask an administrator"
    )]
    OverQuota { quota: u64, used: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("the upload was cut off")]
    Interrupted(String),
    /// The blob store has no room: nothing was kept, and the ledger names nothing.
    #[error(
        "the file store is full: nothing was kept; try again once an administrator has made room"
    )]
    StoreFull,
    /// The remote blob store (S3) cannot be reached: nothing was kept; it may be back soon.
    #[error("the file store cannot be reached: nothing was kept; try again in a moment")]
    StoreUnavailable,
}

/// A blob store failure as the upload answers it: a full store or an unreachable one
/// said so, anything else an internal error.
fn blob_failed(remote: bool, e: crate::blobs::BlobError) -> UploadError {
    if e.is_full() {
        tracing::error!(error = %e, "the blob store is full; an upload was refused");
        UploadError::StoreFull
    } else if remote && e.is_unavailable() {
        tracing::error!(error = %e, "the blob store cannot be reached; an upload was refused");
        UploadError::StoreUnavailable
    } else {
        CommandError::internal(e).into()
    }
}

/// Ciphertext is handed to the blob writer in blocks of this size.
const BLOCK: usize = 256 * 1024;
/// Ciphertext up to this size is kept in memory and written in one call once its hash
/// (its name) is known: no staging file, no rename across directories. Most medical
/// files are this small; the memory it holds is bounded by the upload turns.
const SMALL_BLOB: usize = 4 * 1024 * 1024;
/// How long an upload may go without a byte arriving. Far below the staging sweep's
/// idle time, so a staged upload that old is never a live one.
const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(300);

impl Records {
    /// Refuses, before a byte of the body is read, a caller who may not upload at all
    /// (whether a doctor may add to a patient's file is `check_care`'s, once the patient
    /// is named).
    pub fn check_uploader(&self, caller: &Caller) -> Result<(), CommandError> {
        if may_begin_upload(caller.viewer()) {
            Ok(())
        } else {
            Err(CommandError::Forbidden(Refused::NotAPatient.to_string()))
        }
    }

    pub async fn upload<S, E>(
        &self,
        caller: &Caller,
        meta: Upload,
        mut file: S,
    ) -> Result<Uploaded, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: Display,
    {
        self.check_uploader(caller)?;
        // Whose file it goes into: the caller's own, or the patient a doctor or a MANAGE
        // proxy named, which the rules allow before a byte is stored.
        let mut proxy = None;
        let owner = match meta.patient {
            None if caller.role == domain::account::Role::Patient => caller.user,
            None => {
                return Err(CommandError::Forbidden(
                    "a doctor adds a record to a patient's file: name the patient".into(),
                )
                .into());
            }
            Some(patient) => {
                proxy = self.check_on_behalf(caller, patient).await?;
                patient
            }
        };
        let began = Instant::now();
        let limits = self.limits().clone();

        // Decide the kind from the first bytes, before anything is stored.
        let mut head: Vec<Bytes> = Vec::new();
        let mut seen = 0usize;
        let mut complete = false;
        while seen < SNIFF_BYTES {
            match next_chunk(&mut file).await? {
                Some(chunk) => {
                    seen += chunk.len();
                    head.push(chunk);
                }
                None => {
                    complete = true;
                    break;
                }
            }
        }
        if seen == 0 {
            return Err(UploadError::Empty);
        }
        let window: Vec<u8> = head
            .iter()
            .flat_map(|c| c.iter().copied())
            .take(SNIFF_BYTES)
            .collect();
        let kind = match sniff(&window, complete && seen <= SNIFF_BYTES) {
            Some(kind) if limits.allowed.contains(&kind) => kind,
            Some(kind) => {
                discard_rest(&mut file).await;
                return Err(UploadError::TypeNotAllowed(format!(
                    "{} files are not accepted here",
                    kind.name().to_uppercase()
                )));
            }
            None => {
                discard_rest(&mut file).await;
                return Err(UploadError::TypeNotAllowed(
                    "this kind of file is not accepted: upload a PDF, an image (PNG, JPEG), \
                     a DICOM file, plain text or JSON"
                        .into(),
                ));
            }
        };

        // The owner's key and the bytes they keep are asked together: two reads, one wait.
        let (owner_key, used) = tokio::join!(
            self.inner.keys.subject_key(self.pool(), owner.as_uuid()),
            self.stored_by(owner)
        );
        let owner_key = match owner_key.map_err(CommandError::from)? {
            SubjectKeyState::Live(key) => key,
            SubjectKeyState::Destroyed | SubjectKeyState::Missing => {
                return Err(CommandError::NotFound("there is no such account".into()).into());
            }
        };
        // The quota bounds this upload as it streams; the bytes in use come from the
        // records view, so uploads finishing at the same moment may pass it by their size.
        let used = used?;
        let room = limits.quota_bytes.saturating_sub(used);
        let over_quota = || UploadError::OverQuota {
            quota: limits.quota_bytes,
            used,
        };
        if room == 0 {
            discard_rest(&mut file).await;
            return Err(over_quota());
        }
        let cap = limits.max_bytes.min(room);
        let id = RecordId::from_uuid(Uuid::now_v7());
        let data_key = DataKey::generate();
        let _turn = match self.inner.turns.upload().await {
            Ok(turn) => turn,
            Err(e) => {
                discard_rest(&mut file).await;
                return Err(e.into());
            }
        };
        let checked = Instant::now();
        // The data key is stored (a durable commit of its own) while the blob is synced
        // and named: both must be durable before the ledger names the record, neither
        // needs the other, so the upload waits for one commit there, not two in a row.
        let store_key = async {
            self.inner
                .keys
                .store_data_key(
                    self.pool(),
                    id.as_uuid(),
                    owner.as_uuid(),
                    &owner_key,
                    &data_key,
                )
                .await
                .map_err(|e| UploadError::from(CommandError::from(e)))
        };
        let (stored, times) = match self
            .store_encrypted(id, &data_key, head, file, cap, store_key)
            .await
        {
            Err(UploadError::TooLarge(_)) if cap < limits.max_bytes => return Err(over_quota()),
            other => other?,
        };

        let appending = Instant::now();
        let result = self
            .record_upload(caller, (owner, proxy), id, &data_key, meta, kind, &stored)
            .await;
        if result.is_err() {
            // Nothing on the ledger names this blob or key: take both back.
            let _ = self.inner.blobs.delete(&blob_path(&stored.sha256)).await;
            self.forget_key(id).await;
        }
        let seq = result?;
        tracing::info!(record.id = %id, user.id = %caller.user, bytes = stored.plaintext, "record uploaded");
        let timings = UploadTimings {
            checks: checked - began,
            receive: times.received - checked,
            seal: times.sealed - times.received,
            blob: appending - times.sealed,
            append: appending.elapsed(),
        };
        Ok(Uploaded {
            id,
            sha256: stored.sha256,
            seq,
            timings,
        })
    }

    /// Deletes the data key of an upload that the ledger will never name.
    async fn forget_key(&self, id: RecordId) {
        if let Err(e) = sqlx::query("DELETE FROM record_keys WHERE record_id = $1")
            .bind(id.as_uuid())
            .execute(self.pool())
            .await
        {
            tracing::warn!(record.id = %id, error = %e, "the key of a failed upload could not be deleted");
        }
    }

    /// The plaintext bytes of the patient's live records.
    async fn stored_by(&self, owner: UserId) -> Result<u64, CommandError> {
        let used: Option<i64> = sqlx::query_scalar(
            "SELECT sum(size)::bigint FROM records WHERE owner_id = $1 AND erased_at IS NULL",
        )
        .bind(owner.as_uuid())
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(used.unwrap_or(0)).unwrap_or(0))
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_upload(
        &self,
        caller: &Caller,
        (owner, proxy): (UserId, Option<(Uuid, domain::proxy::ProxyScope)>),
        id: RecordId,
        data_key: &DataKey,
        meta: Upload,
        kind: ContentKind,
        stored: &Stored,
    ) -> Result<i64, UploadError> {
        let stream = id.stream();
        let file_name = meta.file_name.map_or_else(
            || format!("record.{}", kind.extension()),
            |n| n.as_str().to_owned(),
        );
        let author = (owner != caller.user).then_some(caller.user);
        // A doctor's standing is asked again now, from the ledger: a share revoked or an
        // emergency access closed while the file streamed stops it here.
        // A proxy's grant is asked again now too: one revoked while the file streamed
        // stops it here.
        let proxy = match proxy {
            Some(_) => {
                let now = self.inner.clock.now();
                crate::proxies::ProxyGrants::standing(self.kernel(), owner, caller.user, None, now)
                    .await?
            }
            None => None,
        };
        let care: Option<(CareFacts, ShareId)> = match author {
            Some(_) if proxy.is_some() => None,
            Some(_) => Some((
                self.care_facts(caller, owner).await?,
                ShareId::from_uuid(Uuid::now_v7()),
            )),
            None => None,
        };
        let event = RecordUploaded {
            owner,
            author,
            sha256: stored.sha256.clone(),
            size: stored.plaintext as i64,
            stored_size: stored.ciphertext as i64,
            content_type: kind.mime().to_owned(),
            title: data_key.seal_str(stream.as_str(), "title", meta.title.as_str()),
            description: meta
                .description
                .map(|d| data_key.seal_str(stream.as_str(), "description", d.as_str())),
            file_name: data_key.seal_str(stream.as_str(), "fileName", &file_name),
        };
        let decide = |state: &Record| {
            let cmd = UploadRecord {
                by: caller.viewer(),
                stored: event.clone(),
                care,
                proxy,
            };
            upload(state, cmd)
                .map(Decision::events)
                .map_err(|e| match e {
                    Refused::NotAPatient | Refused::NotTheirs | Refused::NotInCare => {
                        CommandError::Forbidden(e.to_string())
                    }
                    Refused::Exists => CommandError::Conflict(e.to_string()),
                })
        };
        // The record's id was made for this upload: its stream is not read first.
        Ok(self
            .kernel()
            .execute_new(id, Some(caller.user), decide)
            .await?
            .seq)
    }

    /// Encrypts the file into the blob store, running `store_key` while the blob is made
    /// durable; returns what was stored, and when the last byte was handed to sealing and
    /// when sealing and hashing were done. On failure neither blob nor key is left.
    async fn store_encrypted<S, E>(
        &self,
        id: RecordId,
        key: &DataKey,
        head: Vec<Bytes>,
        mut file: S,
        max_bytes: u64,
        store_key: impl Future<Output = Result<(), UploadError>>,
    ) -> Result<(Stored, StoreTimes), UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: Display,
    {
        let blobs = &self.inner.blobs;
        let staging = staging_path(id);
        // Started only once the ciphertext outgrows `SMALL_BLOB` (below).
        let mut writer: Option<crate::blobs::BlobWriter> = None;
        let mut held: Vec<Bytes> = Vec::new();

        let (plain_tx, mut plain_rx) = mpsc::channel::<Bytes>(4);
        let (cipher_tx, cipher_rx) = mpsc::channel::<Vec<u8>>(2);
        let key = key.clone();
        let record = id.as_uuid();
        // Encrypting and hashing run on two threads: each alone is slower than the
        // network, and together on one they were the upload's limit.
        let (sealed_tx, mut sealed_rx) = mpsc::channel::<Vec<u8>>(2);
        let sealing = tokio::task::spawn_blocking(move || -> Result<(u64, u64), BlobCorrupt> {
            let mut sealer = Sealer::new(&key, record, BLOCK);
            let mut emit = |block: Vec<u8>| sealed_tx.blocking_send(block).is_ok();
            while let Some(chunk) = plain_rx.blocking_recv() {
                sealer.push(&chunk, &mut emit)?;
            }
            sealer.finish(&mut emit)
        });
        let hashing = tokio::task::spawn_blocking(move || -> Option<String> {
            let mut hasher = Sha256::new();
            while let Some(block) = sealed_rx.blocking_recv() {
                hasher.update(&block);
                cipher_tx.blocking_send(block).ok()?;
            }
            Some(hex::encode(hasher.finalize()))
        });

        let feed = async move {
            let fed = feed_all(&mut file, head, &plain_tx, max_bytes).await;
            if fed.is_err() {
                // Refused (too large) or failed further down: the rest goes nowhere.
                drop(plain_tx);
                discard_rest(&mut file).await;
            }
            (fed, Instant::now())
        };
        let drain = async {
            // Owned here, so a failed write drops it: the hashing thread's next hand-over
            // fails, and every stage before it unwinds in turn instead of waiting.
            let mut cipher_rx = cipher_rx;
            let mut held_bytes = 0;
            while let Some(block) = cipher_rx.recv().await {
                let block = Bytes::from(block);
                if let Some(writer) = writer.as_mut() {
                    writer.write(block).await?;
                    continue;
                }
                held_bytes += block.len();
                held.push(block);
                if held_bytes > SMALL_BLOB {
                    // A large blob: streamed to its staging name from here on.
                    let started = writer.insert(blobs.writer(&staging).await?);
                    for block in held.drain(..) {
                        started.write(block).await?;
                    }
                }
            }
            Ok::<(), crate::blobs::BlobError>(())
        };
        let ((fed, received), drained) = tokio::join!(feed, drain);
        let sealed = match (sealing.await, hashing.await) {
            (Ok(Ok((plaintext, ciphertext))), Ok(Some(sha256))) => Ok(Ok(Stored {
                sha256,
                plaintext,
                ciphertext,
            })),
            (Ok(Err(e)), _) => Ok(Err(e)),
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(Ok(_)), Ok(None)) => Ok(Err(BlobCorrupt::Truncated)),
        };

        let times = StoreTimes {
            received,
            sealed: Instant::now(),
        };
        let stored = match (fed, drained, sealed) {
            (Ok(()), Ok(()), Ok(Ok(stored))) => stored,
            (fed, drained, sealed) => {
                if let Some(writer) = writer {
                    writer.abort().await;
                }
                // The first failure down the pipeline is the cause: a stage stops early
                // only on its own error, and the stages before it then fail on hand-over.
                return Err(match (fed, drained, sealed) {
                    (_, Err(e), _) => blob_failed(blobs.is_remote(), e),
                    (_, _, Err(e)) => CommandError::internal(e).into(),
                    (_, _, Ok(Err(e))) => CommandError::internal(e).into(),
                    (Err(e), _, _) => e,
                    (Ok(()), Ok(()), Ok(Ok(_))) => unreachable!("handled above"),
                });
            }
        };
        let name = blob_path(&stored.sha256);
        let durable = async {
            let Some(writer) = writer else {
                // A small blob: written whole under its name in one call (a local file is
                // staged beside it, synced, renamed and its directory synced; on S3, one
                // PUT), durable when it returns, like a large one after its rename.
                let whole: Vec<u8> = held.concat();
                return blobs.put(&name, whole).await;
            };
            let named = match writer.finish().await {
                Ok(()) => blobs.rename(&staging, &name).await,
                Err(e) => Err(e),
            };
            if named.is_err() {
                let _ = blobs.delete(&staging).await;
            }
            named
        };
        match tokio::join!(durable, store_key) {
            (Ok(()), Ok(())) => Ok((stored, times)),
            (Ok(()), Err(e)) => {
                let _ = blobs.delete(&name).await;
                Err(e)
            }
            (Err(e), key_stored) => {
                if key_stored.is_ok() {
                    self.forget_key(id).await;
                }
                Err(blob_failed(blobs.is_remote(), e))
            }
        }
    }
}

/// The next piece of the file; a client that sends nothing for `BODY_IDLE` has gone.
async fn next_chunk<S, E>(file: &mut S) -> Result<Option<Bytes>, UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    match tokio::time::timeout(BODY_IDLE, file.next()).await {
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        Ok(Some(Err(e))) => Err(UploadError::Interrupted(e.to_string())),
        Ok(None) => Ok(None),
        Err(_) => Err(UploadError::Interrupted(format!(
            "nothing arrived for {} seconds",
            BODY_IDLE.as_secs()
        ))),
    }
}

/// Hands the file's bytes to the sealing thread, refusing past `max_bytes`.
async fn feed_all<S, E>(
    file: &mut S,
    head: Vec<Bytes>,
    plain_tx: &mpsc::Sender<Bytes>,
    max_bytes: u64,
) -> Result<(), UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let mut total = 0u64;
    let mut send = async |chunk: Bytes| -> Result<(), UploadError> {
        total += chunk.len() as u64;
        if total > max_bytes {
            return Err(UploadError::TooLarge(max_bytes));
        }
        plain_tx
            .send(chunk)
            .await
            .map_err(|_| UploadError::Interrupted("the encryption stage stopped".into()))
    };
    for chunk in head {
        send(chunk).await?;
    }
    while let Some(chunk) = next_chunk(file).await? {
        send(chunk).await?;
    }
    Ok(())
}

/// Reads and drops what the client is still sending of a refused file (a few MiB and
/// seconds at most), so it can read the refusal instead of meeting a connection closed
/// under its feet while it sends.
async fn discard_rest<S, E>(file: &mut S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    const AT_MOST: usize = 8 * 1024 * 1024;
    let mut discarded = 0usize;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while discarded < AT_MOST {
            match file.next().await {
                Some(Ok(chunk)) => discarded += chunk.len(),
                Some(Err(_)) | None => break,
            }
        }
    })
    .await;
}

/// What the blob store holds after an upload.
#[derive(Debug, Clone)]
struct StoreTimes {
    received: Instant,
    sealed: Instant,
}

struct Stored {
    sha256: String,
    plaintext: u64,
    ciphertext: u64,
}
