//! `ProfileChange`: seen only by its user and by administrators (the only callers that
//! can reach one), so its requested fields are shown opened.

use super::{page::PageInfo, user::User};
use crate::{
    context::Services,
    error::{Code, ToGql as _, error, missing_from_view},
    loaders,
    scalars::DateTime,
};
use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use projections::users::{self, ChangeView};
use uuid::Uuid;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ProfileChangeStatus")]
pub enum ProfileChangeStatus {
    Pending,
    Approved,
    Rejected,
}

pub struct ProfileChange(pub ChangeView);

#[Object]
impl ProfileChange {
    async fn id(&self) -> Uuid {
        self.0.id
    }

    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        let view = loaders::user(ctx, self.0.user_id)
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| error(Code::NotFound, "there is no such user"))?;
        Ok(User::new(view, true))
    }

    /// The name asked for (null: unchanged, or erased).
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The phone asked for (null: unchanged, or erased).
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    async fn status(&self) -> ProfileChangeStatus {
        match self.0.status.as_str() {
            "APPROVED" => ProfileChangeStatus::Approved,
            "REJECTED" => ProfileChangeStatus::Rejected,
            _ => ProfileChangeStatus::Pending,
        }
    }

    async fn requested_at(&self) -> DateTime {
        DateTime(self.0.requested_at)
    }

    async fn decided_at(&self) -> Option<DateTime> {
        self.0.decided_at.map(DateTime)
    }

    /// Why it was rejected.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct ProfileChangeEdge {
    pub cursor: String,
    pub node: ProfileChange,
}

#[derive(SimpleObject)]
pub struct ProfileChangeConnection {
    pub edges: Vec<ProfileChangeEdge>,
    pub page_info: PageInfo,
}

/// The profile change once the view has reached `seq`.
pub(crate) async fn change_after(s: &Services, change: Uuid, seq: i64) -> Result<ProfileChange> {
    s.caught_up(&["users"], seq).await?;
    let view = users::find_change(&s.pool, &s.keys, change)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("profile change", change))?;
    Ok(ProfileChange(view))
}
