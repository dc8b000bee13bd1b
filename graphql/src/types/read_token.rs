//! `ReadToken` and `NewReadToken` (API.graphql): an app's credential for the FHIR API, as
//! its person lists it; the secret only in `NewReadToken`, once.

use crate::scalars::DateTime;
use async_graphql::SimpleObject;
use uuid::Uuid;

#[derive(SimpleObject)]
pub struct ReadToken {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime,
    pub expires_at: DateTime,
    pub last_used_at: Option<DateTime>,
    pub revoked_at: Option<DateTime>,
}

impl From<commands::accounts::ReadTokenInfo> for ReadToken {
    fn from(t: commands::accounts::ReadTokenInfo) -> Self {
        Self {
            id: t.id,
            name: t.name,
            created_at: DateTime(t.created_at),
            expires_at: DateTime(t.expires_at),
            last_used_at: t.last_used_at.map(DateTime),
            revoked_at: t.revoked_at.map(DateTime),
        }
    }
}

/// A token just made: `secret` is shown here and never again.
#[derive(SimpleObject)]
pub struct NewReadToken {
    pub token: ReadToken,
    pub secret: String,
}
