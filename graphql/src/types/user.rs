//! `User`: what a viewer may see of a person. Name for anyone who can see the user;
//! e-mail and phone for the user themself and administrators (API.graphql).

use super::enums::{AccountStatus, Role};
use super::page::page;
use super::page::time_id_cursor;
use super::profile_change::ProfileChange;
use crate::scalars::DateTime;
use crate::{
    context::{Services, services},
    error::{ToGql as _, missing_from_view},
};
use async_graphql::{Context, Object, Result};
use domain::{
    account::{UserId, sees_contact_details},
    record::Viewer,
};
use projections::users::{self, UserView};
use uuid::Uuid;

pub struct User {
    view: UserView,
    sees_contact: bool,
}

impl User {
    /// `sees_contact`: the viewer is this user or an administrator.
    pub fn new(view: UserView, sees_contact: bool) -> Self {
        Self { view, sees_contact }
    }
}

/// The user as they and administrators see them, once the users view has reached `seq`
/// (read-your-writes after a mutation).
pub(crate) async fn user_after(s: &Services, user_id: Uuid, seq: i64) -> Result<User> {
    s.caught_up(&["users"], seq).await?;
    let view = users::find(&s.pool, &s.keys, UserId::from_uuid(user_id))
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("user", user_id))?;
    Ok(User::new(view, true))
}

#[Object]
impl User {
    async fn id(&self) -> Uuid {
        self.view.id
    }

    async fn role(&self) -> Role {
        self.view.role.into()
    }

    async fn status(&self) -> AccountStatus {
        self.view.status.into()
    }

    /// Null once erased.
    async fn name(&self) -> Option<&str> {
        self.view.name.as_deref()
    }

    /// Visible to the user themself and to admins.
    async fn email(&self) -> Option<&str> {
        self.view.email.as_deref().filter(|_| self.sees_contact)
    }

    /// Visible to the user themself and to admins.
    async fn phone(&self) -> Option<&str> {
        self.view.phone.as_deref().filter(|_| self.sees_contact)
    }

    /// Relative URL of the profile photo (same auth as the API); null while there is
    /// none, and once erased.
    async fn photo_url(&self) -> Option<String> {
        self.view
            .has_photo
            .then(|| format!("/api/users/{}/photo", self.view.id))
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.view.created_at)
    }

    /// The change waiting for an administrator; for the user themself and admins.
    async fn pending_profile_change(&self, ctx: &Context<'_>) -> Result<Option<ProfileChange>> {
        if !self.sees_contact {
            return Ok(None);
        }
        let s = services(ctx);
        let change = users::pending_change_of(&s.pool, &s.keys, UserId::from_uuid(self.view.id))
            .await
            .map_err(|e| e.gql())?;
        Ok(change.map(ProfileChange))
    }
}

#[derive(async_graphql::SimpleObject)]
pub struct UserEdge {
    pub cursor: String,
    pub node: User,
}

#[derive(async_graphql::SimpleObject)]
pub struct UserConnection {
    pub edges: Vec<UserEdge>,
    pub page_info: super::page::PageInfo,
    pub total_count: i32,
}

/// A page of users as a connection: `views` holds up to `limit + 1` rows (the extra one
/// only says there is a next page); `total` is every match.
pub(crate) fn user_page(
    views: Vec<UserView>,
    limit: i64,
    total: i64,
    viewer: Viewer,
) -> UserConnection {
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
