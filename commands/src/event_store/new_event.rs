//! An event to append: its type, actor and canonical payload, made before it reaches the
//! appender so canonicalisation runs in the caller's task, not in the single appender.

use domain::{
    DomainEvent, EventType,
    event_type::InvalidEventType,
    ledger::{CanonicalPayload, PayloadError},
};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: Uuid,
    pub event_type: EventType,
    pub actor: Option<Uuid>,
    pub payload: CanonicalPayload,
}

impl NewEvent {
    /// Refuses a payload that is not I-JSON (floats, integers beyond ±(2^53−1)).
    pub fn new(
        event_type: EventType,
        actor: Option<Uuid>,
        payload: &Value,
    ) -> Result<Self, PayloadError> {
        Ok(Self {
            id: Uuid::now_v7(),
            event_type,
            actor,
            payload: CanonicalPayload::from_value(payload)?,
        })
    }
}

/// Why an aggregate's event could not become a ledger event: a bug, never the caller's.
#[derive(Debug, thiserror::Error)]
pub enum NewEventError {
    #[error(transparent)]
    Type(#[from] InvalidEventType),
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// The ledger form of what a decision produced, every event by `actor`.
pub fn new_events(
    events: &[impl DomainEvent],
    actor: Option<Uuid>,
) -> Result<Vec<NewEvent>, NewEventError> {
    events
        .iter()
        .map(|e| {
            Ok(NewEvent::new(
                EventType::parse(e.event_type())?,
                actor,
                &e.payload(),
            )?)
        })
        .collect()
}
