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

use crate::{
    ProjectionError, Projector,
    projector::{read_as, stream_of},
    users::ReadError,
};
use commands::RecordedEvent;
use domain::{
    account::{AccountStatus, Role, UserEvent, UserId, UserRegistered},
    erasure::ErasureEvent,
    notification::{NotificationKind, Preference, Preferences},
    record::RecordEvent,
};
use futures::{FutureExt, future::BoxFuture};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub struct NotificationsProjector;

/// Namespace of the notification ids (UUID v5 of `seq:recipient:kind`).
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d65_6463_6861_696e_2d6e_6f74_6966_7931);

pub fn notification_id(seq: i64, user: Uuid, kind: NotificationKind) -> Uuid {
    Uuid::new_v5(
        &ID_NAMESPACE,
        format!("{seq}:{user}:{}", kind.as_str()).as_bytes(),
    )
}

impl Projector for NotificationsProjector {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "notifications",
            "notification_preferences",
            "notification_admins",
            "notification_records",
            "notification_shares",
        ]
    }

    fn event_types(&self) -> &'static [&'static str] {
        use domain::{
            EventName as _,
            account::user::{
                MfaReset, NotificationPreferencesSet, NotificationsRead, PasskeyRegistered,
                PasskeyRemoved, PasswordChanged, PasswordReset, ProfileChangeDecided,
                ProfileChangeRequested, RecoveryCodesRegenerated, SecondFactorFailed, TotpDisabled,
                TotpEnrolled, UserApproved, UserErased, UserRegistered, UserRejected,
                UserSuspended,
            },
            erasure::ErasureCompleted,
            record::{RecordAccessed, RecordShared, RecordUploaded, ShareExpiring, ShareRevoked},
        };
        &[
            UserRegistered::NAME,
            UserApproved::NAME,
            UserRejected::NAME,
            UserSuspended::NAME,
            UserErased::NAME,
            ProfileChangeRequested::NAME,
            ProfileChangeDecided::NAME,
            PasswordChanged::NAME,
            PasswordReset::NAME,
            TotpEnrolled::NAME,
            TotpDisabled::NAME,
            RecoveryCodesRegenerated::NAME,
            SecondFactorFailed::NAME,
            MfaReset::NAME,
            PasskeyRegistered::NAME,
            PasskeyRemoved::NAME,
            NotificationPreferencesSet::NAME,
            NotificationsRead::NAME,
            RecordUploaded::NAME,
            RecordShared::NAME,
            ShareRevoked::NAME,
            ShareExpiring::NAME,
            RecordAccessed::NAME,
            ErasureCompleted::NAME,
        ]
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        async move {
            let stream = stream_of(event)?;
            match stream.category() {
                "user" => user_event(tx, event, stream.id(), read_as(event)?).await,
                "record" => record_event(tx, event, stream.id(), read_as(event)?).await,
                "record_erasure" => {
                    erasure_completed(tx, event, stream.id(), read_as(event)?).await
                }
                _ => Ok(()),
            }
        }
        .boxed()
    }
}

/// What one notification says besides its kind.
#[derive(Default)]
struct About {
    record: Option<Uuid>,
    subject: Option<Uuid>,
    detail: Option<&'static str>,
}

