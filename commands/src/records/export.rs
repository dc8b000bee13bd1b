//! A patient's export (DESIGN.md §12), the command side: the rule (`exporter`: the
//! patient, or a proxy of theirs with MANAGE), the decision (`export_data`) and its
//! `DataExported` event, appended before a byte leaves, like a read; then each file's
//! plaintext with what ties it to the ledger (its data key and blob header).
//!
//! Files are opened only through an `ExportTicket`, which only `begin_export` makes, for
//! the records its event names: no path opens content without the decision on the
//! ledger first.

use super::Records;
use super::blob_cipher::{BlobCorrupt, HEADER};
use super::content::{ContentError, decrypting};
use crate::keys::DataKey;
use crate::{Caller, CommandError, Decision};
use bytes::Bytes;
use domain::account::{Exporter, User, UserId, user::ExportError, user::export_data};
use domain::record::{Denial, Record, RecordId};
use futures::stream::BoxStream;
use std::sync::{Arc, OnceLock};

/// The decision on the ledger: whose data, by whom, which records' content.
#[derive(Debug, Clone)]
pub struct ExportTicket {
    patient: UserId,
    records: Vec<RecordId>,
    /// Seq of the `DataExported` event.
    pub seq: i64,
}

impl ExportTicket {
    pub fn patient(&self) -> UserId {
        self.patient
    }

    pub fn records(&self) -> &[RecordId] {
        &self.records
    }
}

/// One file of the export: its plaintext as it is decrypted, and what a checker needs to
/// seal it again into the blob whose SHA-256 the ledger names.
pub struct ExportFile {
    pub file_name: String,
    pub size: u64,
    /// The SHA-256 of the stored blob, as the upload's event names it.
    pub ciphertext_sha256: String,
    pub data_key: DataKey,
    /// Set once the body has been read to its end.
    pub header: Arc<OnceLock<[u8; HEADER]>>,
    pub body: BoxStream<'static, Result<Bytes, BlobCorrupt>>,
}

fn export_error(e: ExportError) -> CommandError {
    match e {
        ExportError::NoSuchPatient => CommandError::NotFound(e.to_string()),
        ExportError::Erased => CommandError::Conflict(e.to_string()),
    }
}

impl Records {
    /// Records the export of `records` of `patient`'s by `caller` (allowed as
    /// `exporter` by the rules about people) and returns the ticket that opens them.
    pub async fn begin_export(
        &self,
        caller: &Caller,
        patient: UserId,
        exporter: Exporter,
        records: Vec<RecordId>,
    ) -> Result<ExportTicket, CommandError> {
        let decide = |user: &User| {
            export_data(user, caller.user, exporter, records.clone())
                .map(Decision::events)
                .map_err(export_error)
        };
        let done = self
            .kernel()
            .execute(patient, Some(caller.user), decide)
            .await?;
        tracing::info!(patient.id = %patient, actor.id = %caller.user, records = records.len(), "data exported");
        Ok(ExportTicket {
            patient,
            records,
            seq: done.seq,
        })
    }

    /// A file of the export, decrypted as it is read (bounded memory for any size).
    pub async fn export_file(
        &self,
        ticket: &ExportTicket,
        id: RecordId,
    ) -> Result<ExportFile, ContentError> {
        if !ticket.records.contains(&id) {
            return Err(ContentError::Denied(Denial::NotFound));
        }
        let turn = self.inner.turns.download().await?;
        let state = self.kernel().load::<Record>(id).await?.state;
        let stored = match (state.owner(), state.stored()) {
            (Some(owner), Some(stored)) if owner == ticket.patient => stored.clone(),
            _ => return Err(ContentError::Denied(Denial::Erased)),
        };
        let opened = self.open_blob(id, &stored).await?;
        let header = Arc::new(OnceLock::new());
        let body = decrypting(opened.blob, opened.opener, id, turn, Some(header.clone()));
        Ok(ExportFile {
            file_name: opened.file_name,
            size: stored.size as u64,
            ciphertext_sha256: stored.sha256.clone(),
            data_key: opened.key,
            header,
            body,
        })
    }
}
