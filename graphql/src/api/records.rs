//! Records in `Query` and `Mutation`: `record`, `myRecords`, `sharedWithMe`,
//! `shareRecord`, `revokeShare`, `eraseRecord`. Each mutation runs one command, waits for
//! the records view to reach what it wrote, and answers from it. Uploading and reading
//! content are HTTP routes (`http::records`).

use crate::{
    context::{Services, caller, services},
    error::{Code, ToGql as _, error, missing_from_view},
    scalars::DateTime,
    types::{
        page::{PageInfo, page, page_size, parse_time_id_cursor, time_id_cursor},
        record::{Record, RecordConnection, RecordEdge, Share},
    },
};
use async_graphql::{Context, Object, Result};
use commands::Caller;
use domain::{
    account::{Role, UserId},
    record::{RecordId, ShareId},
};
use projections::records;
use uuid::Uuid;

#[derive(Default)]
pub struct RecordQuery;

#[Object]
impl RecordQuery {
    /// A record the caller may see: their own, one shared with them now, or (for
    /// administrators) any, without its medical content.
    async fn record(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Record>> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let view = records::find(&s.pool, &s.keys, RecordId::from_uuid(id))
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| error(Code::NotFound, "there is no such record"))?;
        visible(s, &caller, view)
            .await?
            .map(Some)
            .ok_or_else(|| error(Code::NotFound, "there is no such record"))
    }

    /// Patients: their records, newest first.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn my_records(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<RecordConnection> {
        let caller = caller(ctx)?;
        if caller.role != Role::Patient {
            return Err(error(Code::Forbidden, "only patients keep records"));
        }
        let s = services(ctx);
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_time_id_cursor).transpose()?;
        let owner = caller.user;
        let views = records::of_owner(&s.pool, &s.keys, owner, after, limit + 1)
            .await
            .map_err(|e| e.gql())?;
        let total = records::count_of_owner(&s.pool, owner)
            .await
            .map_err(|e| e.gql())?;
        let now = s.clock.now();
        let (edges, page_info) = page(views, limit, |v| {
            let cursor = time_id_cursor(v.uploaded_at, v.id.as_uuid());
            Record::seen_by(v, caller.viewer(), now).map(|node| RecordEdge { cursor, node })
        });
        Ok(connection(edges, page_info, total))
    }

    /// Doctors: the records shared with them that they may read now, most recently
    /// shared first.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn shared_with_me(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<RecordConnection> {
        let caller = caller(ctx)?;
        if caller.role != Role::Doctor {
            return Err(error(
                Code::Forbidden,
                "only doctors have records shared with them",
            ));
        }
        let s = services(ctx);
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_time_id_cursor).transpose()?;
        let now = s.clock.now();
        let doctor = caller.user;
        let found = records::shared_with(&s.pool, &s.keys, doctor, now, after, limit + 1)
            .await
            .map_err(|e| e.gql())?;
        let total = records::count_shared_with(&s.pool, doctor, now)
            .await
            .map_err(|e| e.gql())?;
        let (edges, page_info) = page(found, limit, |(share, v)| {
            let cursor = time_id_cursor(share.granted_at, share.id.as_uuid());
            Record::seen_by(v, caller.viewer(), now).map(|node| RecordEdge { cursor, node })
        });
        Ok(connection(edges, page_info, total))
    }
}

fn connection(edges: Vec<RecordEdge>, page_info: PageInfo, total: i64) -> RecordConnection {
    RecordConnection {
        page_info,
        edges,
        total_count: i32::try_from(total).unwrap_or(i32::MAX),
    }
}

#[derive(Default)]
pub struct RecordMutation;

#[Object]
impl RecordMutation {
    /// The owner lets an ACTIVE doctor read the record, until `expiresAt` (in the future)
    /// or until revoked.
    async fn share_record(
        &self,
        ctx: &Context<'_>,
        record_id: Uuid,
        doctor_id: Uuid,
        expires_at: Option<DateTime>,
    ) -> Result<Share> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let (share, seq) = s
            .records
            .share(
                &caller,
                RecordId::from_uuid(record_id),
                UserId::from_uuid(doctor_id),
                expires_at.map(|t| t.0),
            )
            .await
            .map_err(|e| e.gql())?;
        share_after(s, &caller, share.as_uuid(), seq).await
    }

    /// The owner ends a share at once.
    async fn revoke_share(&self, ctx: &Context<'_>, share_id: Uuid) -> Result<Share> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let share = records::find_share(&s.pool, ShareId::from_uuid(share_id))
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| error(Code::NotFound, "there is no such share"))?;
        let seq = s
            .records
            .revoke_share(&caller, share.record, share.id)
            .await
            .map_err(|e| e.gql())?;
        share_after(s, &caller, share_id, seq).await
    }

    /// The owner or an administrator erases the record (crypto-shredding).
    async fn erase_record(
        &self,
        ctx: &Context<'_>,
        record_id: Uuid,
        reason: String,
        basis: Option<crate::types::enums::ErasureBasis>,
    ) -> Result<Record> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let basis = basis.map(domain::ErasureBasis::from);
        let seq = s
            .records
            .erase(
                caller.viewer(),
                RecordId::from_uuid(record_id),
                &reason,
                basis,
            )
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["records"], seq).await?;
        let view = records::find(&s.pool, &s.keys, RecordId::from_uuid(record_id))
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| missing_from_view("record", record_id))?;
        Record::seen_by(view, caller.viewer(), s.clock.now())
            .ok_or_else(|| error(Code::NotFound, "there is no such record"))
    }
}

/// The record as the caller may see it now (`record_access`: owner, administrator,
/// share, proxy, emergency).
pub(crate) async fn visible(
    s: &Services,
    caller: &Caller,
    view: records::RecordView,
) -> Result<Option<Record>> {
    let access = crate::record_access::record_access(s, caller, &view)
        .await
        .map_err(|e| e.gql())?;
    Ok(Record::with_access(view, caller.viewer(), access))
}

/// The share as the caller sees it once the view has reached `seq`.
async fn share_after(s: &Services, caller: &Caller, share: Uuid, seq: i64) -> Result<Share> {
    s.caught_up(&["records"], seq).await?;
    let share = records::find_share(&s.pool, ShareId::from_uuid(share))
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("share", share))?;
    let record_id = share.record.as_uuid();
    let view = records::find(&s.pool, &s.keys, RecordId::from_uuid(record_id))
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("record", record_id))?;
    let now = s.clock.now();
    let record = visible(s, caller, view)
        .await?
        .ok_or_else(|| error(Code::NotFound, "there is no such record"))?;
    Ok(Share::new(share, record, now))
}
