//! The emergency access view: one row per access ever opened, with how it ended and its
//! review, for the patient's history, the doctor's list, the administrators' review
//! queue and the expiry sweep. Reads under an access are the records view's (access
//! log rows with its id); the reason and the note stay sealed here, opened with the
//! patient's key only for those who may see them.
//!
//! Set-based like the records projector: a batch loads the rows its events name, folds
//! the events in memory in seq order, and writes one statement per kind of change.

use crate::{
    ProjectionError, Projector,
    projector::{read_as, stream_of},
    users::ReadError,
};
use chrono::{DateTime, Utc};
use commands::RecordedEvent;
use domain::{
    Sealed, Timestamp,
    account::UserId,
    emergency::{EmergencyEvent, EmergencyId},
};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use uuid::Uuid;

pub struct EmergencyProjector;

impl Projector for EmergencyProjector {
    fn name(&self) -> &'static str {
        "emergency"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["emergency_accesses"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        EmergencyEvent::TYPES
    }

    crate::set_based!(apply);
}

type Time = DateTime<Utc>;

#[derive(Default)]
struct Row {
    /// Opened in this batch: (doctor, patient, reason, opened_at, seq, expires_at).
    new: Option<(Uuid, Uuid, String, Time, i64, Time)>,
    closed_at: Option<Time>,
    expired_at: Option<Time>,
    reviewed: Option<(Uuid, Time, bool, Option<String>)>,
    updated_seq: i64,
    changed: bool,
}

async fn apply(
    tx: &mut PgConnection,
    events: &[&RecordedEvent],
) -> Result<(), (usize, ProjectionError)> {
    let mut parsed = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let read = || -> Result<_, ProjectionError> {
            Ok((stream_of(event)?.id(), read_as::<EmergencyEvent>(event)?))
        };
        parsed.push(read().map_err(|e| (index, e))?);
    }
    let ids: Vec<Uuid> = parsed.iter().map(|(_, e)| access_of(e)).collect();
    let mut rows = load(tx, &ids).await.map_err(|e| (0, e.into()))?;
    for (index, (event, (doctor, parsed))) in events.iter().zip(parsed).enumerate() {
        fold(&mut rows, event, doctor, parsed).map_err(|e| (index, e))?;
    }
    write(tx, rows).await.map_err(|e| (0, e.into()))
}

fn access_of(event: &EmergencyEvent) -> Uuid {
    match event {
        EmergencyEvent::EmergencyAccessOpened(e) => e.access.as_uuid(),
        EmergencyEvent::EmergencyAccessClosed(e) => e.access.as_uuid(),
        EmergencyEvent::EmergencyAccessExpired(e) => e.access.as_uuid(),
        EmergencyEvent::EmergencyAccessReviewed(e) => e.access.as_uuid(),
    }
}

async fn load(tx: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, Row>, sqlx::Error> {
    type Loaded = (
        Uuid,
        Option<Time>,
        Option<Time>,
        Option<Uuid>,
        Option<Time>,
        Option<bool>,
        Option<String>,
        i64,
    );
    let rows: Vec<Loaded> = sqlx::query_as(
        "SELECT id, closed_at, expired_at, reviewed_by, reviewed_at, justified, review_note, \
            updated_seq FROM emergency_accesses WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, closed_at, expired_at, by, at, justified, note, updated_seq)| {
                let reviewed = by
                    .zip(at)
                    .map(|(by, at)| (by, at, justified.unwrap_or(false), note));
                let row = Row {
                    new: None,
                    closed_at,
                    expired_at,
                    reviewed,
                    updated_seq,
                    changed: false,
                };
                (id, row)
            },
        )
        .collect())
}

fn fold(
    rows: &mut HashMap<Uuid, Row>,
    event: &RecordedEvent,
    doctor: Uuid,
    parsed: EmergencyEvent,
) -> Result<(), ProjectionError> {
    let at = event.at.to_datetime();
    let id = access_of(&parsed);
    if let EmergencyEvent::EmergencyAccessOpened(e) = &parsed {
        if rows.contains_key(&id) {
            return Err(ProjectionError::malformed(
                event,
                "the access is in the view already",
            ));
        }
        rows.insert(
            id,
            Row {
                new: Some((
                    doctor,
                    e.patient.as_uuid(),
                    e.reason.as_str().to_owned(),
                    e.opened_at.to_datetime(),
                    event.seq,
                    e.expires_at.to_datetime(),
                )),
                updated_seq: event.seq,
                ..Row::default()
            },
        );
        return Ok(());
    }
    let row = rows
        .get_mut(&id)
        .ok_or_else(|| ProjectionError::malformed(event, "no such emergency access in the view"))?;
    row.changed = true;
    row.updated_seq = event.seq;
    match parsed {
        EmergencyEvent::EmergencyAccessOpened(_) => unreachable!("handled above"),
        EmergencyEvent::EmergencyAccessClosed(_) => row.closed_at = Some(at),
        EmergencyEvent::EmergencyAccessExpired(_) => row.expired_at = Some(at),
        EmergencyEvent::EmergencyAccessReviewed(e) => {
            let by = event
                .actor
                .ok_or_else(|| ProjectionError::malformed(event, "a review names its reviewer"))?;
            row.reviewed = Some((
                by,
                at,
                e.justified,
                e.note.map(|n| Sealed::as_str(&n).to_owned()),
            ));
        }
    }
    Ok(())
}

