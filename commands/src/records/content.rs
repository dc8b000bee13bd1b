//! Reading a record's content (fail closed, DESIGN.md §6): the access rules decide; the
//! attempt, granted or refused, is committed to the ledger; only then is the blob opened
//! and decrypted, segment by segment, on a blocking thread, as the response is sent. A
//! segment that does not authenticate ends the stream with an error, logged with the
//! record's id.

use super::blob_cipher::{BlobCorrupt, Opener, SEGMENT, TAG, stored_size};
use super::{Records, blob_path};
use crate::blobs::BlobReader;
use crate::keys::DataKeyState;
use crate::{Caller, CommandError, Decision};
use bytes::Bytes;
use domain::account::Role;
use domain::emergency::EmergencyStanding;
use domain::record::{Denial, ReadAction, ReaderFacts, Record, RecordId, read_content};
use futures::{StreamExt as _, stream::BoxStream};

/// A readable record: what to send, and the stream of its plaintext.
pub struct Content {
    pub content_type: String,
    pub file_name: String,
    pub size: u64,
    /// Seq of the `RecordAccessed` event that recorded this read.
    pub seq: i64,
    /// Its chain hash: committed before the first byte, so a receipt can promise it.
    pub hash: domain::ledger::Hash,
    pub body: BoxStream<'static, Result<Bytes, BlobCorrupt>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error(transparent)]
    Denied(Denial),
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The remote blob store (S3) cannot be reached now; it may be back soon.
    #[error("the file store cannot be reached; try again in a moment")]
    Unavailable,
}

impl Records {
    pub async fn open_content(
        &self,
        caller: &Caller,
        id: RecordId,
        action: ReadAction,
    ) -> Result<Content, ContentError> {
        // Before the read is recorded: a read on the ledger is one that was served.
        let turn = self.inner.turns.download().await?;
        let now = self.inner.clock.now();
        // A doctor's emergency accesses, from their own stream: the rules take the one
        // open to this record's owner as a fact.
        // Someone other than the owner may be their proxy: the owner's proxies stream
        // says (the record, kept folded by the kernel, names the owner). Both are read at
        // once; the record's state is decided on without reading it again.
        let (emergencies, loaded) = tokio::join!(
            self.emergencies_of(caller),
            self.kernel().load::<Record>(id)
        );
        let (emergencies, loaded) = (emergencies?, loaded?);
        let owner = loaded.state.owner();
        let proxy = match owner {
            Some(owner) if owner != caller.user && caller.role != Role::Admin => {
                crate::proxies::ProxyGrants::standing(
                    self.kernel(),
                    owner,
                    caller.user,
                    Some(id),
                    now,
                )
                .await?
            }
            _ => None,
        };
        let decide = |state: &Record| {
            let emergency = state
                .owner()
                .zip(emergencies.as_ref())
                .map_or(EmergencyStanding::Never, |(owner, e)| {
                    e.standing(owner, now)
                });
            // The proxy fact is the owner's; a record's owner never changes.
            let proxy = proxy.filter(|_| state.owner() == owner);
            let reader = ReaderFacts { emergency, proxy };
            let decision = read_content(state, caller.viewer(), action, now, reader);
            Ok(Decision::new(decision.events, decision.outcome))
        };
        // The key is read while the read is put on the ledger: it is used only once the
        // read is recorded, and dropped unused if it was refused.
        let (done, key) = tokio::join!(
            self.kernel()
                .execute_on(id, Some(caller.user), loaded, decide),
            self.inner.keys.data_key(self.pool(), id.as_uuid())
        );
        let done = done?;
        if let Err(denial) = done.outcome {
            tracing::info!(record.id = %id, user.id = %caller.user, reason = denial.reason().as_str(), "record read refused");
            return Err(ContentError::Denied(denial));
        }
        self.serve(id, done.state, done.seq, done.hash, turn, Some(key))
            .await
    }

    /// Reading content through a share link's grant: `reads` is what the link's stream
    /// says of it now (`ShareLink::reads`); the read, with no account as its actor, is on
    /// the ledger before the first byte.
    pub async fn open_content_via_link(
        &self,
        link: domain::link::LinkId,
        reads: Result<domain::account::UserId, domain::link::LinkDenial>,
        id: RecordId,
        action: ReadAction,
    ) -> Result<Content, ContentError> {
        let turn = self.inner.turns.download().await?;
        let decide = |state: &Record| {
            let decision = domain::record::read_via_link(state, link, reads, action);
            Ok(Decision::new(decision.events, decision.outcome))
        };
        let done = self.kernel().execute(id, None, decide).await?;
        if let Err(denial) = done.outcome {
            tracing::info!(record.id = %id, link.id = %link, reason = denial.reason().as_str(), "record read through a link refused");
            return Err(ContentError::Denied(denial));
        }
        self.serve(id, done.state, done.seq, done.hash, turn, None)
            .await
    }

    /// A granted read, on the ledger at `seq`: the key, the blob, and the stream of
    /// plaintext.
    async fn serve(
        &self,
        id: RecordId,
        state: Record,
        seq: i64,
        hash: Option<domain::ledger::Hash>,
        turn: super::turns::Turn,
        key: Option<Result<DataKeyState, crate::keys::KeyError>>,
    ) -> Result<Content, ContentError> {
        let hash = hash.unwrap_or(domain::ledger::Hash::ZERO);
        let stored = state
            .stored()
            .expect("a granted read is of a stored record");
        let key = match key {
            Some(key) => key,
            None => self.inner.keys.data_key(self.pool(), id.as_uuid()).await,
        };
        let opened = self.open_blob_with(id, stored, key).await?;
        let body = decrypting(opened.blob, opened.opener, id, turn, None);
        Ok(Content {
            content_type: stored.content_type.clone(),
            file_name: opened.file_name,
            size: stored.size as u64,
            seq,
            hash,
            body,
        })
    }

