//! The share links view: each link, the records it names, how often it was opened and
//! refused, and whether it is locked, revoked or past its time, for the patient's list.
//! The passcode's hash and the addresses stay sealed on the ledger.
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
use domain::{Timestamp, account::UserId, link::ShareLinkEvent};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use uuid::Uuid;

pub struct LinksProjector;

impl Projector for LinksProjector {
    fn name(&self) -> &'static str {
        "links"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["share_links"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        ShareLinkEvent::TYPES
    }

    crate::set_based!(apply);
}

type Time = DateTime<Utc>;

/// A link made in this batch: (owner, records, created_at, seq, expires_at, max_opens).
type NewLink = (Uuid, Vec<Uuid>, Time, i64, Time, Option<i32>);

struct Row {
    new: Option<NewLink>,
    opens: i32,
    wrong: i32,
    locked_at: Option<Time>,
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
            Ok((stream_of(event)?.id(), read_as::<ShareLinkEvent>(event)?))
        };
        parsed.push(read().map_err(|e| (index, e))?);
    }
    let mut ids: Vec<Uuid> = parsed.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rows = load(tx, &ids).await.map_err(|e| (0, e.into()))?;
    for (index, (event, (id, parsed))) in events.iter().zip(parsed).enumerate() {
        fold(&mut rows, event, id, parsed).map_err(|e| (index, e))?;
    }
    write(tx, rows).await.map_err(|e| (0, e.into()))
}

