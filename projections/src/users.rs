//! The users view: who exists, with which role and status, and their sealed profile;
//! and the profile changes they asked for.

use crate::{
    ProjectionError, Projector,
    projector::{read_as, stream_of},
};
use commands::{
    RecordedEvent,
    accounts::SessionRecord,
    keys::{KeyError, KeyRing, SubjectKeyState, WrappedKey},
};
use domain::{
    Sealed, Timestamp,
    account::{AccountStatus, Role, UserEvent, UserId, UserRegistered},
};
use futures::{FutureExt, future::BoxFuture};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub struct UsersProjector;

impl Projector for UsersProjector {
    fn name(&self) -> &'static str {
        "users"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["users", "profile_changes"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        use domain::{
            EventName as _,
            account::user::{
                MfaReset, PasskeyRegistered, PasskeyRemoved, ProfileChangeDecided,
                ProfileChangeRequested, ProfilePhotoChanged, TotpDisabled, TotpEnrolled,
                UserApproved, UserErased, UserRejected, UserSuspended,
            },
        };
        &[
            UserRegistered::NAME,
            UserApproved::NAME,
            UserRejected::NAME,
            UserSuspended::NAME,
            ProfileChangeRequested::NAME,
            ProfileChangeDecided::NAME,
            UserErased::NAME,
            ProfilePhotoChanged::NAME,
            TotpEnrolled::NAME,
            TotpDisabled::NAME,
            MfaReset::NAME,
            PasskeyRegistered::NAME,
            PasskeyRemoved::NAME,
        ]
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        async move {
            let id = stream_of(event)?.id();
            let parsed: UserEvent = read_as(event)?;
            let status = match &parsed {
                UserEvent::UserApproved(_) => Some(AccountStatus::Active),
                UserEvent::UserRejected(_) => Some(AccountStatus::Rejected),
                UserEvent::UserSuspended(_) => Some(AccountStatus::Suspended),
                UserEvent::UserErased(_) => Some(AccountStatus::Erased),
                _ => None,
            };
            if let Some(status) = status {
                let updated = sqlx::query("UPDATE users SET status = $2, updated_seq = $3 WHERE id = $1")
                    .bind(id)
                    .bind(status.as_str())
                    .bind(event.seq)
                    .execute(&mut *tx)
                    .await?;
                if updated.rows_affected() != 1 {
                    return Err(ProjectionError::malformed(event, "no such user in the view"));
                }
            }
            // `second_factor` is TOTP; `passkeys` counts passkeys.
            let factors = match &parsed {
                UserEvent::TotpEnrolled(_) => Some("second_factor = true"),
                UserEvent::TotpDisabled(_) => Some("second_factor = false"),
                UserEvent::PasskeyRegistered(_) => Some("passkeys = passkeys + 1"),
                UserEvent::PasskeyRemoved(_) => Some("passkeys = greatest(passkeys - 1, 0)"),
                UserEvent::MfaReset(_) => Some("second_factor = false, passkeys = 0"),
                _ => None,
            };
            if let Some(change) = factors {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET {change}, updated_seq = $2 WHERE id = $1"
                )))
                .bind(id)
                .bind(event.seq)
                .execute(&mut *tx)
                .await?;
            }
            match &parsed {
                UserEvent::ProfilePhotoChanged(e) => {
                    sqlx::query("UPDATE users SET photo_sha256 = $2, updated_seq = $3 WHERE id = $1")
                        .bind(id)
                        .bind(&e.sha256)
                        .bind(event.seq)
                        .execute(&mut *tx)
                        .await?;
                }
                UserEvent::ProfileChangeRequested(e) => {
                    sqlx::query(
                        "INSERT INTO profile_changes (id, user_id, name, phone, status, requested_at, updated_seq) \
                         VALUES ($1, $2, $3, $4, 'PENDING', $5, $6)",
                    )
                    .bind(e.change)
                    .bind(id)
                    .bind(e.name.as_ref().map(Sealed::as_str))
                    .bind(e.phone.as_ref().map(Sealed::as_str))
                    .bind(event.at.to_datetime())
                    .bind(event.seq)
                    .execute(&mut *tx)
                    .await?;
                }
                UserEvent::ProfileChangeDecided(e) => {
                    let status = if e.approved { "APPROVED" } else { "REJECTED" };
                    let change: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                        "UPDATE profile_changes SET status = $2, decided_at = $3, reason = $4, updated_seq = $5 \
                         WHERE id = $1 AND user_id = $6 AND status = 'PENDING' RETURNING name, phone",
                    )
                    .bind(e.change)
                    .bind(status)
                    .bind(event.at.to_datetime())
                    .bind(e.reason.as_ref().map(|r| r.as_str()))
                    .bind(event.seq)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((name, phone)) = change else {
                        return Err(ProjectionError::malformed(event, "no such pending change"));
                    };
                    if e.approved {
                        sqlx::query(
                            "UPDATE users SET name = coalesce($2, name), phone = coalesce($3, phone), \
                             updated_seq = $4 WHERE id = $1",
                        )
                        .bind(id)
                        .bind(name)
                        .bind(phone)
                        .bind(event.seq)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                _ => {}
            }
            if let UserEvent::UserRegistered(UserRegistered {
                role,
                status,
                name,
                email,
                phone,
                ..
            }) = parsed
            {
                sqlx::query(
                    "INSERT INTO users (id, role, status, name, email, phone, created_at, updated_seq) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(role.as_str())
                .bind(status.as_str())
                .bind(name.as_str())
                .bind(email.as_str())
                .bind(phone.as_ref().map(|p| p.as_str()))
                .bind(event.at.to_datetime())
                .bind(event.seq)
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        }
        .boxed()
    }
}

