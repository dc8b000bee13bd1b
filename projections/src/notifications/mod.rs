//! The notifications view: which ledger event notifies whom (API.graphql
//! `NotificationKind`), filtered by each recipient's in-app preference as it stood at that
//! event (security notices always pass), and the read marks. Only ids, kinds and seqs are
//! stored: messages are composed when read, from what the reader may see then.
//!
//! Where the recipient wants mail, it also writes a row of `mail_outbox` (not its own
//! table: a rebuild must not mail anyone twice) in the same transaction.
//!
//! To address notifications it keeps, from the ledger too, who the active administrators
//! are, whose each record is, and which doctor each share went to.

use crate::users::ReadError;
use domain::{
    account::UserId,
    notification::{NotificationKind, Preference, Preferences},
};
use sqlx::PgPool;
use uuid::Uuid;

mod projector;

pub use projector::{NotificationsProjector, notification_id};

/// One notification as the view holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub seq: i64,
    pub record_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    pub detail: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub read_seq: Option<i64>,
}

/// A page of the user's notifications, newest first; `before`: the last row's seq.
pub async fn page(
    pool: &PgPool,
    user: UserId,
    unread_only: bool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<NotificationRow>, ReadError> {
    let user = user.as_uuid();
    Ok(sqlx::query_as(
        "SELECT id, user_id, kind, seq, record_id, subject_id, detail, created_at, read_seq \
         FROM notifications WHERE user_id = $1 AND (NOT $2 OR read_seq IS NULL) \
           AND ($3::bigint IS NULL OR seq < $3) \
         ORDER BY seq DESC, id LIMIT $4",
    )
    .bind(user)
    .bind(unread_only)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The user's notifications after `seq`, oldest first: what a subscription sends next.
pub async fn after(
    pool: &PgPool,
    user: UserId,
    seq: i64,
    limit: i64,
) -> Result<Vec<NotificationRow>, ReadError> {
    let user = user.as_uuid();
    Ok(sqlx::query_as(
        "SELECT id, user_id, kind, seq, record_id, subject_id, detail, created_at, read_seq \
         FROM notifications WHERE user_id = $1 AND seq > $2 ORDER BY seq, id LIMIT $3",
    )
    .bind(user)
    .bind(seq)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

pub async fn unread_count(pool: &PgPool, user: UserId) -> Result<i64, ReadError> {
    let user = user.as_uuid();
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_seq IS NULL",
    )
    .bind(user)
    .fetch_one(pool)
    .await?)
}

/// The seq of the user's newest notification (0 when none), for "mark all read".
pub async fn newest_seq(pool: &PgPool, user: UserId) -> Result<i64, ReadError> {
    let user = user.as_uuid();
    Ok(sqlx::query_scalar::<_, Option<i64>>(
        "SELECT max(seq) FROM notifications WHERE user_id = $1",
    )
    .bind(user)
    .fetch_one(pool)
    .await?
    .unwrap_or(0))
}

/// How many of the user's notifications the read mark of `seq` marked.
pub async fn marked_by(pool: &PgPool, user: UserId, seq: i64) -> Result<i64, ReadError> {
    let user = user.as_uuid();
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_seq = $2",
    )
    .bind(user)
    .bind(seq)
    .fetch_one(pool)
    .await?)
}

/// The user's preferences: the defaults, with what they set over them.
pub async fn preferences(pool: &PgPool, user: UserId) -> Result<Preferences, ReadError> {
    let user = user.as_uuid();
    let rows: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT kind, in_app, email FROM notification_preferences WHERE user_id = $1",
    )
    .bind(user)
    .fetch_all(pool)
    .await?;
    let mut prefs = Preferences::default();
    let set = rows
        .into_iter()
        .map(|(kind, in_app, email)| {
            NotificationKind::parse(&kind)
                .map(|kind| Preference {
                    kind,
                    in_app,
                    email,
                })
                .map_err(|e| ReadError::Corrupt(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    prefs.apply(&set);
    Ok(prefs)
}
