//! `Session` (what login answers) and `SessionInfo` (one line of `mySessions`).

use super::user::{User, user_after};
use crate::{context::services, error::ToGql as _, scalars::DateTime};
use async_graphql::{Context, Object, Result, SimpleObject};
use domain::account::UserId;
use projections::users;
use uuid::Uuid;

pub struct Session {
    pub token: String,
    pub expires_at: DateTime,
    /// Whose session it is: their view is read only when `user` is asked for.
    pub user_id: Uuid,
}

impl Session {
    /// A sign-in's answer (password or passkey): the token, also set as the HttpOnly
    /// cookie.
    pub fn signed_in(
        ctx: &async_graphql::Context<'_>,
        logged_in: &commands::accounts::LoggedIn,
    ) -> Self {
        let s = services(ctx);
        ctx.append_http_header(
            "set-cookie",
            crate::session_cookie::set(logged_in.token.expose(), s.session_max, s.secure_cookies),
        );
        Self {
            token: logged_in.token.expose().to_owned(),
            expires_at: DateTime(logged_in.expires_at),
            user_id: logged_in.user.as_uuid(),
        }
    }
}

#[Object]
impl Session {
    /// The bearer token; also set as an HttpOnly cookie.
    async fn token(&self) -> &str {
        &self.token
    }

    /// The latest moment the session can last (the absolute limit).
    async fn expires_at(&self) -> DateTime {
        self.expires_at
    }

    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        let s = services(ctx);
        if let Some(view) = users::find(&s.pool, &s.keys, UserId::from_uuid(self.user_id))
            .await
            .map_err(|e| e.gql())?
        {
            return Ok(User::new(view, true));
        }
        // Registered a moment ago by another process (`admin create`): wait for the view
        // to reach the ledger's head, which holds the registration.
        let head = commands::ledger::ledger_head(&s.pool)
            .await
            .map_err(|e| e.gql())?;
        user_after(s, self.user_id, head.seq).await
    }
}

#[derive(SimpleObject)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime,
    pub last_seen_at: DateTime,
    /// When it ends if not used again.
    pub expires_at: DateTime,
    pub current: bool,
    pub user_agent: Option<String>,
    /// How it signed in: "password", "password+totp", "password+recovery-code".
    pub method: String,
}
