//! Share links in `Query` and `Mutation` (API.graphql's care block): a patient's links,
//! creating one (the passcode answered once) and revoking it; and, for administrators
//! beside `whoCouldRead`, which links could read a record at a moment, by replay. Opening
//! a link and reading through it are HTTP routes (`http::links`).

use crate::{
    context::{Services, admin, caller, services},
    error::{Code, ToGql as _, error, missing_from_view},
    scalars::DateTime,
    types::link::{NewShareLink, ShareLink},
};
use async_graphql::{Context, Object, Result};
use commands::Caller;
use domain::{account::Role, link::LinkId, record::RecordId};
use projections::{links, replay};
use uuid::Uuid;

#[derive(Default)]
pub struct LinkQuery;

#[Object]
impl LinkQuery {
    /// Patients: their share links, newest first.
    async fn share_links(&self, ctx: &Context<'_>) -> Result<Vec<ShareLink>> {
        let caller = caller(ctx)?;
        if caller.role != Role::Patient {
            return Err(error(
                Code::Forbidden,
                "only patients share records by link",
            ));
        }
        let s = services(ctx);
        let rows = links::of_owner(&s.pool, caller.user)
            .await
            .map_err(|e| e.gql())?;
        Ok(rows
            .into_iter()
            .map(|view| ShareLink {
                view,
                viewer: caller.viewer(),
            })
            .collect())
    }

    /// Administrators: the share links through which someone could read the record at
    /// `at`, from the ledger replayed up to that moment.
    async fn links_that_could_read(
        &self,
        ctx: &Context<'_>,
        record_id: Uuid,
        at: DateTime,
    ) -> Result<Vec<Uuid>> {
        admin(ctx)?;
        let s = services(ctx);
        let answer = replay::who_could_read(
            &s.pool,
            RecordId::from_uuid(record_id),
            replay::Moment::Time(at.0),
        )
        .await
        .map_err(|e| e.gql())?;
        Ok(answer.links.iter().map(|l| l.as_uuid()).collect())
    }
}

#[derive(Default)]
pub struct LinkMutation;

#[Object]
impl LinkMutation {
    /// A patient shares records of their own by link until `expiresAt` (at most 90
    /// days), for at most `maxOpens` opens; the passcode is in the answer, once.
    async fn create_share_link(
        &self,
        ctx: &Context<'_>,
        record_ids: Vec<Uuid>,
        expires_at: DateTime,
        max_opens: Option<i32>,
    ) -> Result<NewShareLink> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let max_opens = max_opens
            .map(|m| {
                u32::try_from(m).map_err(|_| error(Code::BadUserInput, "maxOpens is 1 or more"))
            })
            .transpose()?;
        let records: Vec<RecordId> = record_ids.into_iter().map(RecordId::from_uuid).collect();
        let made = s
            .links
            .create(&caller, &records, expires_at.0, max_opens)
            .await
            .map_err(|e| e.gql())?;
        let link = link_after(s, &caller, made.id.as_uuid(), made.seq).await?;
        let url = format!("{}/l/{}", s.public_url, made.id);
        let qr_svg =
            commands::accounts::totp::qr_svg(&url).map_err(|e| crate::error::internal(&e))?;
        Ok(NewShareLink {
            link,
            passcode: made.passcode.shown(),
            qr_svg,
        })
    }

    /// The owner ends a link at once, and every token opened through it.
    async fn revoke_share_link(&self, ctx: &Context<'_>, id: Uuid) -> Result<ShareLink> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let seq = s
            .links
            .revoke(&caller, LinkId::from_uuid(id))
            .await
            .map_err(|e| e.gql())?;
        link_after(s, &caller, id, seq).await
    }
}

async fn link_after(s: &Services, caller: &Caller, id: Uuid, seq: i64) -> Result<ShareLink> {
    s.caught_up(&["links"], seq).await?;
    let view = links::find(&s.pool, id)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("share link", id))?;
    Ok(ShareLink {
        view,
        viewer: caller.viewer(),
    })
}
