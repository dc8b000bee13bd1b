//! `Session` (what login answers) and `SessionInfo` (one line of `mySessions`).

use super::user::User;
use crate::scalars::DateTime;
use async_graphql::{Object, SimpleObject};
use uuid::Uuid;

pub struct Session {
    pub token: String,
    pub expires_at: DateTime,
    pub user: User,
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

    async fn user(&self) -> &User {
        &self.user
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
}
