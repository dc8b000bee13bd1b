//! `Notification` and `NotificationPreference`. A notification's message is composed
//! here, when it is read, from what the reader may see at that moment (API.graphql): a
//! doctor whose share was revoked no longer sees the record's title in it.

use super::enums::NotificationKind;
use super::page::PageInfo;
use crate::context::services;
use crate::error::{Code, ToGql as _, error};
use crate::loaders;
use crate::scalars::{DateTime, Long};
use async_graphql::{Context, Object, Result, SimpleObject};
use domain::Timestamp;
use domain::notification::{self, NotificationKind as Kind};
use domain::record::{RecordId, Viewer, access};
use projections::notifications::NotificationRow;
use projections::records;
use uuid::Uuid;

pub struct Notification {
    pub row: NotificationRow,
    pub viewer: Viewer,
}

impl Notification {
    fn parsed_kind(&self) -> Result<Kind> {
        Kind::parse(&self.row.kind).map_err(|e| {
            tracing::error!(error = %e, seq = self.row.seq, "a notification row has an unknown kind");
            error(Code::Internal, "internal error")
        })
    }

    /// The name of the person it is about, as the reader may see it.
    async fn who(&self, ctx: &Context<'_>) -> Result<String> {
        let Some(subject) = self.row.subject_id else {
            return Ok("MedChain".into());
        };
        let view = loaders::user(ctx, subject).await.map_err(|e| e.gql())?;
        Ok(view
            .and_then(|v| v.name)
            .unwrap_or_else(|| "A former user".into()))
    }

    /// Where a share link's opening came from: on the ledger, sealed under the owner's
    /// key (a third party's personal data), opened for the owner only.
    async fn opened_from(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let s = services(ctx);
        let found: Option<(String, serde_json::Value)> =
            sqlx::query_as("SELECT stream, payload FROM events WHERE seq = $1")
                .bind(self.row.seq)
                .fetch_optional(&s.pool)
                .await
                .map_err(|e| e.gql())?;
        let Some((stream, payload)) = found else {
            return Ok(None);
        };
        let Ok(opened) = serde_json::from_value::<domain::link::ShareLinkOpened>(payload) else {
            return Ok(None);
        };
        if opened.owner != self.viewer.id {
            return Ok(None);
        }
        let key = s
            .keys
            .subject_key(&s.pool, opened.owner.as_uuid())
            .await
            .map_err(|e| crate::error::internal(&e))?;
        Ok(key.live().and_then(|key| {
            key.open_string(&stream, commands::links::FROM_FIELD, &opened.from)
                .ok()
        }))
    }

    /// The record's title, if the reader may see it now.
    async fn title(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let s = services(ctx);
        let Some(record) = self.row.record_id else {
            return Ok(None);
        };
        let Some(view) = records::find(&s.pool, &s.keys, RecordId::from_uuid(record))
            .await
            .map_err(|e| e.gql())?
        else {
            return Ok(None);
        };
        if !access(self.viewer, view.facts(None), s.clock.now()).sees_medical_content() {
            return Ok(None);
        }
        Ok(view.medical().map_err(|e| e.gql())?.map(|m| m.title))
    }
}

#[Object]
impl Notification {
    async fn id(&self) -> Uuid {
        self.row.id
    }

    async fn kind(&self) -> Result<NotificationKind> {
        Ok(self.parsed_kind()?.into())
    }

