//! The proxy grants view: each grant with its scope, records, expiry, who accepted it and
//! whether it was revoked, for the patient's "Family and caregivers" page and the proxy's
//! list of patients. The invited address stays sealed under the patient's key.
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
use domain::{Sealed, Timestamp, account::UserId, proxy::ProxyEvent};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use uuid::Uuid;

pub struct ProxiesProjector;

impl Projector for ProxiesProjector {
    fn name(&self) -> &'static str {
        "proxies"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["proxy_grants"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        ProxyEvent::TYPES
    }

    crate::set_based!(apply);
}

type Time = DateTime<Utc>;

/// A grant invited in this batch.
struct NewGrant {
    patient: Uuid,
    email: String,
    scope: &'static str,
    records: Option<String>,
    at: Time,
    seq: i64,
    expires_at: Option<Time>,
}

struct Row {
    new: Option<NewGrant>,
    proxy: Option<Uuid>,
    accepted_at: Option<Time>,
    revoked_at: Option<Time>,
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
            Ok((stream_of(event)?.id(), read_as::<ProxyEvent>(event)?))
        };
        parsed.push(read().map_err(|e| (index, e))?);
    }
    let ids: Vec<Uuid> = parsed.iter().map(|(_, e)| grant_of(e)).collect();
    let mut rows = load(tx, &ids).await.map_err(|e| (0, e.into()))?;
    for (index, (event, (patient, parsed))) in events.iter().zip(parsed).enumerate() {
        fold(&mut rows, event, patient, parsed).map_err(|e| (index, e))?;
    }
    write(tx, rows).await.map_err(|e| (0, e.into()))
}

fn grant_of(event: &ProxyEvent) -> Uuid {
    match event {
        ProxyEvent::ProxyInvited(e) => e.grant,
        ProxyEvent::ProxyAccepted(e) => e.grant,
        ProxyEvent::ProxyRevoked(e) => e.grant,
    }
}

async fn load(tx: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, Row>, sqlx::Error> {
    type Loaded = (Uuid, Option<Uuid>, Option<Time>, Option<Time>, i64);
    let rows: Vec<Loaded> = sqlx::query_as(
        "SELECT id, proxy_id, accepted_at, revoked_at, updated_seq FROM proxy_grants \
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, proxy, accepted_at, revoked_at, updated_seq)| {
            let row = Row {
                new: None,
                proxy,
                accepted_at,
                revoked_at,
                updated_seq,
                changed: false,
            };
            (id, row)
        })
        .collect())
}

fn fold(
    rows: &mut HashMap<Uuid, Row>,
    event: &RecordedEvent,
    patient: Uuid,
    parsed: ProxyEvent,
) -> Result<(), ProjectionError> {
    let at = event.at.to_datetime();
    let id = grant_of(&parsed);
    if let ProxyEvent::ProxyInvited(e) = &parsed {
        if rows.contains_key(&id) {
            return Err(ProjectionError::malformed(
                event,
                "the grant is in the view already",
            ));
        }
        let records = e.records.as_ref().map(|r| {
            let list: Vec<String> = r.iter().map(|id| id.to_string()).collect();
            format!("{{{}}}", list.join(","))
        });
        rows.insert(
            id,
            Row {
                new: Some(NewGrant {
                    patient,
                    email: Sealed::as_str(&e.email).to_owned(),
                    scope: e.scope.as_str(),
                    records,
                    at,
                    seq: event.seq,
                    expires_at: e.expires_at.map(Timestamp::to_datetime),
                }),
                proxy: None,
                accepted_at: None,
                revoked_at: None,
                updated_seq: event.seq,
                changed: false,
            },
        );
        return Ok(());
    }
    let row = rows
        .get_mut(&id)
        .ok_or_else(|| ProjectionError::malformed(event, "no such proxy grant in the view"))?;
    row.changed = true;
    row.updated_seq = event.seq;
    match parsed {
        ProxyEvent::ProxyInvited(_) => unreachable!("handled above"),
        ProxyEvent::ProxyAccepted(e) => {
            row.proxy = Some(e.proxy.as_uuid());
            row.accepted_at = Some(at);
        }
        ProxyEvent::ProxyRevoked(_) => {
            row.revoked_at.get_or_insert(at);
        }
    }
    Ok(())
}

