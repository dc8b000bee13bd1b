//! `Referral`, `EmergencyAccess` and `EmergencyReview` (API.graphql's care block). Each is
//! made for one viewer, who the resolver checked may see it (the patient, its doctors,
//! or for emergency access an administrator); sealed texts are opened as they are
//! asked for, with the keys they were sealed under.

use super::enums::ReferralStatus;
use super::page::PageInfo;
use super::record::{Record, Share};
use super::user::User;
use crate::context::services;
use crate::error::{ToGql as _, missing_from_view};
use crate::loaders;
use crate::scalars::DateTime;
use async_graphql::{Context, Object, Result, SimpleObject};
use domain::Timestamp;
use domain::account::sees_contact_details;
use domain::record::{RecordId, ShareId, Viewer};
use projections::emergency::EmergencyView;
use projections::records::{self, referrals::ReferralView};
use uuid::Uuid;

/// A person as `viewer` may see them.
pub async fn person(ctx: &Context<'_>, viewer: Viewer, id: Uuid) -> Result<User> {
    let view = loaders::user(ctx, id)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("user", id))?;
    Ok(User::new(
        view,
        sees_contact_details(viewer, domain::account::UserId::from_uuid(id)),
    ))
}

pub struct Referral {
    pub view: ReferralView,
    pub viewer: Viewer,
}

#[Object]
impl Referral {
    async fn id(&self) -> Uuid {
        self.view.id
    }

    /// As the viewer may see it: the doctor it is referred to sees only that it exists
    /// until the patient approves.
    async fn record(&self, ctx: &Context<'_>) -> Result<Record> {
        let s = services(ctx);
        let view = records::find(&s.pool, &s.keys, self.view.record())
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| missing_from_view("record", self.view.record_id))?;
        Ok(Record::seen_by(view.clone(), self.viewer, s.clock.now())
            .unwrap_or_else(|| Record::referred(view, self.viewer)))
    }

    async fn from(&self, ctx: &Context<'_>) -> Result<User> {
        person(ctx, self.viewer, self.view.from_id).await
    }

    async fn to(&self, ctx: &Context<'_>) -> Result<User> {
        person(ctx, self.viewer, self.view.to_id).await
    }

    /// Sealed under the record's key: null once the record is erased.
    async fn note(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let s = services(ctx);
        self.view
            .open_note(&s.keys, &s.pool)
            .await
            .map_err(|e| e.gql())
    }

    async fn status(&self) -> ReferralStatus {
        ReferralStatus::parse(&self.view.status)
    }

    async fn requested_at(&self) -> DateTime {
        DateTime(self.view.requested_at())
    }

    async fn decided_at(&self) -> Option<DateTime> {
        self.view.decided_at().map(DateTime)
    }

    /// The share an approval made.
    async fn share(&self, ctx: &Context<'_>) -> Result<Option<Share>> {
        let Some(id) = self.view.share_id else {
            return Ok(None);
        };
        let s = services(ctx);
        let Some(share) = records::find_share(&s.pool, ShareId::from_uuid(id))
            .await
            .map_err(|e| e.gql())?
        else {
            return Ok(None);
        };
        let Some(view) = records::find(&s.pool, &s.keys, RecordId::from_uuid(self.view.record_id))
            .await
            .map_err(|e| e.gql())?
        else {
            return Ok(None);
        };
        let now = s.clock.now();
        Ok(Record::seen_by(view, self.viewer, now).map(|r| Share::new(share, r, now)))
    }
}

pub struct EmergencyAccess {
    pub view: EmergencyView,
    pub viewer: Viewer,
}

#[Object]
impl EmergencyAccess {
    async fn id(&self) -> Uuid {
        self.view.id
    }

    async fn patient(&self, ctx: &Context<'_>) -> Result<User> {
        person(ctx, self.viewer, self.view.patient_id).await
    }

    async fn doctor(&self, ctx: &Context<'_>) -> Result<User> {
        person(ctx, self.viewer, self.view.doctor_id).await
    }

    /// Sealed under the patient's key; once the patient is erased it reads "(erased)".
    async fn reason(&self, ctx: &Context<'_>) -> Result<String> {
        let s = services(ctx);
        let (reason, _) = self
            .view
            .open(&s.keys, &s.pool)
            .await
            .map_err(|e| e.gql())?;
        Ok(reason.unwrap_or_else(|| "(erased)".into()))
    }

    async fn opened_at(&self) -> DateTime {
        DateTime(Timestamp::from_datetime(self.view.opened_at))
    }

    async fn expires_at(&self) -> DateTime {
        DateTime(Timestamp::from_datetime(self.view.expires_at))
    }

    /// When it stopped letting its doctor read: closed early, or its time passed.
    async fn closed_at(&self, ctx: &Context<'_>) -> Option<DateTime> {
        self.view.closed_at(services(ctx).clock.now()).map(DateTime)
    }

    async fn reads(&self) -> i32 {
        i32::try_from(self.view.reads).unwrap_or(i32::MAX)
    }

    async fn review(&self, ctx: &Context<'_>) -> Result<Option<EmergencyReview>> {
        let (Some(by), Some(at)) = (self.view.reviewed_by, self.view.reviewed_at) else {
            return Ok(None);
        };
        let s = services(ctx);
        let (_, note) = self
            .view
            .open(&s.keys, &s.pool)
            .await
            .map_err(|e| e.gql())?;
        Ok(Some(EmergencyReview {
            by: person(ctx, self.viewer, by).await?,
            at: DateTime(Timestamp::from_datetime(at)),
            justified: self.view.justified.unwrap_or(false),
            note,
        }))
    }
}

#[derive(SimpleObject)]
pub struct EmergencyReview {
    pub by: User,
    pub at: DateTime,
    pub justified: bool,
    pub note: Option<String>,
}

#[derive(SimpleObject)]
pub struct EmergencyAccessEdge {
    pub cursor: String,
    pub node: EmergencyAccess,
}

#[derive(SimpleObject)]
pub struct EmergencyAccessConnection {
    pub edges: Vec<EmergencyAccessEdge>,
    pub page_info: PageInfo,
}
