//! Legal holds in `Query` and `Mutation`, for administrators: place one on a person or a
//! record (the reason sealed), lift one (another administrator), list them. An erasure
//! under a hold is FORBIDDEN with `extensions.reason` LEGAL_HOLD (the erasure paths).

use crate::{
    context::{admin, services},
    error::{Code, ToGql as _, error},
    types::legal_hold::LegalHold,
};
use async_graphql::{Context, Object, Result};
use commands::CommandError;
use domain::erasure::ErasureSubject;
use uuid::Uuid;

#[derive(Default)]
pub struct LegalHoldQuery;

#[Object]
impl LegalHoldQuery {
    /// Administrators: holds, newest first; `active`: only those that stand (true) or
    /// only those lifted (false).
    async fn legal_holds(&self, ctx: &Context<'_>, active: Option<bool>) -> Result<Vec<LegalHold>> {
        admin(ctx)?;
        let holds = projections::legal_holds::list(&services(ctx).pool, active)
            .await
            .map_err(|e| e.gql())?;
        Ok(holds.into_iter().map(LegalHold).collect())
    }
}

#[derive(Default)]
pub struct LegalHoldMutation;

async fn hold_after(ctx: &Context<'_>, id: Uuid, seq: i64) -> Result<LegalHold> {
    let s = services(ctx);
    s.caught_up(&["legal_holds"], seq).await?;
    projections::legal_holds::find(&s.pool, id)
        .await
        .map_err(|e| e.gql())?
        .map(LegalHold)
        .ok_or_else(|| error(Code::Internal, "the hold is not in the view"))
}

#[Object]
impl LegalHoldMutation {
    /// Administrators: keep a person (`user-<id>`, with all their records) or a record
    /// (`record-<id>`) from being erased. The reason is sealed.
    async fn place_legal_hold(
        &self,
        ctx: &Context<'_>,
        subject: String,
        reason: String,
    ) -> Result<LegalHold> {
        let admin = admin(ctx)?;
        let subject =
            ErasureSubject::parse(&subject).map_err(|e| CommandError::bad_input(e).gql())?;
        let (id, seq) = services(ctx)
            .legal_holds
            .place(&admin, subject, &reason)
            .await
            .map_err(|e| e.gql())?;
        hold_after(ctx, id, seq).await
    }

    /// Administrators other than the one who placed it: lift a hold.
    async fn lift_legal_hold(&self, ctx: &Context<'_>, id: Uuid) -> Result<LegalHold> {
        let admin = admin(ctx)?;
        let seq = services(ctx)
            .legal_holds
            .lift(&admin, id)
            .await
            .map_err(|e| e.gql())?;
        hold_after(ctx, id, seq).await
    }
}
