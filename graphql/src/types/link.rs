//! `ShareLink` and `NewShareLink` (API.graphql's care block): what the patient sees of
//! their links. The passcode appears once, in `NewShareLink`; the URL holds no secret.

use super::record::Record;
use crate::context::services;
use crate::error::ToGql as _;
use crate::scalars::DateTime;
use async_graphql::{Context, Object, Result, SimpleObject};
use domain::Timestamp;
use domain::record::{RecordId, Viewer};
use projections::links::LinkView;
use uuid::Uuid;

pub struct ShareLink {
    pub view: LinkView,
    pub viewer: Viewer,
}

#[Object]
impl ShareLink {
    async fn id(&self) -> Uuid {
        self.view.id
    }

    /// `<public-url>/l/<id>`; the passcode is not in it.
    async fn url(&self, ctx: &Context<'_>) -> String {
        format!("{}/l/{}", services(ctx).public_url, self.view.id)
    }

    /// The records it shares, as the patient sees them (an erased one drops out).
    async fn records(&self, ctx: &Context<'_>) -> Result<Vec<Record>> {
        let s = services(ctx);
        let now = s.clock.now();
        let mut out = Vec::new();
        for id in &self.view.records {
            let view = projections::records::find(&s.pool, &s.keys, RecordId::from_uuid(*id))
                .await
                .map_err(|e| e.gql())?;
            if let Some(record) = view.and_then(|v| Record::seen_by(v, self.viewer, now)) {
                out.push(record);
            }
        }
        Ok(out)
    }

    async fn created_at(&self) -> DateTime {
        DateTime(Timestamp::from_datetime(self.view.created_at))
    }

    async fn expires_at(&self) -> DateTime {
        DateTime(Timestamp::from_datetime(self.view.expires_at))
    }

    async fn max_opens(&self) -> Option<i32> {
        self.view.max_opens
    }

    async fn opens(&self) -> i32 {
        self.view.opens
    }

    async fn revoked_at(&self) -> Option<DateTime> {
        self.view
            .revoked_at
            .map(|t| DateTime(Timestamp::from_datetime(t)))
    }

    /// Opens now: not revoked, locked, past its time or used up.
    async fn active(&self, ctx: &Context<'_>) -> bool {
        self.view.active(services(ctx).clock.now())
    }
}

#[derive(SimpleObject)]
pub struct NewShareLink {
    pub link: ShareLink,
    /// Shown once: only its hash is kept, sealed.
    pub passcode: String,
    /// The link's URL as a QR code (SVG), for a phone to scan; the passcode is not in
    /// it, and is given apart.
    pub qr_svg: String,
}