/// A user as the API shows them, personal fields opened; `None` where erased.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: Uuid,
    pub role: Role,
    pub status: AccountStatus,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: Timestamp,
    /// Whether a photo was set (and the person is not erased).
    pub has_photo: bool,
    /// Whether the person has a second factor (TOTP): what the MFA policy asks.
    pub has_second_factor: bool,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    role: String,
    status: String,
    name: String,
    email: String,
    phone: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    photo_sha256: Option<String>,
    second_factor: bool,
    /// The `subject_keys` row, joined: NULL when there is none.
    wrapped: Option<Vec<u8>>,
    key_epoch: Option<i32>,
}

/// Why a view could not be read: never the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("a stored value does not read: {0}")]
    Corrupt(String),
    /// A failed query that answered several callers at once.
    #[error(transparent)]
    Shared(#[from] std::sync::Arc<sqlx::Error>),
    #[error("the session lookups have stopped")]
    Stopped,
}

/// A `sessions` row joined with its user's row and subject key, as one query reads it
/// for each of a batch of token hashes (`crate::sessions`).
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct SessionJoined {
    pub(crate) token_hash: Vec<u8>,
    #[sqlx(flatten)]
    session: SessionRecord,
    u_id: Option<Uuid>,
    u_role: Option<String>,
    status: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    photo_sha256: Option<String>,
    second_factor: Option<bool>,
    wrapped: Option<Vec<u8>>,
    key_epoch: Option<i32>,
}

/// The sessions of a batch of token hashes, each joined with its user's row: one round
/// trip for all of them. Hashes without a session have no row.
pub(crate) async fn by_sessions(
    pool: &PgPool,
    token_hashes: &[Vec<u8>],
) -> Result<Vec<SessionJoined>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.token_hash, s.id, s.user_id, s.role, s.last_seen_at, s.expires_at, s.revoked_at, \
                u.id AS u_id, u.role AS u_role, u.status, u.name, u.email, u.phone, u.created_at, u.photo_sha256, u.second_factor OR u.passkeys > 0 AS second_factor, \
                k.wrapped, k.epoch AS key_epoch \
         FROM sessions s \
         LEFT JOIN users u ON u.id = s.user_id \
         LEFT JOIN subject_keys k ON k.subject_id = s.user_id \
         WHERE s.token_hash = ANY($1)",
    )
    .bind(token_hashes)
    .fetch_all(pool)
    .await
}

