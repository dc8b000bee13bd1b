//! The records view: each record with its sealed fields (opened only when the access
//! rules allow, with the record's data key), every share ever granted, and the access log:
//! one row per event about a record, keyed by its seq.

use crate::users::ReadError;
use commands::{
    keys::{DataKey, DataKeyRows, DataKeyState, KeyRing, WrappedKey},
    records::DueShare,
};
use domain::{
    Sealed, Timestamp,
    account::UserId,
    emergency::EmergencyId,
    record::{RecordFacts, RecordId, Share, ShareEnd, ShareId},
};
use sqlx::PgPool;
use uuid::Uuid;

mod projector;
pub mod referrals;

pub use projector::RecordsProjector;

/// A record as the view holds it. Medical fields stay sealed until `medical` opens them,
/// which callers do only when the access rules allow.
#[derive(Debug, Clone)]
pub struct RecordView {
    pub id: RecordId,
    pub owner: UserId,
    /// Who stored it: the doctor who added it, or else the owner.
    pub author: UserId,
    /// ERASED once erased, or once the data key or the owner's key is gone.
    pub erased: bool,
    pub content_type: String,
    pub size: i64,
    pub stored_size: i64,
    pub sha256: String,
    pub uploaded_at: Timestamp,
    /// Every share of the record, for the access rules.
    pub shares: Vec<Share>,
    sealed: SealedFields,
    key: Option<DataKey>,
}

#[derive(Debug, Clone)]
struct SealedFields {
    title: String,
    description: Option<String>,
    file_name: String,
}

/// What only the owner and doctors with a live share may see.
#[derive(Debug, Clone)]
pub struct Medical {
    pub title: String,
    pub description: Option<String>,
    pub file_name: String,
}

impl RecordView {
    /// The facts the access rules take; `emergency`: the viewer's emergency access to
    /// the owner open now (`emergency::open_for`).
    pub fn facts(&self, emergency: Option<EmergencyId>) -> RecordFacts<'_> {
        RecordFacts {
            owner: self.owner,
            erased: self.erased,
            shares: &self.shares,
            emergency,
            emergency_ended: false,
            proxy: None,
        }
    }

    /// The opened title, description and file name; `None` once erased.
    pub fn medical(&self) -> Result<Option<Medical>, ReadError> {
        let Some(key) = self.key.as_ref().filter(|_| !self.erased) else {
            return Ok(None);
        };
        let stream = self.id.stream();
        let open = |field: &str, text: &str| -> Result<String, ReadError> {
            let corrupt =
                |e: &dyn std::fmt::Display| ReadError::Corrupt(format!("record {}: {e}", self.id));
            let sealed = Sealed::parse(text).map_err(|e| corrupt(&e))?;
            key.open_string(stream.as_str(), field, &sealed)
                .map_err(|e| corrupt(&e))
        };
        Ok(Some(Medical {
            title: open("title", &self.sealed.title)?,
            description: self
                .sealed
                .description
                .as_deref()
                .map(|d| open("description", d))
                .transpose()?,
            file_name: open("fileName", &self.sealed.file_name)?,
        }))
    }
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: Uuid,
    owner_id: Uuid,
    author_id: Option<Uuid>,
    status: String,
    title: String,
    description: Option<String>,
    file_name: String,
    content_type: String,
    size: i64,
    stored_size: i64,
    sha256: String,
    uploaded_at: chrono::DateTime<chrono::Utc>,
    record_wrapped: Option<Vec<u8>>,
    record_epoch: Option<i32>,
    owner_wrapped: Option<Vec<u8>>,
    owner_epoch: Option<i32>,
}

const SELECT_RECORDS: &str = "SELECT r.id, r.owner_id, r.author_id, r.status, r.title, r.description, r.file_name, \
        r.content_type, r.size, r.stored_size, r.sha256, r.uploaded_at, \
        rk.wrapped AS record_wrapped, rk.epoch AS record_epoch, \
        sk.wrapped AS owner_wrapped, sk.epoch AS owner_epoch \
     FROM records r \
     LEFT JOIN record_keys rk ON rk.record_id = r.id \
     LEFT JOIN subject_keys sk ON sk.subject_id = r.owner_id ";