    /// Composed now, from what the reader may see now.
    async fn message(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(match self.parsed_kind()? {
            Kind::RecordShared => match self.title(ctx).await? {
                Some(title) => format!(
                    "{} shared \u{201c}{title}\u{201d} with you",
                    self.who(ctx).await?
                ),
                None => format!(
                    "{} shared a record with you; you can no longer read it",
                    self.who(ctx).await?
                ),
            },
            Kind::ShareRevoked => {
                format!("{} stopped sharing a record with you", self.who(ctx).await?)
            }
            Kind::ShareExpiring => {
                let who = self.who(ctx).await?;
                match self.title(ctx).await? {
                    Some(title) => format!(
                        "The share of \u{201c}{title}\u{201d} with {who} ends within 24 hours"
                    ),
                    None => format!("A share of a record with {who} ends within 24 hours"),
                }
            }
            Kind::RecordAccessed => match self.title(ctx).await? {
                Some(title) => format!("{} read \u{201c}{title}\u{201d}", self.who(ctx).await?),
                None => format!("{} read one of your records", self.who(ctx).await?),
            },
            Kind::AccountApproved => "Your account was approved: welcome to MedChain".into(),
            Kind::AccountRejected => "Your account was not approved".into(),
            Kind::ProfileChangeDecided => match self.row.detail.as_deref() {
                Some("APPROVED") => "Your profile change was approved".into(),
                _ => "Your profile change was not approved".into(),
            },
            Kind::PasswordChanged => {
                "Your password was changed. If this was not you, reset it at once".into()
            }
            Kind::UserAwaitingApproval => format!(
                "{} registered as a doctor and awaits approval",
                self.who(ctx).await?
            ),
            Kind::ProfileChangeRequested => {
                format!("{} asked to change their profile", self.who(ctx).await?)
            }
            Kind::SecurityChanged => match self.row.detail.as_deref() {
                Some("TOTP_ENABLED") => "A sign-in code app (TOTP) was turned on for your account".into(),
                Some("TOTP_DISABLED") => "The sign-in code app (TOTP) was turned off for your account".into(),
                Some("RECOVERY_CODES_REGENERATED") => "New recovery codes were made; the old ones no longer work".into(),
                Some("PASSKEY_ADDED") => "A passkey was added to your account".into(),
                Some("PASSKEY_REMOVED") => "A passkey was removed from your account".into(),
                Some("DATA_EXPORTED") => "All your data was downloaded in an export".into(),
                Some("READ_TOKEN_CREATED") => {
                    "An app was given a read token for your records".into()
                }
                Some("MFA_RESET") => "An administrator removed your second factor; set up a new one in your profile".into(),
                Some("CODES_LOCKED") => "Someone who knows your password typed wrong codes; codes are locked for a while. Change your password if this was not you".into(),
                _ => "The security of your account changed".into(),
            },
            Kind::ErasureCompleted => "The erasure of one of your records is complete: no \
                 copy of its key, in the database's files or its backups, can be opened any more"
                .into(),
            Kind::RecordAdded => match self.title(ctx).await? {
                Some(title) => format!(
                    "{} added \u{201c}{title}\u{201d} to your records",
                    self.who(ctx).await?
                ),
                None => format!("{} added a record to your file", self.who(ctx).await?),
            },
            Kind::ReferralRequested => format!(
                "{} asks you to let another doctor read one of your records",
                self.who(ctx).await?
            ),
            Kind::ReferralDecided => match self.row.detail.as_deref() {
                Some("APPROVED") => format!("{} approved a referral", self.who(ctx).await?),
                _ => format!("{} declined a referral", self.who(ctx).await?),
            },
            Kind::EmergencyAccess => match self.viewer.role {
                domain::account::Role::Admin => format!(
                    "{} opened emergency access to a patient's records: review it",
                    self.who(ctx).await?
                ),
                _ => format!(
                    "{} opened emergency access to your records",
                    self.who(ctx).await?
                ),
            },
            Kind::ProxyGranted => format!(
                "You now look after {}'s records",
                self.who(ctx).await?
            ),
            Kind::LinkOpened => match self.opened_from(ctx).await? {
                Some(from) => format!("Your share link was opened from {from}"),
                None => "Your share link was opened".into(),
            },
            Kind::LinkLocked => "Five wrong passcodes locked one of your share links: nobody can \
                 open it any more. Make a new one if you still want to share"
                .into(),
            Kind::EmergencyReviewed => match self.row.detail.as_deref() {
                Some("JUSTIFIED") => format!(
                    "An administrator found {}'s emergency access to your records justified",
                    self.who(ctx).await?
                ),
                _ => format!(
                    "An administrator found {}'s emergency access to your records NOT justified",
                    self.who(ctx).await?
                ),
            },
        })
    }

    async fn created_at(&self) -> DateTime {
        DateTime(Timestamp::from_datetime(self.row.created_at))
    }

    async fn read(&self) -> bool {
        self.row.read_seq.is_some()
    }

    async fn record_id(&self) -> Option<Uuid> {
        self.row.record_id
    }

    /// The ledger event it came from.
    async fn seq(&self) -> Long {
        Long(self.row.seq)
    }
}

#[derive(SimpleObject)]
pub struct NotificationEdge {
    pub cursor: String,
    pub node: Notification,
}

#[derive(SimpleObject)]
pub struct NotificationConnection {
    pub edges: Vec<NotificationEdge>,
    pub page_info: PageInfo,
    pub unread_count: i32,
}

#[derive(SimpleObject)]
pub struct NotificationPreference {
    pub kind: NotificationKind,
    pub in_app: bool,
    pub email: bool,
}

impl From<notification::Preference> for NotificationPreference {
    fn from(p: notification::Preference) -> Self {
        Self {
            kind: p.kind.into(),
            in_app: p.in_app,
            email: p.email,
        }
    }
}
