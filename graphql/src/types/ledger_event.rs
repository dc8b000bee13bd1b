//! `LedgerEvent`: one row of the ledger as administrators browse it; sealed fields are
//! ciphertext here as they are in the ledger.

use crate::scalars::{DateTime, Long};
use async_graphql::{Json, SimpleObject};
use commands::RecordedEvent;
use uuid::Uuid;

#[derive(SimpleObject)]
pub struct LedgerEvent {
    pub seq: Long,
    pub id: Uuid,
    pub stream: String,
    pub version: i32,
    #[graphql(name = "type")]
    pub event_type: String,
    pub actor: Option<Uuid>,
    pub at: DateTime,
    pub payload: Json<serde_json::Value>,
    pub prev_hash: String,
    pub hash: String,
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
            payload: Json(e.payload),
            prev_hash: e.prev_hash.to_hex(),
            hash: e.hash.to_hex(),
        }
    }
}
