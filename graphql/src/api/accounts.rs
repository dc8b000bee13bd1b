//! Accounts in `Query` and `Mutation`: registering, signing in and out, the caller and
//! their sessions, password changes and resets, profile change requests, and the doctor
//! directory. Administrators' decisions on accounts are in `administration`.

use crate::{
    context::{caller, client, optional_caller, own_view, services},
    error::ToGql as _,
    scalars::DateTime,
    session_cookie,
    types::{
        enums::Role,
        page::{page_size, parse_time_id_cursor},
        profile_change::{ProfileChange, change_after},
        session::{Session, SessionInfo},
        user::{User, UserConnection, user_after, user_page},
    },
};
use async_graphql::{Context, InputObject, Object, Result};
use commands::accounts::{LoginRequest, RegisterRequest};
use domain::account::{Role as DomainRole, user::Registration};
use projections::users;
use uuid::Uuid;

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
        let view = users::find(&s.pool, &s.keys, caller.user)
            .await
            .map_err(|e| e.gql())?;
        Ok(view.map(|v| User::new(v, true)))
    }

    /// Signed-in users: ACTIVE doctors whose name contains `search`, case- and
    /// accent-insensitively.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
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
                method: s.method,
            })
            .collect())
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub name: String,
    pub role: Role,
    pub phone: Option<String>,
}

#[derive(InputObject)]
pub struct ProfileInput {
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Patients are ACTIVE at once; doctors PENDING until an administrator approves.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<User> {
        let s = services(ctx);
        let registered = s
            .accounts
            .register(RegisterRequest {
                email: input.email,
                password: input.password,
                name: input.name,
                role: DomainRole::from(input.role),
                phone: input.phone,
                via: Registration::Api,
                address: client(ctx).address,
            })
            .await
            .map_err(|e| e.gql())?;
        user_after(s, registered.user.as_uuid(), registered.seq).await
    }

    /// Answers the session token and sets it as an HttpOnly cookie. `otp`: a TOTP code
    /// or a recovery code, for an account with a second factor (without one: FORBIDDEN,
    /// `extensions.reason` MFA_REQUIRED).
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        otp: Option<String>,
    ) -> Result<Session> {
        let s = services(ctx);
        let client = client(ctx);
        let logged_in = s
            .accounts
            .login(LoginRequest {
                email,
                password,
                otp,
                address: client.address,
                user_agent: client.user_agent,
            })
            .await
            .map_err(|e| e.gql())?;
        Ok(Session::signed_in(ctx, &logged_in))
    }

    /// Ends the caller's session and clears the cookie.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        // A session that may only enrol may still sign out.
        let caller = crate::context::enrolling_caller(ctx)?;
        let s = services(ctx);
        s.accounts.logout(&caller).await.map_err(|e| e.gql())?;
        ctx.append_http_header("set-cookie", session_cookie::clear(s.secure_cookies));
        Ok(true)
    }

    /// Ends one of the caller's own sessions.
    async fn revoke_session(&self, ctx: &Context<'_>, id: Uuid) -> Result<bool> {
        let caller = caller(ctx)?;
        services(ctx)
            .accounts
            .revoke_session(&caller, id)
            .await
            .map_err(|e| e.gql())?;
        Ok(true)
    }

    /// Revokes every other session of the caller.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current: String,
        new: String,
    ) -> Result<bool> {
        let caller = caller(ctx)?;
        services(ctx)
            .accounts
            .change_password(&caller, current, new)
            .await
            .map_err(|e| e.gql())?;
        Ok(true)
    }

    /// Mails a one-time link (valid 30 minutes) if the address has an account. Answers
    /// true either way, at once.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> bool {
        services(ctx)
            .accounts
            .request_password_reset(&email, client(ctx).address);
        true
    }

    /// Sets a new password with a mailed token (once); every session ends.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        services(ctx)
            .accounts
            .reset_password(&token, new_password)
            .await
            .map_err(|e| e.gql())?;
        Ok(true)
    }

    /// Asks for a new name and/or phone; it waits for an administrator. One at a time.
    async fn request_profile_change(
        &self,
        ctx: &Context<'_>,
        input: ProfileInput,
    ) -> Result<ProfileChange> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let (change, seq) = s
            .accounts
            .request_profile_change(&caller, input.name.as_deref(), input.phone.as_deref())
            .await
            .map_err(|e| e.gql())?;
        change_after(s, change, seq).await
    }
}
