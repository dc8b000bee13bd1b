//! `Mutation`: each resolver parses nothing itself (the command layer does), runs one
//! command, waits for the views it reads (read-your-writes), and answers.

use crate::{
    context::{READ_YOUR_WRITES, Services, admin, caller, client, services},
    error::{Code, ToGql as _, error, missing_from_view},
    scalars::DateTime,
    session_cookie,
    types::{
        enums::Role,
        profile_change::ProfileChange,
        session::Session,
        user::{User, user_after},
    },
};
use async_graphql::{Context, InputObject, Object, Result};
use commands::accounts::{LoginRequest, RegisterRequest};
use domain::account::{Role as DomainRole, UserId, user::Registration};
use projections::users;
use uuid::Uuid;

#[derive(Default)]
pub struct AccountMutation;

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

#[Object]
impl AccountMutation {
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
            })
            .await
            .map_err(|e| e.gql())?;
        user_after(s, registered.user.as_uuid(), registered.seq).await
    }

    /// Answers the session token and sets it as an HttpOnly cookie.
    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<Session> {
        let s = services(ctx);
        let client = client(ctx);
        let logged_in = s
            .accounts
            .login(LoginRequest {
                email,
                password,
                address: client.address,
                user_agent: client.user_agent,
            })
            .await
            .map_err(|e| e.gql())?;
        ctx.append_http_header(
            "set-cookie",
            session_cookie::set(logged_in.token.expose(), s.session_max, s.secure_cookies),
        );
        Ok(Session {
            token: logged_in.token.expose().to_owned(),
            expires_at: DateTime(logged_in.expires_at),
            user_id: logged_in.user.as_uuid(),
        })
    }

    /// Mails a one-time link (valid 30 minutes) if the address has an account. Answers
    /// true either way, at once.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> bool {
        services(ctx).accounts.request_password_reset(&email);
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

    /// Ends the caller's session and clears the cookie.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let caller = caller(ctx)?;
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

    /// Administrators: let a pending account in.
    async fn approve_user(&self, ctx: &Context<'_>, user_id: Uuid) -> Result<User> {
        let admin = caller(ctx)?;
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
        let admin = caller(ctx)?;
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
        let admin = caller(ctx)?;
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
    async fn erase_user(&self, ctx: &Context<'_>, user_id: Uuid, reason: String) -> Result<User> {
        let admin = admin(ctx)?;
        let s = services(ctx);
        let active_admins = users::count(
            &s.pool,
            Some(DomainRole::Admin),
            Some(domain::account::AccountStatus::Active),
        )
        .await
        .map_err(|e| e.gql())?;
        let seq = s
            .accounts
            .erase_user(
                &admin,
                UserId::from_uuid(user_id),
                &reason,
                usize::try_from(active_admins).unwrap_or(0),
            )
            .await
            .map_err(|e| e.gql())?;
        // Their records go the same way, each with its own RecordErased (their data keys
        // were unreadable from the moment the subject key went).
        let records_seq = s
            .records
            .erase_all_of(admin.viewer(), UserId::from_uuid(user_id), &reason)
            .await
            .map_err(|e| e.gql())?;
        s.projections
            .wait_for(&["records"], records_seq, READ_YOUR_WRITES)
            .await
            .map_err(|e| e.gql())?;
        user_after(s, user_id, seq).await
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
}

/// The profile change once the view has reached `seq`.
async fn change_after(s: &Services, change: Uuid, seq: i64) -> Result<ProfileChange> {
    s.projections
        .wait_for(&["users"], seq, READ_YOUR_WRITES)
        .await
        .map_err(|e| e.gql())?;
    let view = users::find_change(&s.pool, &s.keys, change)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("profile change", change))?;
    Ok(ProfileChange(view))
}