/// A joined session row as the session and its user's view, sealed fields opened.
pub(crate) async fn open_session(
    keys: &KeyRing,
    row: SessionJoined,
) -> Result<(SessionRecord, Option<UserView>), ReadError> {
    let user = match (
        row.u_id,
        row.u_role,
        row.status,
        row.name,
        row.email,
        row.created_at,
    ) {
        (Some(id), Some(role), Some(status), Some(name), Some(email), Some(created_at)) => {
            Some(UserRow {
                id,
                role,
                status,
                name,
                email,
                phone: row.phone,
                created_at,
                photo_sha256: row.photo_sha256,
                second_factor: row.second_factor.unwrap_or(false),
                wrapped: row.wrapped,
                key_epoch: row.key_epoch,
            })
        }
        _ => None,
    };
    let view = match user {
        Some(u) => Some(open(keys, u).await?),
        None => None,
    };
    Ok((row.session, view))
}

/// The user `id` from the users view, with their sealed fields opened (absent once their
/// subject key is destroyed).
pub async fn find(
    pool: &PgPool,
    keys: &KeyRing,
    id: UserId,
) -> Result<Option<UserView>, ReadError> {
    let id = id.as_uuid();
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT u.id, u.role, u.status, u.name, u.email, u.phone, u.created_at, u.photo_sha256, u.second_factor OR u.passkeys > 0 AS second_factor, \
                k.wrapped, k.epoch AS key_epoch \
         FROM users u LEFT JOIN subject_keys k ON k.subject_id = u.id WHERE u.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    open(keys, row).await.map(Some)
}

/// Many users in one query (a request's `owner`s, `doctor`s and `actor`s, batched by
/// the API's loader); those not in the view are absent from the map.
pub async fn find_many(
    pool: &PgPool,
    keys: &KeyRing,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, UserView>, ReadError> {
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT u.id, u.role, u.status, u.name, u.email, u.phone, u.created_at, u.photo_sha256, u.second_factor OR u.passkeys > 0 AS second_factor, \
                k.wrapped, k.epoch AS key_epoch \
         FROM users u LEFT JOIN subject_keys k ON k.subject_id = u.id WHERE u.id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut views = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let view = open(keys, row).await?;
        views.insert(view.id, view);
    }
    Ok(views)
}

async fn open(keys: &KeyRing, row: UserRow) -> Result<UserView, ReadError> {
    let corrupt = |e: &dyn std::fmt::Display| ReadError::Corrupt(format!("user {}: {e}", row.id));
    let role = Role::parse(&row.role).map_err(|e| corrupt(&e))?;
    let status = AccountStatus::parse(&row.status).map_err(|e| corrupt(&e))?;
    let stream = UserId::from_uuid(row.id).stream();
    let key_row = WrappedKey::from_columns(row.wrapped.clone(), row.key_epoch);
    let (name, email, phone, live) = match keys.subject_key_from_row(row.id, key_row).await? {
        SubjectKeyState::Live(key) => {
            let field = |field: &str, text: &str| -> Result<String, ReadError> {
                let sealed = Sealed::parse(text).map_err(|e| corrupt(&e))?;
                key.open_string(stream.as_str(), field, &sealed)
                    .map_err(|e| corrupt(&e))
            };
            (
                Some(field("name", &row.name)?),
                Some(field("email", &row.email)?),
                row.phone
                    .as_deref()
                    .map(|p| field("phone", p))
                    .transpose()?,
                true,
            )
        }
        SubjectKeyState::Destroyed | SubjectKeyState::Missing => (None, None, None, false),
    };
    Ok(UserView {
        id: row.id,
        role,
        status,
        name,
        email,
        phone,
        created_at: Timestamp::from_datetime(row.created_at),
        has_photo: live && row.photo_sha256.is_some(),
        has_second_factor: row.second_factor,
    })
}