async fn write(tx: &mut PgConnection, rows: HashMap<Uuid, Row>) -> Result<(), sqlx::Error> {
    #[derive(Default)]
    struct New<'a> {
        ids: Vec<Uuid>,
        patients: Vec<Uuid>,
        emails: Vec<String>,
        scopes: Vec<&'a str>,
        records: Vec<Option<String>>,
        ats: Vec<Time>,
        seqs: Vec<i64>,
        expires: Vec<Option<Time>>,
    }
    #[derive(Default)]
    struct State {
        ids: Vec<Uuid>,
        proxies: Vec<Option<Uuid>>,
        accepted: Vec<Option<Time>>,
        revoked: Vec<Option<Time>>,
        updated: Vec<i64>,
    }
    let (mut new, mut state) = (New::default(), State::default());
    for (id, row) in rows {
        if let Some(n) = row.new {
            new.ids.push(id);
            new.patients.push(n.patient);
            new.emails.push(n.email);
            new.scopes.push(n.scope);
            new.records.push(n.records);
            new.ats.push(n.at);
            new.seqs.push(n.seq);
            new.expires.push(n.expires_at);
        } else if !row.changed {
            continue;
        }
        // A new row is inserted, then given its state like a changed one.
        state.ids.push(id);
        state.proxies.push(row.proxy);
        state.accepted.push(row.accepted_at);
        state.revoked.push(row.revoked_at);
        state.updated.push(row.updated_seq);
    }
    if !new.ids.is_empty() {
        sqlx::query(
            "INSERT INTO proxy_grants (id, patient_id, email, scope, records, granted_at, \
                granted_seq, expires_at, updated_seq) \
             SELECT id, patient, email, scope, records::uuid[], at, seq, expires, seq \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], \
                $6::timestamptz[], $7::int8[], $8::timestamptz[]) \
                AS u(id, patient, email, scope, records, at, seq, expires)",
        )
        .bind(&new.ids)
        .bind(&new.patients)
        .bind(&new.emails)
        .bind(&new.scopes)
        .bind(&new.records)
        .bind(&new.ats)
        .bind(&new.seqs)
        .bind(&new.expires)
        .execute(&mut *tx)
        .await?;
    }
    if !state.ids.is_empty() {
        sqlx::query(
            "UPDATE proxy_grants g SET proxy_id = u.proxy, accepted_at = u.accepted_at, \
                revoked_at = u.revoked_at, updated_seq = u.updated_seq \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], \
                $5::int8[]) AS u(id, proxy, accepted_at, revoked_at, updated_seq) \
             WHERE g.id = u.id",
        )
        .bind(&state.ids)
        .bind(&state.proxies)
        .bind(&state.accepted)
        .bind(&state.revoked)
        .bind(&state.updated)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A grant as the view holds it; `email` is sealed under the patient's key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProxyView {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub email: String,
    pub scope: String,
    pub records: Option<Vec<Uuid>>,
    pub granted_at: Time,
    pub expires_at: Option<Time>,
    pub proxy_id: Option<Uuid>,
    pub revoked_at: Option<Time>,
}

impl ProxyView {
    pub fn patient(&self) -> UserId {
        UserId::from_uuid(self.patient_id)
    }

    /// Lets its proxy act at `now`.
    pub fn active(&self, now: Timestamp) -> bool {
        self.proxy_id.is_some()
            && self.revoked_at.is_none()
            && self
                .expires_at
                .is_none_or(|at| Timestamp::from_datetime(at) > now)
    }
}

const SELECT: &str = "SELECT id, patient_id, email, scope, records, granted_at, expires_at, \
    proxy_id, revoked_at FROM proxy_grants ";

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<ProxyView>, ReadError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// The grants a person gave (as the patient) or received (as the proxy), newest first.
pub async fn involving(pool: &PgPool, person: UserId) -> Result<Vec<ProxyView>, ReadError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE patient_id = $1 OR proxy_id = $1 ORDER BY granted_seq DESC LIMIT 500"
    )))
    .bind(person.as_uuid())
    .fetch_all(pool)
    .await?)
}
