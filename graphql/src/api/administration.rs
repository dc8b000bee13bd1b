//! Administrators deciding on people, in `Query` and `Mutation`: every account by role
//! and status, pending profile changes, approval, rejection, suspension and erasure.
//! Every field is for administrators only (`domain::account::require_admin`).

use crate::{
    context::{admin, services},
    error::{Code, ToGql as _, error},
    types::{
        enums::{AccountStatus, Role},
        page::{page, page_size, parse_time_id_cursor, time_id_cursor},
        profile_change::{ProfileChange, ProfileChangeConnection, ProfileChangeEdge, change_after},
        user::{User, UserConnection, user_after, user_page},
    },
};
use async_graphql::{Context, Object, Result};
use domain::account::UserId;
use projections::users;
use uuid::Uuid;

#[derive(Default)]
pub struct AdministrationQuery;

#[Object]
impl AdministrationQuery {
    /// Administrators: every account, oldest first, by role and status.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        role: Option<Role>,
        status: Option<AccountStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let admin = admin(ctx)?;
        let s = services(ctx);
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_time_id_cursor).transpose()?;
        let (role, status) = (role.map(Into::into), status.map(Into::into));
        let views = users::list(&s.pool, &s.keys, role, status, after, limit + 1)
            .await
            .map_err(|e| e.gql())?;
        let total = users::count(&s.pool, role, status)
            .await
            .map_err(|e| e.gql())?;
        Ok(user_page(views, limit, total, admin.viewer()))
    }

    /// Administrators: profile changes waiting for a decision, oldest first.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn pending_profile_changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ProfileChangeConnection> {
        admin(ctx)?;
        let s = services(ctx);
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_time_id_cursor).transpose()?;
        let changes = users::pending_changes(&s.pool, &s.keys, after, limit + 1)
            .await
            .map_err(|e| e.gql())?;
        let (edges, page_info) = page(changes, limit, |c| {
            Some(ProfileChangeEdge {
                cursor: time_id_cursor(c.requested_at, c.id),
                node: ProfileChange(c),
            })
        });
        Ok(ProfileChangeConnection { edges, page_info })
    }
}

#[derive(Default)]
pub struct AdministrationMutation;

#[Object]
impl AdministrationMutation {
    /// Administrators: let a pending account in.
    async fn approve_user(&self, ctx: &Context<'_>, user_id: Uuid) -> Result<User> {
        let admin = admin(ctx)?;
        let s = services(ctx);
        let seq = s
            .accounts
            .approve_user(&admin, UserId::from_uuid(user_id))
            .await
            .map_err(|e| e.gql())?;
        user_after(s, user_id, seq).await
    }

    /// Administrators: turn a pending account away, saying why.
    async fn reject_user(&self, ctx: &Context<'_>, user_id: Uuid, reason: String) -> Result<User> {
        let admin = admin(ctx)?;
        let s = services(ctx);
        let seq = s
            .accounts
            .reject_user(&admin, UserId::from_uuid(user_id), &reason)
            .await
            .map_err(|e| e.gql())?;
        user_after(s, user_id, seq).await
    }

    /// Administrators: shut an account, saying why; its sessions end at once.
    async fn suspend_user(&self, ctx: &Context<'_>, user_id: Uuid, reason: String) -> Result<User> {
        let admin = admin(ctx)?;
        let s = services(ctx);
        let seq = s
            .accounts
            .suspend_user(&admin, UserId::from_uuid(user_id), &reason)
            .await
            .map_err(|e| e.gql())?;
        user_after(s, user_id, seq).await
    }

    /// Administrators: erase a person by destroying their key (crypto-shredding). Not
    /// oneself, not the last active administrator.
    async fn erase_user(
        &self,
        ctx: &Context<'_>,
        user_id: Uuid,
        reason: String,
        basis: Option<crate::types::enums::ErasureBasis>,
    ) -> Result<User> {
        let admin = admin(ctx)?;
        let s = services(ctx);
        let basis = basis.map(domain::ErasureBasis::from);
        let seq = s
            .accounts
            .erase_user(&admin, UserId::from_uuid(user_id), &reason, basis)
            .await
            .map_err(|e| e.gql())?;
        // Their records go the same way, each with its own RecordErased (their data keys
        // were unreadable from the moment the subject key went).
        let records_seq = s
            .records
            .erase_all_of(admin.viewer(), UserId::from_uuid(user_id), &reason, basis)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["records"], records_seq).await?;
        user_after(s, user_id, seq).await
    }

    /// Administrators: approve (the profile changes) or reject (a reason is required).
    async fn decide_profile_change(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        approve: bool,
        reason: Option<String>,
    ) -> Result<ProfileChange> {
        let admin = admin(ctx)?;
        let s = services(ctx);
        let change = users::find_change(&s.pool, &s.keys, id)
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| error(Code::NotFound, "there is no such profile change"))?;
        let seq = s
            .accounts
            .decide_profile_change(
                &admin,
                UserId::from_uuid(change.user_id),
                id,
                approve,
                reason.as_deref(),
            )
            .await
            .map_err(|e| e.gql())?;
        change_after(s, id, seq).await
    }
}
