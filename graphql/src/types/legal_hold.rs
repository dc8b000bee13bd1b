//! `LegalHold` (API.graphql's erasure block): what administrators see of a hold; the
//! reason stays sealed on the ledger.

use super::user::User;
use crate::error::{ToGql as _, missing_from_view};
use crate::loaders;
use crate::scalars::DateTime;
use async_graphql::{Context, Object, Result};
use projections::legal_holds::LegalHoldView;
use uuid::Uuid;

pub struct LegalHold(pub LegalHoldView);

#[Object]
impl LegalHold {
    async fn id(&self) -> Uuid {
        self.0.id
    }

    /// `user-<id>` or `record-<id>`.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    async fn placed_by(&self, ctx: &Context<'_>) -> Result<User> {
        let view = loaders::user(ctx, self.0.placed_by)
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| missing_from_view("user", self.0.placed_by))?;
        // Only administrators see holds, and they see contact details.
        Ok(User::new(view, true))
    }

    async fn placed_at(&self) -> DateTime {
        DateTime(self.0.placed_at())
    }

    async fn lifted_at(&self) -> Option<DateTime> {
        self.0.lifted_at().map(DateTime)
    }

    /// Whether it still stands.
    async fn active(&self) -> bool {
        self.0.lifted_at.is_none()
    }
}
