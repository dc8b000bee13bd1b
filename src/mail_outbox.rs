//! The worker that mails notifications (`mail_outbox`, written by the notifications
//! projector by each recipient's e-mail preference). Every server process runs one.
//!
//! A row is claimed by one statement (PENDING → SENDING, `FOR UPDATE SKIP LOCKED`), so one
//! process sends it; then it is SENT, or PENDING again with a later attempt (backoff
//! doubling from 1 s, at most 10 attempts, then FAILED) when the server refused it. A
//! crash while SENDING leaves it there: mailed at most once. Mails say what happened and
//! link to the app; they hold no medical content (no titles, no names of records).

use commands::{keys::KeyRing, mail::Mailer};
use domain::notification::NotificationKind;
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

const POLL: Duration = Duration::from_millis(500);
const MAX_ATTEMPTS: i32 = 10;

pub fn spawn(pool: PgPool, keys: KeyRing, mailer: Mailer, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            match send_one(&pool, &keys, &mailer).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the mail outbox could not be read; trying again later")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
        }
    });
}

#[derive(sqlx::FromRow)]
struct Claimed {
    notification_id: Uuid,
    user_id: Uuid,
    kind: String,
    attempts: i32,
}

/// Sends the next due mail, if any; `true` when there was one.
async fn send_one(pool: &PgPool, keys: &KeyRing, mailer: &Mailer) -> Result<bool, sqlx::Error> {
    let claimed: Option<Claimed> = sqlx::query_as(
        "UPDATE mail_outbox SET status = 'SENDING', attempts = attempts + 1 \
         WHERE notification_id = ( \
             SELECT notification_id FROM mail_outbox \
             WHERE status = 'PENDING' AND next_attempt_at <= now() \
             ORDER BY seq FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING notification_id, user_id, kind, attempts",
    )
    .fetch_optional(pool)
    .await?;
    let Some(mail) = claimed else {
        return Ok(false);
    };
    let id = mail.notification_id;
    let recipient = match projections::users::find(
        pool,
        keys,
        domain::account::UserId::from_uuid(mail.user_id),
    )
    .await
    {
        Ok(view) => view.and_then(|v| v.email),
        Err(e) => {
            tracing::error!(error = %e, notification.id = %id, "the recipient could not be read");
            None
        }
    };
    let (Some(to), Ok(kind)) = (recipient, NotificationKind::parse(&mail.kind)) else {
        // Erased (or never readable): nobody to write to.
        finish(pool, id, "DROPPED", None).await?;
        return Ok(true);
    };
    let (subject, body) = compose(kind, &mailer.link("/"));
    match mailer.send(mail.user_id, &to, subject, body).await {
        Ok(()) => {
            finish(pool, id, "SENT", None).await?;
            tracing::info!(notification.id = %id, user.id = %mail.user_id, "notification mailed");
        }
        Err(e) if mail.attempts < MAX_ATTEMPTS => {
            let wait = 1i64 << (mail.attempts - 1).clamp(0, 12);
            tracing::warn!(error = %e, notification.id = %id, attempt = mail.attempts, "mailing failed; trying again later");
            sqlx::query(
                "UPDATE mail_outbox SET status = 'PENDING', last_error = $2, \
                 next_attempt_at = now() + make_interval(secs => $3) WHERE notification_id = $1",
            )
            .bind(id)
            .bind(e.redacted())
            .bind(wait as f64)
            .execute(pool)
            .await?;
        }
        Err(e) => {
            tracing::error!(error = %e, notification.id = %id, "mailing failed for good");
            finish(pool, id, "FAILED", Some(e.redacted())).await?;
        }
    }
    Ok(true)
}

async fn finish(
    pool: &PgPool,
    id: Uuid,
    status: &str,
    error: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mail_outbox SET status = $2, last_error = $3, \
         sent_at = CASE WHEN $2 = 'SENT' THEN now() END WHERE notification_id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Subject and body: what happened, and where to look; never medical content.
fn compose(kind: NotificationKind, link: &str) -> (&'static str, String) {
    let (subject, what) = match kind {
        NotificationKind::RecordShared => (
            "A record was shared with you",
            "A patient shared a medical record with you.",
        ),
        NotificationKind::ShareRevoked => (
            "A record is no longer shared with you",
            "A patient stopped sharing a medical record with you.",
        ),
        NotificationKind::ShareExpiring => (
            "A share ends within a day",
            "A share of a medical record ends within 24 hours.",
        ),
        NotificationKind::RecordAccessed => (
            "Someone read one of your records",
            "Someone you shared a record with has read it.",
        ),
        NotificationKind::AccountApproved => (
            "Your account was approved",
            "Your MedChain account was approved: you can sign in.",
        ),
        NotificationKind::AccountRejected => (
            "Your account was not approved",
            "Your MedChain account was not approved.",
        ),
        NotificationKind::ProfileChangeDecided => (
            "Your profile change was decided",
            "An administrator decided on the profile change you asked for.",
        ),
        NotificationKind::PasswordChanged => (
            "Your password was changed",
            "Your MedChain password was changed. If this was not you, reset it at once.",
        ),
        NotificationKind::UserAwaitingApproval => (
            "A doctor awaits approval",
            "A doctor registered and awaits an administrator's approval.",
        ),
        NotificationKind::ProfileChangeRequested => (
            "A profile change awaits a decision",
            "A user asked to change their profile.",
        ),
        NotificationKind::SecurityChanged => (
            "The security of your account changed",
            "A sign-in factor of your MedChain account changed, or someone who knows your password typed wrong codes. If this was not you, change your password at once.",
        ),
        NotificationKind::ErasureCompleted => (
            "A record's erasure is complete",
            "The erasure of one of your records is complete: no copy of its key, in the database's files or its backups, can be opened any more.",
        ),
        NotificationKind::RecordAdded => (
            "A doctor added a record to your file",
            "A doctor added a medical record to your file. It is yours: you can read, share, revoke or erase it.",
        ),
        NotificationKind::ReferralRequested => (
            "A doctor asks to refer one of your records",
            "A doctor you shared a record with asks you to let another doctor read it. Approve or decline it in MedChain.",
        ),
        NotificationKind::ReferralDecided => (
            "A referral was decided",
            "A patient decided on a referral of one of their records.",
        ),
        NotificationKind::EmergencyAccess => (
            "Emergency access to medical records",
            "A doctor opened emergency access to medical records, giving a reason. Every read is recorded, and an administrator reviews it.",
        ),
        NotificationKind::ProxyGranted => (
            "You look after a patient's records",
            "You accepted a patient's invitation: you can now see their records in MedChain.",
        ),
        NotificationKind::LinkOpened => (
            "Your share link was opened",
            "Someone opened one of your share links with its passcode.",
        ),
        NotificationKind::LinkLocked => (
            "A share link was locked",
            "Five wrong passcodes locked one of your share links: nobody can open it any more.",
        ),
        NotificationKind::EmergencyReviewed => (
            "An emergency access to your records was reviewed",
            "An administrator reviewed an emergency access to your records.",
        ),
    };
    (
        subject,
        format!(
            "{what}\n\nOpen MedChain to see more: {link}\n\nYou can choose which notifications are mailed to you in your profile.\n"
        ),
    )
}