async fn write(tx: &mut PgConnection, rows: HashMap<Uuid, Row>) -> Result<(), sqlx::Error> {
    #[derive(Default)]
    struct Columns {
        ids: Vec<Uuid>,
        closed: Vec<Option<Time>>,
        expired: Vec<Option<Time>>,
        reviewed_by: Vec<Option<Uuid>>,
        reviewed_at: Vec<Option<Time>>,
        justified: Vec<Option<bool>>,
        notes: Vec<Option<String>>,
        updated: Vec<i64>,
    }
    let mut new = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut state = Columns::default();
    for (id, row) in rows {
        if let Some((doctor, patient, reason, opened_at, seq, expires_at)) = row.new {
            new.0.push(id);
            new.1.push(doctor);
            new.2.push(patient);
            new.3.push(reason);
            new.4.push(opened_at);
            new.5.push(seq);
            new.6.push(expires_at);
        } else if !row.changed {
            continue;
        }
        // A new row is inserted, then given its state like a changed one.
        let (by, at, justified, note) = match row.reviewed {
            Some((by, at, justified, note)) => (Some(by), Some(at), Some(justified), note),
            None => (None, None, None, None),
        };
        state.ids.push(id);
        state.closed.push(row.closed_at);
        state.expired.push(row.expired_at);
        state.reviewed_by.push(by);
        state.reviewed_at.push(at);
        state.justified.push(justified);
        state.notes.push(note);
        state.updated.push(row.updated_seq);
    }
    if !new.0.is_empty() {
        sqlx::query(
            "INSERT INTO emergency_accesses (id, doctor_id, patient_id, reason, opened_at, \
                opened_seq, expires_at, updated_seq) \
             SELECT id, doctor, patient, reason, opened_at, seq, expires_at, seq \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[], \
                $6::int8[], $7::timestamptz[]) \
                AS u(id, doctor, patient, reason, opened_at, seq, expires_at)",
        )
        .bind(&new.0)
        .bind(&new.1)
        .bind(&new.2)
        .bind(&new.3)
        .bind(&new.4)
        .bind(&new.5)
        .bind(&new.6)
        .execute(&mut *tx)
        .await?;
    }
    if !state.ids.is_empty() {
        sqlx::query(
            "UPDATE emergency_accesses e SET closed_at = u.closed_at, expired_at = u.expired_at, \
                reviewed_by = u.reviewed_by, reviewed_at = u.reviewed_at, \
                justified = u.justified, review_note = u.review_note, updated_seq = u.updated_seq \
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::uuid[], \
                $5::timestamptz[], $6::bool[], $7::text[], $8::int8[]) \
                AS u(id, closed_at, expired_at, reviewed_by, reviewed_at, justified, \
                     review_note, updated_seq) \
             WHERE e.id = u.id",
        )
        .bind(&state.ids)
        .bind(&state.closed)
        .bind(&state.expired)
        .bind(&state.reviewed_by)
        .bind(&state.reviewed_at)
        .bind(&state.justified)
        .bind(&state.notes)
        .bind(&state.updated)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// An emergency access as the view holds it; `reason` and `review_note` are sealed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmergencyView {
    pub id: Uuid,
    pub doctor_id: Uuid,
    pub patient_id: Uuid,
    pub reason: String,
    pub opened_at: Time,
    pub opened_seq: i64,
    pub expires_at: Time,
    pub closed_at: Option<Time>,
    pub expired_at: Option<Time>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<Time>,
    pub justified: Option<bool>,
    pub review_note: Option<String>,
    /// Reads of the patient's records under it (the access log's EMERGENCY rows).
    pub reads: i64,
}

impl EmergencyView {
    pub fn id(&self) -> EmergencyId {
        EmergencyId::from_uuid(self.id)
    }

    pub fn doctor(&self) -> UserId {
        UserId::from_uuid(self.doctor_id)
    }

    pub fn patient(&self) -> UserId {
        UserId::from_uuid(self.patient_id)
    }

    /// When it stopped letting its doctor read: closed, or its time (recorded or not).
    pub fn closed_at(&self, now: Timestamp) -> Option<Timestamp> {
        let expires = Timestamp::from_datetime(self.expires_at);
        self.closed_at
            .map(Timestamp::from_datetime)
            .or_else(|| (expires <= now).then_some(expires))
    }
}

const SELECT: &str = "SELECT e.id, e.doctor_id, e.patient_id, e.reason, e.opened_at, \
        e.opened_seq, e.expires_at, e.closed_at, e.expired_at, e.reviewed_by, e.reviewed_at, \
        e.justified, e.review_note, \
        (SELECT count(*) FROM access_log a WHERE a.emergency_id = e.id) AS reads \
     FROM emergency_accesses e ";

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<EmergencyView>, ReadError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE e.id = $1")))
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Into a patient's records, or by a doctor: newest first.
pub async fn involving(pool: &PgPool, person: UserId) -> Result<Vec<EmergencyView>, ReadError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE e.patient_id = $1 OR e.doctor_id = $1 ORDER BY e.opened_seq DESC LIMIT 500"
    )))
    .bind(person.as_uuid())
    .fetch_all(pool)
    .await?)
}

