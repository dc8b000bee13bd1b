//! The record reads of `Query`: `record`, `myRecords`, `sharedWithMe`.

use crate::{
    context::{caller, services},
    error::{Code, ToGql as _, error},
    types::{
        page::{PageInfo, page, page_size, parse_time_id_cursor, time_id_cursor},
        record::{Record, RecordConnection, RecordEdge},
    },
};
use async_graphql::{Context, Object, Result};
use domain::account::Role;
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
        let view = records::find(&s.pool, &s.keys, id)
            .await
            .map_err(|e| e.gql())?;
        view.and_then(|v| Record::seen_by(v, caller.viewer(), s.clock.now()))
            .map(Some)
            .ok_or_else(|| error(Code::NotFound, "there is no such record"))
    }

    /// Patients: their records, newest first.
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
        let owner = caller.user.as_uuid();
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
        let doctor = caller.user.as_uuid();
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