#[derive(sqlx::FromRow)]
struct ShareRow {
    id: Uuid,
    record_id: Uuid,
    doctor_id: Uuid,
    granted_at: chrono::DateTime<chrono::Utc>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    expired_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A share as the API shows it.
#[derive(Debug, Clone)]
pub struct ShareView {
    pub id: ShareId,
    pub record: RecordId,
    pub doctor: UserId,
    pub granted_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub expired_at: Option<Timestamp>,
}

impl ShareView {
    pub fn share(&self) -> Share {
        Share {
            id: self.id,
            doctor: self.doctor,
            expires_at: self.expires_at,
            ended: if self.revoked_at.is_some() {
                Some(ShareEnd::Revoked)
            } else if self.expired_at.is_some() {
                Some(ShareEnd::Expired)
            } else {
                None
            },
        }
    }
}

fn share_view(row: ShareRow) -> ShareView {
    let ts = Timestamp::from_datetime;
    ShareView {
        id: ShareId::from_uuid(row.id),
        record: RecordId::from_uuid(row.record_id),
        doctor: UserId::from_uuid(row.doctor_id),
        granted_at: ts(row.granted_at),
        expires_at: row.expires_at.map(ts),
        revoked_at: row.revoked_at.map(ts),
        expired_at: row.expired_at.map(ts),
    }
}

/// Builds views from rows, with each record's shares (one query for the page).
async fn views(
    pool: &PgPool,
    keys: &KeyRing,
    rows: Vec<RecordRow>,
) -> Result<Vec<RecordView>, ReadError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let shares: Vec<ShareRow> = sqlx::query_as(
        "SELECT id, record_id, doctor_id, granted_at, expires_at, revoked_at, expired_at \
         FROM shares WHERE record_id = ANY($1) ORDER BY granted_seq",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let shares: Vec<ShareView> = shares.into_iter().map(share_view).collect();
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push({
            let key = keys
                .data_key_from_rows(DataKeyRows {
                    record: row.id,
                    owner: row.owner_id,
                    record_key: WrappedKey::from_columns(row.record_wrapped, row.record_epoch),
                    owner_key: WrappedKey::from_columns(row.owner_wrapped, row.owner_epoch),
                })
                .await?;
            let key = match key {
                DataKeyState::Live(key) => Some(key),
                DataKeyState::Destroyed | DataKeyState::Missing => None,
            };
            RecordView {
                id: RecordId::from_uuid(row.id),
                owner: UserId::from_uuid(row.owner_id),
                author: UserId::from_uuid(row.author_id.unwrap_or(row.owner_id)),
                erased: row.status == "ERASED" || key.is_none(),
                content_type: row.content_type,
                size: row.size,
                stored_size: row.stored_size,
                sha256: row.sha256,
                uploaded_at: Timestamp::from_datetime(row.uploaded_at),
                shares: shares
                    .iter()
                    .filter(|s| s.record.as_uuid() == row.id)
                    .map(ShareView::share)
                    .collect(),
                sealed: SealedFields {
                    title: row.title,
                    description: row.description,
                    file_name: row.file_name,
                },
                key,
            }
        });
    }
    Ok(views)
}

pub async fn find(
    pool: &PgPool,
    keys: &KeyRing,
    id: RecordId,
) -> Result<Option<RecordView>, ReadError> {
    let id = id.as_uuid();
    let rows: Vec<RecordRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_RECORDS} WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(views(pool, keys, rows).await?.pop())
}

/// A page of the patient's records, newest first; `after`: the last row's
/// `(uploaded_at, id)`.
pub async fn of_owner(
    pool: &PgPool,
    keys: &KeyRing,
    owner: UserId,
    after: Option<(Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<RecordView>, ReadError> {
    let owner = owner.as_uuid();
    let rows: Vec<RecordRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_RECORDS} WHERE r.owner_id = $1 \
           AND ($2::timestamptz IS NULL OR (r.uploaded_at, r.id) < ($2, $3)) \
         ORDER BY r.uploaded_at DESC, r.id DESC LIMIT $4"
    )))
    .bind(owner)
    .bind(after.map(|(at, _)| at.to_datetime()))
    .bind(after.map(|(_, id)| id))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    views(pool, keys, rows).await
}

pub async fn count_of_owner(pool: &PgPool, owner: UserId) -> Result<i64, ReadError> {
    let owner = owner.as_uuid();
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM records WHERE owner_id = $1")
            .bind(owner)
            .fetch_one(pool)
            .await?,
    )
}

/// The condition for a share that lets its doctor read at `$now`.
const LIVE_SHARE: &str = "s.revoked_at IS NULL AND s.expired_at IS NULL \
     AND (s.expires_at IS NULL OR s.expires_at > $2) AND r.status = 'ACTIVE'";