    /// A stored record's key, its opened file name, and its blob ready to decrypt: for
    /// a read decided on the ledger (`serve`) or an export's file.
    pub(super) async fn open_blob(
        &self,
        id: RecordId,
        stored: &domain::record::RecordUploaded,
    ) -> Result<OpenedBlob, ContentError> {
        let key = self.inner.keys.data_key(self.pool(), id.as_uuid()).await;
        self.open_blob_with(id, stored, key).await
    }

    /// `open_blob` with the record's key as read already.
    async fn open_blob_with(
        &self,
        id: RecordId,
        stored: &domain::record::RecordUploaded,
        key: Result<DataKeyState, crate::keys::KeyError>,
    ) -> Result<OpenedBlob, ContentError> {
        let key = match key {
            Ok(DataKeyState::Live(key)) => key,
            // Erased between the decision and here (the owner's erasure runs record by
            // record, its key destroyed after its event): gone, as it would be a moment
            // later. A key read beside the read's append was read before that append
            // committed, so its read comes before the erasure on the ledger.
            Ok(DataKeyState::Destroyed | DataKeyState::Missing) => {
                return Err(ContentError::Denied(Denial::Erased));
            }
            Err(e) => return Err(CommandError::from(e).into()),
        };
        let file_name = key
            .open_string(id.stream().as_str(), "fileName", &stored.file_name)
            .map_err(CommandError::internal)?;
        // The response announces the file's size; the blob must be the one that holds
        // exactly that many bytes.
        let opener = match (
            u64::try_from(stored.size),
            u64::try_from(stored.stored_size),
        ) {
            (Ok(size), Ok(blob)) if stored_size(size) == blob => {
                Opener::new(key.clone(), id.as_uuid(), blob)
            }
            _ => Err(BlobCorrupt::Size),
        }
        .map_err(CommandError::internal)?;
        let blobs = &self.inner.blobs;
        let blob = blobs
            .reader(&blob_path(&stored.sha256))
            .await
            .map_err(|e| {
                if blobs.is_remote() && e.is_unavailable() {
                    tracing::error!(record.id = %id, error = %e, "the blob store cannot be reached; a read was refused");
                    ContentError::Unavailable
                } else {
                    CommandError::internal(e).into()
                }
            })?
            .ok_or_else(|| {
                CommandError::Internal(format!("the blob of record {id} is missing").into())
            })?;
        Ok(OpenedBlob {
            key,
            file_name,
            opener,
            blob,
        })
    }
}

/// What `open_blob` opens.
pub(super) struct OpenedBlob {
    pub key: crate::keys::DataKey,
    pub file_name: String,
    pub opener: Opener,
    pub blob: BlobReader,
}

/// Plaintext blocks in flight between the decrypting thread and the response.
const IN_FLIGHT: usize = 4;
/// Segments in a block of plaintext handed to the response.
const BLOCK_SEGMENTS: usize = 8;

/// Reads and decrypts `blob` on a blocking thread (CPU work off the executor, overlapping
/// with the response being written), each segment in place in the block that is handed
/// over, through a small bounded channel. The first failure is logged and ends the
/// stream with an error; a client gone away ends the thread at its next hand-over.
/// `header`, when given, receives the blob's header once read (an export names it).
pub(super) fn decrypting(
    mut blob: BlobReader,
    mut opener: Opener,
    id: RecordId,
    turn: super::turns::Turn,
    header: Option<std::sync::Arc<std::sync::OnceLock<[u8; super::blob_cipher::HEADER]>>>,
) -> BoxStream<'static, Result<Bytes, BlobCorrupt>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, BlobCorrupt>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let result = decrypt_into(&mut blob, &mut opener, &tx);
        if let (Some(slot), Some(read)) = (header, opener.header()) {
            let _ = slot.set(read);
        }
        if let Err(e) = result {
            tracing::error!(record.id = %id, error = %e, "a record's blob does not decrypt; the response was cut");
            let _ = tx.blocking_send(Err(e));
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}

fn decrypt_into(
    blob: &mut BlobReader,
    opener: &mut Opener,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, BlobCorrupt>>,
) -> Result<(), BlobCorrupt> {
    let fresh = || Vec::with_capacity(BLOCK_SEGMENTS * (SEGMENT + TAG));
    let mut block = fresh();
    let read = |blob: &mut BlobReader, block: &mut Vec<u8>, n: usize| {
        blob.read_blocking(block, n).map_err(|e| {
            tracing::error!(error = %e, "reading a record's blob failed");
            BlobCorrupt::Truncated
        })
    };
    while let Some(n) = opener.next_len() {
        if block.capacity() - block.len() < n {
            if tx.blocking_send(Ok(Bytes::from(block))).is_err() {
                return Ok(());
            }
            block = fresh();
        }
        let from = block.len();
        read(blob, &mut block, n)?;
        opener.open(&mut block, from)?;
    }
    // The blob must end where its record says it does.
    if read(blob, &mut Vec::with_capacity(1), 1)? != 0 {
        return Err(BlobCorrupt::Size);
    }
    if !block.is_empty() {
        let _ = tx.blocking_send(Ok(Bytes::from(block)));
    }
    Ok(())
}
