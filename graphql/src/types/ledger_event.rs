//! `LedgerEvent`: one row of the ledger as administrators browse it; sealed fields are
//! ciphertext here as they are in the ledger.

use super::user::User;
use crate::error::ToGql as _;
use crate::loaders;
use crate::scalars::{DateTime, Long};
use async_graphql::{ComplexObject, Context, Result, SimpleObject};
use commands::RecordedEvent;
use uuid::Uuid;

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct LedgerEvent {
    pub seq: Long,
    pub id: Uuid,
    pub stream: String,
    pub version: i32,
    #[graphql(name = "type")]
    pub event_type: String,
    pub actor: Option<Uuid>,
    pub at: DateTime,
    pub payload: crate::scalars::JsonValue,
    pub prev_hash: String,
    pub hash: String,
}

#[ComplexObject]
impl LedgerEvent {
    /// The account `actor` names, so the ledger pages name people (administrators only
    /// browse the ledger, and they see everyone's name); null for the system or an id
    /// the users view does not hold.
    async fn actor_user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(actor) = self.actor else {
            return Ok(None);
        };
        Ok(loaders::user(ctx, actor)
            .await
            .map_err(|e| e.gql())?
            .map(|view| User::new(view, true)))
    }
}

impl From<RecordedEvent> for LedgerEvent {
    fn from(e: RecordedEvent) -> Self {
        Self {
            seq: Long(e.seq),
            id: e.id,
            stream: e.stream,
            version: e.version,
            event_type: e.event_type,
            actor: e.actor,
            at: DateTime(e.at),
            payload: crate::scalars::JsonValue(e.payload),
            prev_hash: e.prev_hash.to_hex(),
            hash: e.hash.to_hex(),
        }
    }
}
