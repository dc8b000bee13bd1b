//! `Query`: the reads of the contract that exist so far.

use crate::{
    context::{caller, optional_caller, own_view, services},
    error::ToGql as _,
    scalars::DateTime,
    types::{session::SessionInfo, user::User},
};
use async_graphql::{Context, Object, Result};
use projections::users;

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user; null without credentials.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(caller) = optional_caller(ctx) else {
            return Ok(None);
        };
        if let Some(view) = own_view(ctx) {
            return Ok(Some(User::new((*view).clone(), true)));
        }
        let s = services(ctx);
        let view = users::find(&s.pool, &s.keys, caller.user.as_uuid())
            .await
            .map_err(|e| e.gql())?;
        Ok(view.map(|v| User::new(v, true)))
    }

    /// The caller's live sessions, newest first.
    async fn my_sessions(&self, ctx: &Context<'_>) -> Result<Vec<SessionInfo>> {
        let caller = caller(ctx)?;
        let sessions = services(ctx)
            .accounts
            .sessions(&caller)
            .await
            .map_err(|e| e.gql())?;
        Ok(sessions
            .into_iter()
            .map(|s| SessionInfo {
                id: s.id,
                created_at: DateTime(s.created_at),
                last_seen_at: DateTime(s.last_seen_at),
                expires_at: DateTime(s.expires_at),
                current: s.id == caller.session,
                user_agent: s.user_agent,
            })
            .collect())
    }
}