/// A page of the users view, oldest first, for administrators; `after` is the
/// `(created_at, id)` of the last row of the previous page.
pub async fn list(
    pool: &PgPool,
    keys: &KeyRing,
    role: Option<Role>,
    status: Option<AccountStatus>,
    after: Option<(Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<UserView>, ReadError> {
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT u.id, u.role, u.status, u.name, u.email, u.phone, u.created_at, u.photo_sha256, u.second_factor OR u.passkeys > 0 AS second_factor, \
                k.wrapped, k.epoch AS key_epoch \
         FROM users u LEFT JOIN subject_keys k ON k.subject_id = u.id \
         WHERE ($1::text IS NULL OR u.role = $1) AND ($2::text IS NULL OR u.status = $2) \
           AND ($3::timestamptz IS NULL OR (u.created_at, u.id) > ($3, $4)) \
         ORDER BY u.created_at, u.id LIMIT $5",
    )
    .bind(role.map(Role::as_str))
    .bind(status.map(AccountStatus::as_str))
    .bind(after.map(|(at, _)| at.to_datetime()))
    .bind(after.map(|(_, id)| id))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push(open(keys, row).await?);
    }
    Ok(views)
}

/// How many users match, for `totalCount`.
pub async fn count(
    pool: &PgPool,
    role: Option<Role>,
    status: Option<AccountStatus>,
) -> Result<i64, ReadError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM users \
         WHERE ($1::text IS NULL OR role = $1) AND ($2::text IS NULL OR status = $2)",
    )
    .bind(role.map(Role::as_str))
    .bind(status.map(AccountStatus::as_str))
    .fetch_one(pool)
    .await?)
}

/// A profile change as its user and administrators see it, requested fields opened.
#[derive(Debug, Clone)]
pub struct ChangeView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// PENDING, APPROVED or REJECTED.
    pub status: String,
    pub requested_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: Uuid,
    user_id: Uuid,
    name: Option<String>,
    phone: Option<String>,
    status: String,
    requested_at: chrono::DateTime<chrono::Utc>,
    decided_at: Option<chrono::DateTime<chrono::Utc>>,
    reason: Option<String>,
    wrapped: Option<Vec<u8>>,
    key_epoch: Option<i32>,
}

const CHANGE_COLUMNS: &str = "c.id, c.user_id, c.name, c.phone, c.status, c.requested_at, \
     c.decided_at, c.reason, k.wrapped, k.epoch AS key_epoch \
     FROM profile_changes c LEFT JOIN subject_keys k ON k.subject_id = c.user_id";

async fn open_change(keys: &KeyRing, row: ChangeRow) -> Result<ChangeView, ReadError> {
    let corrupt = |e: &dyn std::fmt::Display| ReadError::Corrupt(format!("change {}: {e}", row.id));
    let stream = UserId::from_uuid(row.user_id).stream();
    let key_row = WrappedKey::from_columns(row.wrapped.clone(), row.key_epoch);
    let (name, phone, reason) = match keys.subject_key_from_row(row.user_id, key_row).await? {
        SubjectKeyState::Live(key) => {
            let field = |field: &str, text: &str| -> Result<String, ReadError> {
                let sealed = Sealed::parse(text).map_err(|e| corrupt(&e))?;
                key.open_string(stream.as_str(), field, &sealed)
                    .map_err(|e| corrupt(&e))
            };
            (
                row.name.as_deref().map(|n| field("name", n)).transpose()?,
                row.phone
                    .as_deref()
                    .map(|p| field("phone", p))
                    .transpose()?,
                row.reason
                    .as_deref()
                    .map(|r| field("profileChangeReason", r))
                    .transpose()?,
            )
        }
        SubjectKeyState::Destroyed | SubjectKeyState::Missing => (None, None, None),
    };
    Ok(ChangeView {
        id: row.id,
        user_id: row.user_id,
        name,
        phone,
        status: row.status,
        requested_at: Timestamp::from_datetime(row.requested_at),
        decided_at: row.decided_at.map(Timestamp::from_datetime),
        reason,
    })
}