async fn user_event(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    user: Uuid,
    parsed: UserEvent,
) -> Result<(), ProjectionError> {
    let someone = About {
        subject: Some(user),
        ..About::default()
    };
    match parsed {
        UserEvent::UserRegistered(UserRegistered { role, status, .. }) => {
            if role == Role::Admin && status == AccountStatus::Active {
                sqlx::query("INSERT INTO notification_admins (user_id) VALUES ($1)")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
            }
            if role == Role::Doctor && status == AccountStatus::Pending {
                to_admins(tx, event, NotificationKind::UserAwaitingApproval, someone).await?;
            }
        }
        UserEvent::UserApproved(_) => {
            notify(
                tx,
                event,
                user,
                NotificationKind::AccountApproved,
                About::default(),
            )
            .await?;
        }
        UserEvent::UserRejected(_) => {
            notify(
                tx,
                event,
                user,
                NotificationKind::AccountRejected,
                About::default(),
            )
            .await?;
        }
        UserEvent::UserSuspended(_) | UserEvent::UserErased(_) => {
            sqlx::query("DELETE FROM notification_admins WHERE user_id = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
        }
        UserEvent::ProfileChangeRequested(_) => {
            to_admins(tx, event, NotificationKind::ProfileChangeRequested, someone).await?;
        }
        UserEvent::ProfileChangeDecided(e) => {
            let about = About {
                detail: Some(if e.approved { "APPROVED" } else { "REJECTED" }),
                ..About::default()
            };
            notify(
                tx,
                event,
                user,
                NotificationKind::ProfileChangeDecided,
                about,
            )
            .await?;
        }
        UserEvent::PasswordChanged(_) | UserEvent::PasswordReset(_) => {
            notify(
                tx,
                event,
                user,
                NotificationKind::PasswordChanged,
                About::default(),
            )
            .await?;
        }
        UserEvent::TotpEnrolled(_) => security_changed(tx, event, user, "TOTP_ENABLED").await?,
        UserEvent::TotpDisabled(_) => security_changed(tx, event, user, "TOTP_DISABLED").await?,
        UserEvent::RecoveryCodesRegenerated(_) => {
            security_changed(tx, event, user, "RECOVERY_CODES_REGENERATED").await?
        }
        UserEvent::MfaReset(_) => security_changed(tx, event, user, "MFA_RESET").await?,
        UserEvent::PasskeyRegistered(_) => {
            security_changed(tx, event, user, "PASSKEY_ADDED").await?
        }
        UserEvent::PasskeyRemoved(_) => {
            security_changed(tx, event, user, "PASSKEY_REMOVED").await?
        }
        // A wrong code below the limit is counted, not yet worth a notice.
        UserEvent::SecondFactorFailed(e) if e.locked => {
            security_changed(tx, event, user, "CODES_LOCKED").await?
        }
        UserEvent::NotificationPreferencesSet(e) => {
            for p in &e.preferences {
                sqlx::query(
                    "INSERT INTO notification_preferences (user_id, kind, in_app, email) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, kind) \
                     DO UPDATE SET in_app = excluded.in_app, email = excluded.email",
                )
                .bind(user)
                .bind(p.kind.as_str())
                .bind(p.in_app)
                .bind(p.email)
                .execute(&mut *tx)
                .await?;
            }
        }
        UserEvent::NotificationsRead(e) => {
            sqlx::query(
                "UPDATE notifications SET read_seq = $2 \
                 WHERE user_id = $1 AND read_seq IS NULL AND seq < $2 \
                   AND (id = ANY($3) OR seq <= $4)",
            )
            .bind(user)
            .bind(event.seq)
            .bind(e.ids.unwrap_or_default())
            .bind(e.up_to_seq.unwrap_or(0))
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn record_event(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    record: Uuid,
    parsed: RecordEvent,
) -> Result<(), ProjectionError> {
    if let RecordEvent::RecordUploaded(e) = &parsed {
        sqlx::query("INSERT INTO notification_records (record_id, owner_id) VALUES ($1, $2)")
            .bind(record)
            .bind(e.owner.as_uuid())
            .execute(&mut *tx)
            .await?;
        return Ok(());
    }
    let owner: Uuid =
        sqlx::query_scalar("SELECT owner_id FROM notification_records WHERE record_id = $1")
            .bind(record)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| ProjectionError::malformed(event, "no such record in the view"))?;
    let about = |subject| About {
        record: Some(record),
        subject: Some(subject),
        detail: None,
    };
    match parsed {
        RecordEvent::RecordShared(e) => {
            sqlx::query(
                "INSERT INTO notification_shares (share_id, record_id, doctor_id) VALUES ($1, $2, $3)",
            )
            .bind(e.share.as_uuid())
            .bind(record)
            .bind(e.doctor.as_uuid())
            .execute(&mut *tx)
            .await?;
            let kind = NotificationKind::RecordShared;
            notify(tx, event, e.doctor.as_uuid(), kind, about(owner)).await?;
        }
        RecordEvent::ShareRevoked(e) => {
            let doctor = doctor_of(tx, event, e.share).await?;
            notify(
                tx,
                event,
                doctor,
                NotificationKind::ShareRevoked,
                about(owner),
            )
            .await?;
        }
        RecordEvent::ShareExpiring(e) => {
            let doctor = doctor_of(tx, event, e.share).await?;
            let kind = NotificationKind::ShareExpiring;
            notify(tx, event, doctor, kind, about(owner)).await?;
            notify(tx, event, owner, kind, about(doctor)).await?;
        }
        RecordEvent::RecordAccessed(_) => {
            if let Some(reader) = event.actor.filter(|a| *a != owner) {
                notify(
                    tx,
                    event,
                    owner,
                    NotificationKind::RecordAccessed,
                    about(reader),
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A record's erasure is complete: its owner is told (a person's own erasure tells no
/// one: there is no one left to tell).
async fn erasure_completed(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    record: Uuid,
    parsed: ErasureEvent,
) -> Result<(), ProjectionError> {
    let ErasureEvent::ErasureCompleted(e) = parsed;
    let about = About {
        record: Some(record),
        ..About::default()
    };
    let kind = NotificationKind::ErasureCompleted;
    notify(tx, event, e.owner.as_uuid(), kind, about).await
}

/// The doctor a share went to, as the view recorded it.
async fn doctor_of(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    share: domain::record::ShareId,
) -> Result<Uuid, ProjectionError> {
    sqlx::query_scalar("SELECT doctor_id FROM notification_shares WHERE share_id = $1")
        .bind(share.as_uuid())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ProjectionError::malformed(event, "no such share in the view"))
}

/// The recipient's preference for `kind` as it stands in the view: `(in_app, email)`.
/// Security notices always go in-app.
async fn wants(
    tx: &mut PgConnection,
    user: Uuid,
    kind: NotificationKind,
) -> Result<(bool, bool), sqlx::Error> {
    let set: Option<(bool, bool)> = sqlx::query_as(
        "SELECT in_app, email FROM notification_preferences WHERE user_id = $1 AND kind = $2",
    )
    .bind(user)
    .bind(kind.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let (in_app, email) = set.unwrap_or((kind.default_in_app(), kind.default_email()));
    Ok((
        in_app || kind.is_security_notice(),
        email || kind.is_never_muted(),
    ))
}

/// A SECURITY_CHANGED notice to the person; `detail` says what changed.
async fn security_changed(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    user: Uuid,
    detail: &'static str,
) -> Result<(), ProjectionError> {
    let about = About {
        detail: Some(detail),
        ..About::default()
    };
    notify(tx, event, user, NotificationKind::SecurityChanged, about).await
}

async fn notify(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    user: Uuid,
    kind: NotificationKind,
    about: About,
) -> Result<(), ProjectionError> {
    let (in_app, email) = wants(tx, user, kind).await?;
    let id = notification_id(event.seq, user, kind);
    if email {
        // Not the projector's table: kept across rebuilds, so nothing is mailed twice.
        sqlx::query(
            "INSERT INTO mail_outbox (notification_id, user_id, kind, seq) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (notification_id) DO NOTHING",
        )
        .bind(id)
        .bind(user)
        .bind(kind.as_str())
        .bind(event.seq)
        .execute(&mut *tx)
        .await?;
    }
    if !in_app {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO notifications (id, user_id, kind, seq, record_id, subject_id, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(user)
    .bind(kind.as_str())
    .bind(event.seq)
    .bind(about.record)
    .bind(about.subject)
    .bind(about.detail)
    .bind(event.at.to_datetime())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn to_admins(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    kind: NotificationKind,
    about: About,
) -> Result<(), ProjectionError> {
    let admins: Vec<Uuid> =
        sqlx::query_scalar("SELECT user_id FROM notification_admins ORDER BY user_id")
            .fetch_all(&mut *tx)
            .await?;
    for admin in admins {
        let about = About {
            record: about.record,
            subject: about.subject,
            detail: about.detail,
        };
        notify(tx, event, admin, kind, about).await?;
    }
    Ok(())
}

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
