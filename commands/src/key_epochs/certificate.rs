//! The erasure certificate (DESIGN.md §11): when and why a person or a record was erased
//! (from the erasure event on the ledger), which key epochs ever wrapped the erased keys
//! (kept by the erasure, `key_erasures`), whether all are retired and so the erasure is
//! complete, and if not by when it will be; signed with the ledger key like a report,
//! bound to the ledger head, so it can be checked offline:
//! `{"certificate":{…}, "head":{"seq","hash"}, "key", "sig"}`.

use super::KeyEpochs;
use crate::{Caller, CommandError, keys::LedgerKey, ledger::ledger_head};
use domain::{
    ErasureBasis, EventName as _, Timestamp,
    account::{Role, user::UserErased},
    erasure::{Completeness, EpochNumber, EpochState, ErasureSubject, completeness},
    record::{Record, RecordErased},
};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Certificate {
    pub subject: ErasureSubject,
    pub erased_at: Timestamp,
    /// The erasure event's seq.
    pub seq: i64,
    pub basis: Option<ErasureBasis>,
    pub epochs: Vec<EpochNumber>,
    pub completeness: Completeness,
    /// The signed document, canonical JSON.
    pub document: String,
}

impl KeyEpochs {
    /// The certificate of `subject`'s erasure. An administrator may ask about anyone, a
    /// patient about their own records, an operator (`caller` `None`, at the machine)
    /// about anything; to anyone else the erasure is NOT_FOUND, as is what was never
    /// erased.
    pub async fn certificate(
        &self,
        caller: Option<&Caller>,
        subject: ErasureSubject,
        signer: &LedgerKey,
    ) -> Result<Certificate, CommandError> {
        let not_found = || CommandError::NotFound(format!("there is no erasure of {subject}"));
        if let Some(caller) = caller
            && caller.role != Role::Admin
        {
            let ErasureSubject::Record(record) = subject else {
                return Err(not_found());
            };
            let state = self.inner.kernel.load::<Record>(record).await?.state;
            if state.stored().map(|s| s.owner) != Some(caller.user) {
                return Err(not_found());
            }
        }
        let (stream, event_type) = match subject {
            ErasureSubject::User(id) => (id.stream(), UserErased::NAME),
            ErasureSubject::Record(id) => (id.stream(), RecordErased::NAME),
        };
        let erasure: Option<(i64, chrono::DateTime<chrono::Utc>, Value)> = sqlx::query_as(
            "SELECT seq, recorded_at, payload::jsonb FROM events \
             WHERE stream = $1 AND type = $2 ORDER BY seq LIMIT 1",
        )
        .bind(stream.as_str())
        .bind(event_type)
        .fetch_optional(self.pool())
        .await?;
        let (seq, erased_at, payload) = erasure.ok_or_else(not_found)?;
        let basis = payload
            .get("basis")
            .and_then(|b| serde_json::from_value::<ErasureBasis>(b.clone()).ok());
        let span: Option<(i32, i32)> = sqlx::query_as(
            "SELECT first_epoch, last_epoch FROM key_erasures WHERE kind = $1 AND subject_id = $2",
        )
        .bind(subject.kind())
        .bind(subject.id())
        .fetch_optional(self.pool())
        .await?;
        // No row: the key was never destroyed (a crash before it; asking to erase again
        // finishes it). Nothing is complete until it is.
        let epochs: Vec<EpochNumber> = span
            .map(|(first, last)| (first..=last).map(|n| n as EpochNumber).collect())
            .unwrap_or_default();
        let states: Vec<EpochState> = self
            .epoch_rows()
            .await?
            .into_iter()
            .map(|r| EpochState {
                number: r.number as EpochNumber,
                started_at: Timestamp::from_datetime(r.started_at),
                retired_at: r.retired_at.map(Timestamp::from_datetime),
            })
            .collect();
        let done = completeness(&epochs, &states, self.interval_micros());
        let erased_at = Timestamp::from_datetime(erased_at);
        let text = |t: Option<Timestamp>| t.map(|t| t.to_string());
        let body = json!({
            "subject": subject.to_string(),
            "erasedAt": erased_at.to_string(),
            "seq": seq,
            "basis": basis.map(|b| b.as_str()),
            "epochs": epochs,
            "complete": done.complete,
            "completeAt": text(done.complete_at),
            "dueBy": text(done.due_by),
        });
        let head = ledger_head(self.pool()).await?;
        let document = domain::ledger::sign_document(
            "certificate",
            &body,
            head.seq,
            head.hash,
            signer.signing_key(),
        )
        .map_err(CommandError::internal)?;
        Ok(Certificate {
            subject,
            erased_at,
            seq,
            basis,
            epochs,
            completeness: done,
            document,
        })
    }
}