pub async fn find_change(
    pool: &PgPool,
    keys: &KeyRing,
    change: Uuid,
) -> Result<Option<ChangeView>, ReadError> {
    let row: Option<ChangeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CHANGE_COLUMNS} WHERE c.id = $1"
    )))
    .bind(change)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => open_change(keys, r).await.map(Some),
        None => Ok(None),
    }
}

/// The user's change waiting for an administrator, if any.
pub async fn pending_change_of(
    pool: &PgPool,
    keys: &KeyRing,
    user: UserId,
) -> Result<Option<ChangeView>, ReadError> {
    let user = user.as_uuid();
    let row: Option<ChangeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CHANGE_COLUMNS} WHERE c.user_id = $1 AND c.status = 'PENDING'"
    )))
    .bind(user)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => open_change(keys, r).await.map(Some),
        None => Ok(None),
    }
}

/// Pending changes, oldest first; `after` is the `(requested_at, id)` of the last one of
/// the previous page.
pub async fn pending_changes(
    pool: &PgPool,
    keys: &KeyRing,
    after: Option<(Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<ChangeView>, ReadError> {
    let rows: Vec<ChangeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CHANGE_COLUMNS} WHERE c.status = 'PENDING' \
         AND ($1::timestamptz IS NULL OR (c.requested_at, c.id) > ($1, $2)) \
         ORDER BY c.requested_at, c.id LIMIT $3"
    )))
    .bind(after.map(|(at, _)| at.to_datetime()))
    .bind(after.map(|(_, id)| id))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push(open_change(keys, row).await?);
    }
    Ok(views)
}

/// Active doctors whose name contains `search` (case- and accent-insensitive), oldest
/// first, at most `limit`, after the `(created_at, id)` cursor. Names are sealed, so the
/// match runs here on opened names, a page of the view at a time.
pub async fn doctors(
    pool: &PgPool,
    keys: &KeyRing,
    search: Option<&str>,
    mut after: Option<(Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<UserView>, ReadError> {
    const SCAN: i64 = 500;
    let folded = search.map(domain::account::name_search::fold);
    let mut found = Vec::new();
    loop {
        let page = list(
            pool,
            keys,
            Some(Role::Doctor),
            Some(AccountStatus::Active),
            after,
            SCAN,
        )
        .await?;
        let full = page.len() as i64 == SCAN;
        for view in page {
            after = Some((view.created_at, view.id));
            let hit = match (&folded, &view.name) {
                (None, _) => true,
                (Some(s), Some(name)) => domain::account::name_search::matches(name, s),
                (Some(_), None) => false,
            };
            if hit {
                found.push(view);
                if found.len() as i64 == limit {
                    return Ok(found);
                }
            }
        }
        if !full {
            return Ok(found);
        }
    }
}

/// Accounts for the dashboard: ACTIVE ones by role, and PENDING ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserCounts {
    pub patients: i64,
    pub doctors: i64,
    pub admins: i64,
    pub pending: i64,
}

pub async fn counts(pool: &PgPool) -> Result<UserCounts, ReadError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT role, status, count(*) FROM users \
         WHERE status IN ('ACTIVE', 'PENDING') GROUP BY role, status",
    )
    .fetch_all(pool)
    .await?;
    let mut counts = UserCounts::default();
    for (role, status, n) in rows {
        match (role.as_str(), status.as_str()) {
            (_, "PENDING") => counts.pending += n,
            ("PATIENT", _) => counts.patients += n,
            ("DOCTOR", _) => counts.doctors += n,
            ("ADMIN", _) => counts.admins += n,
            _ => {}
        }
    }
    Ok(counts)
}