/// The administrators' queue, newest first; `reviewed` filters; `before`: the last
/// row's opened seq.
pub async fn queue(
    pool: &PgPool,
    reviewed: Option<bool>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EmergencyView>, ReadError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($1::boolean IS NULL OR (e.reviewed_at IS NOT NULL) = $1) \
           AND ($2::bigint IS NULL OR e.opened_seq < $2) \
         ORDER BY e.opened_seq DESC LIMIT $3"
    )))
    .bind(reviewed)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The doctor's access to the patient open at `now`, as the view has it (what the
/// GraphQL fields show; the content route asks the doctor's stream).
pub async fn open_for(
    pool: &PgPool,
    doctor: UserId,
    patient: UserId,
    now: Timestamp,
) -> Result<Option<EmergencyId>, ReadError> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM emergency_accesses WHERE doctor_id = $1 AND patient_id = $2 \
           AND closed_at IS NULL AND expired_at IS NULL AND expires_at > $3 \
         ORDER BY opened_seq DESC LIMIT 1",
    )
    .bind(doctor.as_uuid())
    .bind(patient.as_uuid())
    .bind(now.to_datetime())
    .fetch_optional(pool)
    .await?;
    Ok(id.map(EmergencyId::from_uuid))
}

/// Accesses whose time passed and whose expiry is not recorded yet: (doctor, access).
pub async fn due(
    pool: &PgPool,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<(UserId, EmergencyId)>, ReadError> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT doctor_id, id FROM emergency_accesses \
         WHERE closed_at IS NULL AND expired_at IS NULL AND expires_at <= $1 \
         ORDER BY expires_at LIMIT $2",
    )
    .bind(now.to_datetime())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(d, id)| (UserId::from_uuid(d), EmergencyId::from_uuid(id)))
        .collect())
}

impl EmergencyView {
    /// The reason and the review's note in clear, with the patient's key; `None` for
    /// either once the patient is erased (their key is gone, and with it the text).
    pub async fn open(
        &self,
        keys: &commands::keys::KeyRing,
        pool: &PgPool,
    ) -> Result<(Option<String>, Option<String>), ReadError> {
        let Some(key) = keys.subject_key(pool, self.patient_id).await?.live() else {
            return Ok((None, None));
        };
        let stream = commands::records::emergency_stream(self.doctor());
        let open = |field: &str, text: &str| -> Result<String, ReadError> {
            let corrupt = |e: &dyn std::fmt::Display| {
                ReadError::Corrupt(format!("emergency {}: {e}", self.id))
            };
            let sealed = Sealed::parse(text).map_err(|e| corrupt(&e))?;
            key.open_string(stream.as_str(), field, &sealed)
                .map_err(|e| corrupt(&e))
        };
        use commands::records::emergency::{REASON_FIELD, REVIEW_NOTE_FIELD};
        let reason = open(REASON_FIELD, &self.reason)?;
        let note = self
            .review_note
            .as_deref()
            .map(|n| open(REVIEW_NOTE_FIELD, n))
            .transpose()?;
        Ok((Some(reason), note))
    }
}
