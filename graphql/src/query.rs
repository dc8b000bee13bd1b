//! The account reads of `Query`: the caller, sessions, the doctor directory, and the
//! administrators' lists of users and profile changes.

use crate::{
    context::{admin, caller, optional_caller, own_view, services},
    error::ToGql as _,
    scalars::DateTime,
    types::{
        enums::{AccountStatus, Role},
        page::{page, page_size, parse_time_id_cursor, time_id_cursor},
        profile_change::{ProfileChange, ProfileChangeConnection, ProfileChangeEdge},
        session::SessionInfo,
        user::{User, UserConnection, UserEdge},
    },
};
use async_graphql::{Context, Object, Result};
use domain::{
    account::{UserId, sees_contact_details},
    record::Viewer,
};
use projections::users::{self, UserView};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
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

    /// Signed-in users: ACTIVE doctors whose name contains `search`, case- and
    /// accent-insensitively.
    async fn doctors(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let viewer = caller(ctx)?;
        let s = services(ctx);
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_time_id_cursor).transpose()?;
        let search = search.as_deref().map(str::trim).filter(|q| !q.is_empty());
        // Every match, for totalCount; then the page after the cursor.
        let all = users::doctors(&s.pool, &s.keys, search, None, i64::MAX)
            .await
            .map_err(|e| e.gql())?;
        let total = all.len();
        let views: Vec<_> = all
            .into_iter()
            .filter(|v| after.is_none_or(|a| (v.created_at, v.id) > a))
            .take(limit as usize + 1)
            .collect();
        Ok(user_page(views, limit, total as i64, viewer.viewer()))
    }

    /// Administrators: every account, oldest first, by role and status.
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

/// A page of users as a connection: `views` holds up to `limit + 1` rows (the extra one
/// only says there is a next page); `total` is every match.
fn user_page(views: Vec<UserView>, limit: i64, total: i64, viewer: Viewer) -> UserConnection {
    let (edges, page_info) = page(views, limit, |v| {
        let sees_contact = sees_contact_details(viewer, UserId::from_uuid(v.id));
        Some(UserEdge {
            cursor: time_id_cursor(v.created_at, v.id),
            node: User::new(v, sees_contact),
        })
    });
    UserConnection {
        page_info,
        edges,
        total_count: i32::try_from(total).unwrap_or(i32::MAX),
    }
}