async fn load(tx: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, Row>, sqlx::Error> {
    type Loaded = (Uuid, i32, i32, Option<Time>, Option<Time>, i64);
    let rows: Vec<Loaded> = sqlx::query_as(
        "SELECT id, opens, wrong, locked_at, revoked_at, updated_seq FROM share_links \
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, opens, wrong, locked_at, revoked_at, updated_seq)| {
            let row = Row {
                new: None,
                opens,
                wrong,
                locked_at,
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
    id: Uuid,
    parsed: ShareLinkEvent,
) -> Result<(), ProjectionError> {
    let at = event.at.to_datetime();
    if let ShareLinkEvent::ShareLinkCreated(e) = &parsed {
        if rows.contains_key(&id) {
            return Err(ProjectionError::malformed(
                event,
                "the link is in the view already",
            ));
        }
        let max_opens = e.max_opens.map(|m| i32::try_from(m).unwrap_or(i32::MAX));
        let records = e.records.iter().map(|r| r.as_uuid()).collect();
        rows.insert(
            id,
            Row {
                new: Some((
                    e.owner.as_uuid(),
                    records,
                    at,
                    event.seq,
                    e.expires_at.to_datetime(),
                    max_opens,
                )),
                opens: 0,
                wrong: 0,
                locked_at: None,
                revoked_at: None,
                updated_seq: event.seq,
                changed: false,
            },
        );
        return Ok(());
    }
    let row = rows
        .get_mut(&id)
        .ok_or_else(|| ProjectionError::malformed(event, "no such link in the view"))?;
    row.changed = true;
    row.updated_seq = event.seq;
    match parsed {
        ShareLinkEvent::ShareLinkCreated(_) => unreachable!("handled above"),
        ShareLinkEvent::ShareLinkOpened(_) => row.opens += 1,
        ShareLinkEvent::ShareLinkPasscodeRefused(e) => {
            row.wrong += 1;
            if e.locked {
                row.locked_at.get_or_insert(at);
            }
        }
        ShareLinkEvent::ShareLinkRevoked(_) => {
            row.revoked_at.get_or_insert(at);
        }
    }
    Ok(())
}

async fn write(tx: &mut PgConnection, rows: HashMap<Uuid, Row>) -> Result<(), sqlx::Error> {
    #[derive(Default)]
    struct New {
        ids: Vec<Uuid>,
        owners: Vec<Uuid>,
        // Arrays of arrays do not bind; each link's records go as text, cast back.
        records: Vec<String>,
        created: Vec<Time>,
        seqs: Vec<i64>,
        expires: Vec<Time>,
        max_opens: Vec<Option<i32>>,
    }
    #[derive(Default)]
    struct State {
        ids: Vec<Uuid>,
        opens: Vec<i32>,
        wrong: Vec<i32>,
        locked: Vec<Option<Time>>,
        revoked: Vec<Option<Time>>,
        updated: Vec<i64>,
    }
    let (mut new, mut state) = (New::default(), State::default());
    for (id, row) in rows {
        if let Some((owner, records, created, seq, expires, max_opens)) = row.new {
            new.ids.push(id);
            new.owners.push(owner);
            let list: Vec<String> = records.iter().map(Uuid::to_string).collect();
            new.records.push(format!("{{{}}}", list.join(",")));
            new.created.push(created);
            new.seqs.push(seq);
            new.expires.push(expires);
            new.max_opens.push(max_opens);
        } else if !row.changed {
            continue;
        }
        // A new row is inserted, then given its state like a changed one.
        state.ids.push(id);
        state.opens.push(row.opens);
        state.wrong.push(row.wrong);
        state.locked.push(row.locked_at);
        state.revoked.push(row.revoked_at);
        state.updated.push(row.updated_seq);
    }
    if !new.ids.is_empty() {
        sqlx::query(
            "INSERT INTO share_links (id, owner_id, records, created_at, created_seq, expires_at, \
                max_opens, opens, wrong, updated_seq) \
             SELECT id, owner, records::uuid[], created, seq, expires, max_opens, 0, 0, seq \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::int8[], \
                $6::timestamptz[], $7::int4[]) \
                AS u(id, owner, records, created, seq, expires, max_opens)",
        )
        .bind(&new.ids)
        .bind(&new.owners)
        .bind(&new.records)
        .bind(&new.created)
        .bind(&new.seqs)
        .bind(&new.expires)
        .bind(&new.max_opens)
        .execute(&mut *tx)
        .await?;
    }
    if !state.ids.is_empty() {
        sqlx::query(
            "UPDATE share_links l SET opens = u.opens, wrong = u.wrong, locked_at = u.locked_at, \
                revoked_at = u.revoked_at, updated_seq = u.updated_seq \
             FROM UNNEST($1::uuid[], $2::int4[], $3::int4[], $4::timestamptz[], \
                $5::timestamptz[], $6::int8[]) \
                AS u(id, opens, wrong, locked_at, revoked_at, updated_seq) \
             WHERE l.id = u.id",
        )
        .bind(&state.ids)
        .bind(&state.opens)
        .bind(&state.wrong)
        .bind(&state.locked)
        .bind(&state.revoked)
        .bind(&state.updated)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A link as the view holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkView {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub records: Vec<Uuid>,
    pub created_at: Time,
    pub expires_at: Time,
    pub max_opens: Option<i32>,
    pub opens: i32,
    pub locked_at: Option<Time>,
    pub revoked_at: Option<Time>,
}

impl LinkView {
    pub fn owner(&self) -> UserId {
        UserId::from_uuid(self.owner_id)
    }

    /// Opens at `now`: not revoked, locked, past its time or used up.
    pub fn active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && self.locked_at.is_none()
            && Timestamp::from_datetime(self.expires_at) > now
            && self.max_opens.is_none_or(|m| self.opens < m)
    }
}

const SELECT: &str = "SELECT id, owner_id, records, created_at, expires_at, max_opens, opens, \
    locked_at, revoked_at FROM share_links ";

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<LinkView>, ReadError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// The patient's links, newest first.
pub async fn of_owner(pool: &PgPool, owner: UserId) -> Result<Vec<LinkView>, ReadError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE owner_id = $1 ORDER BY created_seq DESC LIMIT 500"
    )))
    .bind(owner.as_uuid())
    .fetch_all(pool)
    .await?)
}