/// A page of the records the doctor holds a live share of at `now`, most recently
/// shared first; `after`: the last row's `(granted_at, share id)`.
pub async fn shared_with(
    pool: &PgPool,
    keys: &KeyRing,
    doctor: UserId,
    now: Timestamp,
    after: Option<(Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<(ShareView, RecordView)>, ReadError> {
    let doctor = doctor.as_uuid();
    let shares: Vec<ShareRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id, s.record_id, s.doctor_id, s.granted_at, s.expires_at, s.revoked_at, s.expired_at \
         FROM shares s JOIN records r ON r.id = s.record_id \
         WHERE s.doctor_id = $1 AND {LIVE_SHARE} \
           AND ($3::timestamptz IS NULL OR (s.granted_at, s.id) < ($3, $4)) \
         ORDER BY s.granted_at DESC, s.id DESC LIMIT $5"
    )))
    .bind(doctor)
    .bind(now.to_datetime())
    .bind(after.map(|(at, _)| at.to_datetime()))
    .bind(after.map(|(_, id)| id))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = shares.iter().map(|s| s.record_id).collect();
    let rows: Vec<RecordRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_RECORDS} WHERE r.id = ANY($1)"
    )))
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let records = views(pool, keys, rows).await?;
    Ok(shares
        .into_iter()
        .filter_map(|s| {
            let record = records
                .iter()
                .find(|r| r.id.as_uuid() == s.record_id)?
                .clone();
            Some((share_view(s), record))
        })
        .collect())
}

pub async fn count_shared_with(
    pool: &PgPool,
    doctor: UserId,
    now: Timestamp,
) -> Result<i64, ReadError> {
    let doctor = doctor.as_uuid();
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM shares s JOIN records r ON r.id = s.record_id \
         WHERE s.doctor_id = $1 AND {LIVE_SHARE}"
    )))
    .bind(doctor)
    .bind(now.to_datetime())
    .fetch_one(pool)
    .await?)
}

/// Every share of the record, oldest first.
pub async fn shares_of(pool: &PgPool, record: RecordId) -> Result<Vec<ShareView>, ReadError> {
    let record = record.as_uuid();
    let rows: Vec<ShareRow> = sqlx::query_as(
        "SELECT id, record_id, doctor_id, granted_at, expires_at, revoked_at, expired_at \
         FROM shares WHERE record_id = $1 ORDER BY granted_seq",
    )
    .bind(record)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(share_view).collect())
}

/// Every share of the owner's records, newest first (their consents, for FHIR).
pub async fn shares_of_owner(pool: &PgPool, owner: UserId) -> Result<Vec<ShareView>, ReadError> {
    let rows: Vec<ShareRow> = sqlx::query_as(
        "SELECT s.id, s.record_id, s.doctor_id, s.granted_at, s.expires_at, s.revoked_at, s.expired_at \
         FROM shares s JOIN records r ON r.id = s.record_id \
         WHERE r.owner_id = $1 ORDER BY s.granted_seq DESC",
    )
    .bind(owner.as_uuid())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(share_view).collect())
}

/// A page of the access log of the owner's records, newest first, of the `actions` named
/// (the FHIR AuditEvent search).
pub async fn access_log_of_owner(
    pool: &PgPool,
    owner: UserId,
    actions: &[&str],
    offset: i64,
    limit: i64,
) -> Result<Vec<AccessRow>, ReadError> {
    let actions: Vec<String> = actions.iter().map(|a| (*a).to_owned()).collect();
    Ok(sqlx::query_as(
        "SELECT seq, record_id, owner_id, actor_id, action, at, detail FROM access_log \
         WHERE owner_id = $1 AND action = ANY($2) ORDER BY seq DESC, record_id OFFSET $3 LIMIT $4",
    )
    .bind(owner.as_uuid())
    .bind(&actions)
    .bind(offset)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

pub async fn find_share(pool: &PgPool, share: ShareId) -> Result<Option<ShareView>, ReadError> {
    let share = share.as_uuid();
    let row: Option<ShareRow> = sqlx::query_as(
        "SELECT id, record_id, doctor_id, granted_at, expires_at, revoked_at, expired_at \
         FROM shares WHERE id = $1",
    )
    .bind(share)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(share_view))
}

fn due_share((record, share): (Uuid, Uuid)) -> DueShare {
    DueShare {
        record: RecordId::from_uuid(record),
        share: ShareId::from_uuid(share),
    }
}

/// Shares whose time has passed and whose expiry is not recorded yet, oldest first.
pub async fn due_shares(
    pool: &PgPool,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<DueShare>, ReadError> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT record_id, id FROM shares \
         WHERE revoked_at IS NULL AND expired_at IS NULL AND expires_at <= $1 \
         ORDER BY expires_at LIMIT $2",
    )
    .bind(now.to_datetime())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(due_share).collect())
}

