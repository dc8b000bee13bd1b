//! The record mutations: `shareRecord`, `revokeShare`, `eraseRecord`. Each runs one
//! command, waits for the records view to reach what it wrote, and answers from it.

use crate::{
    context::{READ_YOUR_WRITES, Services, caller, services},
    error::{Code, ToGql as _, error, missing_from_view},
    scalars::DateTime,
    types::record::{Record, Share},
};
use async_graphql::{Context, Object, Result};
use commands::Caller;
use domain::{account::UserId, record::RecordId};
use projections::records;
use uuid::Uuid;

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
        let share = records::find_share(&s.pool, share_id)
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
    ) -> Result<Record> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let seq = s
            .records
            .erase(caller.viewer(), RecordId::from_uuid(record_id), &reason)
            .await
            .map_err(|e| e.gql())?;
        s.projections
            .wait_for(&["records"], seq, READ_YOUR_WRITES)
            .await
            .map_err(|e| e.gql())?;
        let view = records::find(&s.pool, &s.keys, record_id)
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| missing_from_view("record", record_id))?;
        Record::seen_by(view, caller.viewer(), s.clock.now())
            .ok_or_else(|| error(Code::NotFound, "there is no such record"))
    }
}

/// The share as the caller sees it once the view has reached `seq`.
async fn share_after(s: &Services, caller: &Caller, share: Uuid, seq: i64) -> Result<Share> {
    s.projections
        .wait_for(&["records"], seq, READ_YOUR_WRITES)
        .await
        .map_err(|e| e.gql())?;
    let share = records::find_share(&s.pool, share)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("share", share))?;
    let record_id = share.record.as_uuid();
    let view = records::find(&s.pool, &s.keys, record_id)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("record", record_id))?;
    let now = s.clock.now();
    let record = Record::seen_by(view, caller.viewer(), now)
        .ok_or_else(|| error(Code::NotFound, "there is no such record"))?;
    Ok(Share::new(share, record, now))
}