/// Live shares that end within a day of `now` and were not noticed yet.
pub async fn expiring_shares(
    pool: &PgPool,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<DueShare>, ReadError> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.record_id, s.id FROM shares s JOIN records r ON r.id = s.record_id \
         WHERE {LIVE_SHARE} AND s.noticed_at IS NULL \
           AND s.expires_at - interval '24 hours' <= $2 \
         ORDER BY s.expires_at LIMIT $1"
    )))
    .bind(limit)
    .bind(now.to_datetime())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(due_share).collect())
}

/// One line of an access log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessRow {
    pub seq: i64,
    pub record_id: Uuid,
    pub owner_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub detail: Option<String>,
}

/// A page of the record's access log, newest first; `before`: the last row's seq.
pub async fn access_log(
    pool: &PgPool,
    record: RecordId,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AccessRow>, ReadError> {
    let record = record.as_uuid();
    Ok(sqlx::query_as(
        "SELECT seq, record_id, owner_id, actor_id, action, at, detail FROM access_log \
         WHERE record_id = $1 AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3",
    )
    .bind(record)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// What `actor` did with `owner`'s records (a proxy's actions, for the patient), newest
/// first.
pub async fn actions_by(
    pool: &PgPool,
    owner: UserId,
    actor: Uuid,
    limit: i64,
) -> Result<Vec<AccessRow>, ReadError> {
    Ok(sqlx::query_as(
        "SELECT seq, record_id, owner_id, actor_id, action, at, detail FROM access_log \
         WHERE owner_id = $1 AND actor_id = $2 ORDER BY seq DESC LIMIT $3",
    )
    .bind(owner.as_uuid())
    .bind(actor)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Whether `a` and `b` share a record at `now`: one owns a record the other holds a live
/// share of (the fact the photo rule needs).
pub async fn share_a_record(
    pool: &PgPool,
    a: UserId,
    b: UserId,
    now: Timestamp,
) -> Result<bool, ReadError> {
    let a = a.as_uuid();
    let b = b.as_uuid();
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT EXISTS (SELECT 1 FROM shares s JOIN records r ON r.id = s.record_id \
         WHERE {LIVE_SHARE} AND ((r.owner_id = $1 AND s.doctor_id = $3) \
                              OR (r.owner_id = $3 AND s.doctor_id = $1)))"
    )))
    .bind(a)
    .bind(now.to_datetime())
    .bind(b)
    .fetch_one(pool)
    .await?)
}

/// The records view's part of the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// ACTIVE records.
    pub records: i64,
    /// Ciphertext bytes of the ACTIVE records' blobs (an erased record's blob is gone).
    pub stored_bytes: i64,
    /// Shares live at `now`, of ACTIVE records.
    pub active_shares: i64,
}

pub async fn stats(pool: &PgPool, now: Timestamp) -> Result<RecordStats, ReadError> {
    let (records, stored_bytes): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(stored_size), 0)::bigint FROM records WHERE status = 'ACTIVE'",
    )
    .fetch_one(pool)
    .await?;
    // LIVE_SHARE takes the moment as $2.
    let active_shares: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM shares s JOIN records r ON r.id = s.record_id \
         WHERE $1 AND {LIVE_SHARE}"
    )))
    .bind(true)
    .bind(now.to_datetime())
    .fetch_one(pool)
    .await?;
    Ok(RecordStats {
        records,
        stored_bytes,
        active_shares,
    })
}

/// The accounting of disclosures: reads of `owner`'s records (DOWNLOADED, VIEWED, and
/// EMERGENCY: a read under emergency access) by anyone else, recorded in `[from, to]`, oldest first; `after`: the last row's seq.
pub async fn disclosures(
    pool: &PgPool,
    owner: UserId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<AccessRow>, ReadError> {
    let owner = owner.as_uuid();
    Ok(sqlx::query_as(
        "SELECT seq, record_id, owner_id, actor_id, action, at, detail FROM access_log \
         WHERE owner_id = $1 AND action IN ('DOWNLOADED', 'VIEWED', 'EMERGENCY') \
           AND actor_id IS DISTINCT FROM owner_id \
           AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at <= $3) \
           AND ($4::bigint IS NULL OR seq > $4) \
         ORDER BY seq LIMIT $5",
    )
    .bind(owner)
    .bind(from.map(Timestamp::to_datetime))
    .bind(to.map(Timestamp::to_datetime))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
